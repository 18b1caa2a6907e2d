/**
 * Fixed-length framing: every frame is exactly N bytes (netty's FixedLengthFrameDecoder, gnet's
 * FixedLengthFrameCodec). Encoding checks the size and copies; nothing is added on the wire.
 *
 * Threading: see codec.ts (codecs are shared; a decoder belongs to its connection's thread).
 */
import { QueueDecoder, type Codec, type FrameDecoder, type FrameError } from './codec.js';

// #region fixed-decoder
class FixedDecoder extends QueueDecoder {
  constructor(private readonly size: number) {
    super();
  }

  /** Never an error: held bytes are fewer than one frame, so they are bounded by construction. */
  protected frame(): Uint8Array | FrameError | null {
    if (this.queue.length < this.size) return null;
    const frame = this.queue.view(0, this.size);
    this.queue.consume(this.size);
    return frame;
  }
}
// #endregion fixed-decoder

/** Frames of exactly `size` bytes. */
export function fixedCodec(size: number): Codec {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`the frame size must be a positive integer, got ${size}`);
  return {
    spec: `fixed:${size}`,
    maxFrameLength: size,
    decoder: (): FrameDecoder => new FixedDecoder(size),
    encode(frame: Uint8Array): Uint8Array {
      if (frame.length !== size) throw new RangeError(`a fixed:${size} frame must be ${size} bytes, got ${frame.length}`);
      return new Uint8Array(frame); // a copy: the sink keeps what it is given
    },
  };
}
