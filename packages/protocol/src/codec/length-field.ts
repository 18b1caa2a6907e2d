/**
 * Length-field framing, with netty's knobs (LengthFieldBasedFrameDecoder; gnet's
 * LengthFieldBasedFrameCodec). A frame on the wire is
 *
 *   | offset bytes | length field: size bytes, value L | the rest |
 *   <-------------------- frame length F = offset + size + L + adjust ------------------->
 *   <-- strip --><--------------- the decoded frame: bytes [strip, F) ------------------->
 *
 * - `offset`: bytes before the length field (a type or version byte, say);
 * - `size`: the field's width, 1, 2, 4 or 8 bytes, unsigned, `endian` big or little;
 * - `adjust`: added to L to get the bytes after the field (-size when L counts the field too,
 *   -(offset + size) when it counts the whole header);
 * - `strip`: bytes dropped from the front of the decoded frame (offset + size: just the rest);
 * - `max`: the largest F accepted. Checked as soon as the header is in, before the rest is
 *   buffered, so a peer cannot make the server hold more than `max` bytes for it.
 *
 * A field that gives F < offset + size (negative after adjustment), or F < strip, or F > max, is
 * a FrameError: the stream cannot be resynchronised, the connection is closed.
 *
 * Encoding is the inverse: `strip` zero bytes (the stripped header, whose bytes are not part of
 * the frame), then the frame, then L = F - offset - size - adjust written at `offset`. When the
 * frame keeps part of the header (strip < offset + size), encoding overwrites the length field in
 * it, so the frame's own field never disagrees with its size.
 *
 * Threading: see codec.ts (codecs are shared; a decoder belongs to its connection's thread).
 */
import { Buffer } from 'node:buffer';
import { QueueDecoder, tooLong, type Codec, type FrameDecoder, type FrameError } from './codec.js';

export interface LengthFieldOptions {
  offset: number;
  size: 1 | 2 | 4 | 8;
  endian: 'be' | 'le';
  adjust: number;
  strip: number;
  max: number;
}

/** A plain 4-byte big-endian length prefix, stripped: the frame is the payload. */
export const LENGTH_FIELD_DEFAULTS: LengthFieldOptions = Object.freeze({ offset: 0, size: 4, endian: 'be', adjust: 0, strip: 4, max: 1024 * 1024 });

/** 2^53 as a 64-bit field's high word: values from here on are not safe integers (and far over any max). */
const UNSAFE_HIGH = 0x200000;

// #region length-field-decoder
class LengthFieldDecoder extends QueueDecoder {
  private readonly headerEnd: number;

  constructor(private readonly o: LengthFieldOptions) {
    super();
    this.headerEnd = o.offset + o.size;
  }

  protected frame(): Uint8Array | FrameError | null {
    const { o, queue } = this;
    if (queue.length < this.headerEnd) return null;
    const field = readField(queue.view(o.offset, this.headerEnd), o);
    const frameLength = field + o.adjust + this.headerEnd;
    if (frameLength < this.headerEnd) {
      return { frameError: 'bad-length', reason: `length field ${field} with adjust ${o.adjust} is negative (${frameLength - this.headerEnd})` };
    }
    if (frameLength > o.max) return tooLong(frameLength, o.max);
    if (frameLength < o.strip) {
      return { frameError: 'bad-length', reason: `frame of ${frameLength} bytes is shorter than the ${o.strip} bytes to strip` };
    }
    if (queue.length < frameLength) return null; // the rest is on its way; at most max bytes held
    const frame = queue.view(o.strip, frameLength);
    queue.consume(frameLength);
    return frame;
  }
}
// #endregion length-field-decoder

