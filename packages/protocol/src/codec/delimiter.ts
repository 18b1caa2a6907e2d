/**
 * Delimiter framing: a frame is the bytes before a delimiter (netty's DelimiterBasedFrameDecoder,
 * gnet's DelimiterBasedFrameCodec), and `line` is the delimiter `\n` with a `\r` before it
 * dropped too (netty's LineBasedFrameDecoder), so `nc` and telnet clients both work.
 *
 * Encoding appends the delimiter (`\n` for line). Decoding strips it.
 *
 * Threading: see codec.ts (codecs are shared; a decoder belongs to its connection's thread).
 */
import { Buffer } from 'node:buffer';
import { QueueDecoder, tooLong, type Codec, type FrameDecoder, type FrameError } from './codec.js';

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from([CR, LF]);

// #region delimiter-decoder
class DelimiterDecoder extends QueueDecoder {
  /**
   * How far the queue has been searched without finding the delimiter. The next search resumes
   * just before it (a delimiter may straddle two reads), so a frame arriving a byte at a time is
   * scanned once in all, not once per read.
   */
  private scanned = 0;

  constructor(private readonly delimiter: Buffer, private readonly max: number, private readonly line: boolean) {
    super();
  }

  protected frame(): Uint8Array | FrameError | null {
    const q = this.queue;
    const at = q.indexOf(this.delimiter, Math.max(0, this.scanned - (this.delimiter.length - 1)));
    if (at === -1) {
      this.scanned = q.length;
      // No delimiter yet. Held bytes may end in a partial delimiter (for line, a `\r`) and still
      // be a frame within the maximum; beyond that allowance it can only be too long.
      const allowance = this.line ? (q.at(q.length - 1) === CR ? 1 : 0) : this.delimiter.length - 1;
      if (q.length <= this.max + allowance) return null;
      return { frameError: 'too-long', reason: `${q.length} bytes without a delimiter exceed max frame ${this.max}` };
    }
    const length = this.line && at > 0 && q.at(at - 1) === CR ? at - 1 : at;
    if (length > this.max) return tooLong(length, this.max);
    const frame = q.view(0, length);
    q.consume(at + this.delimiter.length);
    this.scanned = 0;
    return frame;
  }
}
// #endregion delimiter-decoder

class DelimiterCodec implements Codec {
  constructor(readonly spec: string, private readonly delimiter: Buffer, readonly maxFrameLength: number, private readonly line: boolean) {
    if (!Number.isSafeInteger(maxFrameLength) || maxFrameLength < 1) throw new RangeError(`max must be a positive integer, got ${maxFrameLength}`);
  }

  decoder(): FrameDecoder {
    return new DelimiterDecoder(this.delimiter, this.maxFrameLength, this.line);
  }

  encode(frame: Uint8Array): Uint8Array {
    if (frame.length > this.maxFrameLength) throw new RangeError(`frame of ${frame.length} bytes exceeds max ${this.maxFrameLength}`);
    // A line ending in `\r` gets `\r\n`: the decoder drops one `\r` before the `\n`, and must not eat the frame's own.
    const end = this.line && frame.length > 0 && frame[frame.length - 1] === CR ? CRLF : this.delimiter;
    const out = Buffer.allocUnsafe(frame.length + end.length);
    out.set(frame, 0);
    out.set(end, frame.length);
    // The decoder cuts at the FIRST delimiter, so it must be the one just appended: this rejects
    // a frame holding the delimiter, and one ending in its start (`xa` before the delimiter `aa`).
    if (out.indexOf(this.delimiter) !== out.length - this.delimiter.length) {
      throw new RangeError(`this frame cannot be sent: its own bytes would end it early at the delimiter ${escapeBytes(this.delimiter)}`);
    }
    return out;
  }
}

/** Lines ending in `\n` or `\r\n`, at most `max` bytes each (the end of line not counted). */
export function lineCodec(max: number): Codec {
  return new DelimiterCodec(`line:max=${max}`, Buffer.from([LF]), max, true);
}

/** Frames ending in `delimiter` (one byte or more), at most `max` bytes each (the delimiter not counted). */
export function delimiterCodec(delimiter: Uint8Array, max: number): Codec {
  if (delimiter.length === 0) throw new RangeError('the delimiter must not be empty');
  return new DelimiterCodec(`delimiter:${escapeBytes(delimiter)},max=${max}`, Buffer.from(delimiter), max, false);
}

/** Bytes as the spec writes them: printable ASCII as is, `\n` `\r` `\t` `\\`, others (and `,` `=`) `\xHH`. */
export function escapeBytes(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b === LF) s += '\\n';
    else if (b === CR) s += '\\r';
    else if (b === 0x09) s += '\\t';
    else if (b === 0x5c) s += '\\\\';
    else if (b > 0x20 && b < 0x7f && b !== 0x2c && b !== 0x3d) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}
