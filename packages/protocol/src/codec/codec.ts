/**
 * Framing codecs: how a byte stream is cut into messages, and how a message is put back on it.
 *
 * TCP delivers bytes, not messages: one read may hold half a frame, or ten frames and a piece of
 * the eleventh. A codec's decoder is fed every read and hands back whole frames; its encoder turns
 * a frame into the bytes to send. The four codecs are netty's and gnet's: line, delimiter, fixed
 * length, length field (line.ts-style files beside this one; the `--codec` spec in spec.ts).
 *
 * Threading: a Codec is immutable and may be shared by every connection of every thread (it is
 * rebuilt from its spec string in each worker thread). A FrameDecoder holds one connection's
 * partial frame and belongs to the thread serving that connection.
 */
import { Buffer } from 'node:buffer';

/** Why a stream cannot be framed any further. The connection must be closed: there is no resync. */
export interface FrameError {
  /** `too-long`: a frame over the maximum; `bad-length`: a length field that makes no frame. */
  readonly frameError: 'too-long' | 'bad-length';
  /** One line for the log, naming the numbers: `frame of 70000 bytes exceeds max 65536`. */
  readonly reason: string;
}

export function isFrameError(x: unknown): x is FrameError {
  return typeof x === 'object' && x !== null && typeof (x as Partial<FrameError>).frameError === 'string';
}

// #region frame-loop
/** Who receives a framed stream's frames (receiveFrames): a framed session, as methods, so that no closure is kept per connection. */
export interface FrameReceiver {
  /** A whole frame: a view, valid during the call. */
  onFrame(frame: Uint8Array): void;
  /** A malformed or oversized frame: the stream cannot be resynchronised, so close the connection. */
  onFrameError(reason: string): void;
  /** True once no more frames should be delivered (the connection is closing). */
  readonly stopped: boolean;
}

/**
 * Feed `data` to `decoder` and hand each whole frame to `to.onFrame` until `to.stopped`; a frame
 * error goes to `to.onFrameError` and ends the loop (the frames before it were delivered). The
 * one decode loop of every framed session (echo, 06's apps).
 */
export function receiveFrames(decoder: FrameDecoder, data: Uint8Array, to: FrameReceiver): void {
  decoder.push(data);
  for (let frame = decoder.next(); frame !== null && !to.stopped; frame = decoder.next()) {
    if (isFrameError(frame)) return to.onFrameError(frame.reason);
    to.onFrame(frame);
  }
}
// #endregion frame-loop

// #region codec-api
/** One framing. Immutable; shared by every connection. */
export interface Codec {
  /** The canonical spec, every default spelt out: `line:max=65536`. Parse it again for the same codec. */
  readonly spec: string;
  /** The largest frame a decoder accepts (for `length`, header included, as netty counts). */
  readonly maxFrameLength: number;
  /** A decoder for one new connection. */
  decoder(): FrameDecoder;
  /**
   * The bytes that carry `frame`: a new buffer, never a view of `frame` (so `frame` may be a view
   * of a read buffer, and the result may be handed to a Sink, which keeps it). Throws a
   * RangeError for a frame this codec cannot carry — one holding the delimiter, of the wrong
   * fixed size, or over the maximum: the peer's decoder would reject it.
   */
  encode(frame: Uint8Array): Uint8Array;
}

/**
 * One connection's decoder: `push` every read, then call `next` until it returns null.
 *
 * A frame returned by `next` is a view of the decoder's buffer, valid until the next `push`:
 * copy what must outlive it (`Codec.encode` copies). After a FrameError the decoder is dead:
 * `next` returns the same error again and `push` ignores its input.
 */
export interface FrameDecoder {
  /** Append bytes read from the peer. `data` is copied; the caller may reuse its buffer at once. */
  push(data: Uint8Array): void;
  /** The next whole frame, a FrameError, or null when the bytes so far end mid-frame. */
  next(): Uint8Array | FrameError | null;
  /** Bytes held that belong to no returned frame yet (a partial frame). Bounded by the maximum plus one read. */
  readonly buffered: number;
}
// #endregion codec-api

/**
 * The bytes a decoder holds: a growable buffer with a read and a write position, so consuming a
 * frame is a pointer move and a push copies only the new bytes. Space is reclaimed by moving the
 * unread tail to the front when a push needs room, or by doubling: each byte is copied an
 * amortised constant number of times, never once per push as `Buffer.concat(held, data)` would
 * re-copy a frame that arrives a byte at a time.
 */
// #region byte-queue
export class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;

  get length(): number {
    return this.end - this.start;
  }

  /** Append a copy of `data`. Invalidates views returned before. */
  push(data: Uint8Array): void {
    if (this.start === this.end) this.start = this.end = 0; // empty: reuse from the front
    if (this.end + data.length > this.buf.length) {
      const held = this.end - this.start;
      if (held + data.length <= this.buf.length >> 1) {
        // At least half the buffer is free once the tail slides to the front (Buffer#copy handles
        // the overlap), so a slide is paid for by the half a buffer of pushes before the next one.
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(held + data.length, this.buf.length * 2, 4096));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.start = 0;
      this.end = held;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** The byte at `i`, counted from the first unread byte. */
  at(i: number): number {
    return this.buf[this.start + i]!;
  }

  /** A view of unread bytes [from, to), valid until the next push. */
  view(from: number, to: number): Buffer {
    return this.buf.subarray(this.start + from, this.start + to);
  }

  /** Where `needle` first occurs at or after `from` within the unread bytes, or -1. */
  indexOf(needle: Uint8Array, from: number): number {
    const i = this.buf.subarray(0, this.end).indexOf(needle, this.start + from);
    return i === -1 ? -1 : i - this.start;
  }

  /** Drop the first `n` unread bytes (views handed out stay valid: nothing is overwritten). */
  consume(n: number): void {
    this.start += n;
  }

  /** Forget everything held (a dead decoder keeps no memory). */
  clear(): void {
    this.buf = Buffer.alloc(0);
    this.start = this.end = 0;
  }
}
// #endregion byte-queue

/**
 * What every decoder shares: its queue, and the sticky error. Subclasses implement `frame()`,
 * which looks at the queue and returns a frame, an error, or null.
 */
export abstract class QueueDecoder implements FrameDecoder {
  protected readonly queue = new ByteQueue();
  private error: FrameError | null = null;

  get buffered(): number {
    return this.queue.length;
  }

  push(data: Uint8Array): void {
    if (this.error === null && data.length > 0) this.queue.push(data);
  }

  next(): Uint8Array | FrameError | null {
    if (this.error !== null) return this.error;
    const result = this.frame();
    if (isFrameError(result)) {
      this.error = result;
      this.queue.clear();
    }
    return result;
  }

  protected abstract frame(): Uint8Array | FrameError | null;
}

/** The FrameError for `frameLength` over `max`. */
export function tooLong(frameLength: number, max: number, what = 'frame'): FrameError {
  return { frameError: 'too-long', reason: `${what} of ${frameLength} bytes exceeds max ${max}` };
}