/** The unsigned field; a 64-bit value beyond 2^53 reads as Infinity (it is over every max). */
function readField(b: Buffer, o: LengthFieldOptions): number {
  const be = o.endian === 'be';
  switch (o.size) {
    case 1: return b[0]!;
    case 2: return be ? b.readUInt16BE(0) : b.readUInt16LE(0);
    case 4: return be ? b.readUInt32BE(0) : b.readUInt32LE(0);
    case 8: {
      const high = be ? b.readUInt32BE(0) : b.readUInt32LE(4);
      const low = be ? b.readUInt32BE(4) : b.readUInt32LE(0);
      return high >= UNSAFE_HIGH ? Infinity : high * 2 ** 32 + low;
    }
  }
}

function writeField(b: Buffer, at: number, value: number, o: LengthFieldOptions): void {
  const be = o.endian === 'be';
  switch (o.size) {
    case 1: b[at] = value; break;
    case 2: if (be) b.writeUInt16BE(value, at); else b.writeUInt16LE(value, at); break;
    case 4: if (be) b.writeUInt32BE(value, at); else b.writeUInt32LE(value, at); break;
    case 8: {
      const high = Math.floor(value / 2 ** 32);
      const low = value % 2 ** 32;
      if (be) { b.writeUInt32BE(high, at); b.writeUInt32BE(low, at + 4); } else { b.writeUInt32LE(low, at); b.writeUInt32LE(high, at + 4); }
    }
  }
}

/** Frames carrying their length in a header field. Throws a RangeError for options that can frame nothing. */
export function lengthFieldCodec(options: Partial<LengthFieldOptions> = {}): Codec {
  const size = options.size ?? LENGTH_FIELD_DEFAULTS.size;
  const offset = options.offset ?? LENGTH_FIELD_DEFAULTS.offset;
  // Stripping the whole header is the common case, whatever its shape.
  const o: LengthFieldOptions = Object.freeze({ ...LENGTH_FIELD_DEFAULTS, strip: offset + size, ...options });
  validate(o);
  const headerEnd = o.offset + o.size;
  const fieldLimit = o.size === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * o.size) - 1;
  return {
    spec: `length:offset=${o.offset},size=${o.size},endian=${o.endian},adjust=${o.adjust},strip=${o.strip},max=${o.max}`,
    maxFrameLength: o.max,
    decoder: (): FrameDecoder => new LengthFieldDecoder(o),
    // #region length-field-encode
    encode(frame: Uint8Array): Uint8Array {
      const frameLength = o.strip + frame.length;
      if (frameLength > o.max) throw new RangeError(`frame of ${frameLength} bytes exceeds max ${o.max}`);
      if (frameLength < headerEnd) throw new RangeError(`a frame must hold the ${headerEnd - o.strip} header bytes not stripped, got ${frame.length}`);
      const field = frameLength - headerEnd - o.adjust;
      if (field < 0 || field > fieldLimit) throw new RangeError(`length ${field} does not fit a ${o.size}-byte field`);
      const out = Buffer.alloc(frameLength); // zeros: the stripped header bytes besides the field
      out.set(frame, o.strip);
      writeField(out, o.offset, field, o);
      return out;
    },
    // #endregion length-field-encode
  };
}

function validate(o: LengthFieldOptions): void {
  const nonNegative = (name: keyof LengthFieldOptions, v: number): void => {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
  };
  if (![1, 2, 4, 8].includes(o.size)) throw new RangeError(`size must be 1, 2, 4 or 8, got ${o.size}`);
  if (o.endian !== 'be' && o.endian !== 'le') throw new RangeError(`endian must be be or le, got ${String(o.endian)}`);
  nonNegative('offset', o.offset);
  nonNegative('strip', o.strip);
  nonNegative('max', o.max);
  if (!Number.isSafeInteger(o.adjust)) throw new RangeError(`adjust must be an integer, got ${o.adjust}`);
  if (o.max < o.offset + o.size) throw new RangeError(`max ${o.max} is smaller than the header (offset + size = ${o.offset + o.size}): no frame fits`);
  if (o.strip > o.max) throw new RangeError(`strip ${o.strip} is larger than max ${o.max}: no frame fits`);
}
