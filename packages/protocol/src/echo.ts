/**
 * The echo protocol: every byte received is sent back, unchanged and in order — or, with a
 * codec, every frame received is sent back as one frame.
 *
 * The smallest possible protocol, used to measure a model's raw I/O cost without HTTP parsing.
 * With a codec (`--codec line`, ...) it shows framing at work: whatever the reads, each whole
 * frame is answered once, and a frame over the maximum closes that connection and no other.
 * Threading: a session belongs to the thread serving its connection.
 */
import { writeSync } from 'node:fs';
import { receiveFrames, type Codec, type FrameDecoder, type FrameReceiver } from './codec/index.js';
import type { PeerInfo, Protocol, Session, Sink } from './session.js';

class EchoSession implements Session {
  /** Echo has no requests: there is never one half-read. */
  readonly midRequest = false;
  readonly awaiting = false;
  /** Never: the model's own high-water mark stops reading while echoed bytes pile up. */
  readonly paused = false;

  constructor(private readonly sink: Sink) {}

  receive(data: Uint8Array): void {
    // `data` views the model's reusable read buffer; the sink keeps what it is given: copy.
    // (`new Uint8Array(view)` copies; Buffer#slice would not.)
    this.sink.write(new Uint8Array(data));
  }

  peerClosed(): void {
    this.sink.end(); // everything received was already queued
  }

  drained(): void {
    // Nothing held back: the model stops reading while output piles up.
  }

  close(): void {
    // Nothing held.
  }
}

// #region framed-echo
/** Echo, frame by frame: decode what arrives, send each whole frame back encoded. */
class FramedEchoSession implements Session, FrameReceiver {
  readonly awaiting = false;
  /** Never: as for raw echo, the model's high-water mark is the back-pressure. */
  readonly paused = false;
  private readonly decoder: FrameDecoder;
  private ended = false;

  constructor(private readonly sink: Sink, private readonly codec: Codec, private readonly peer: PeerInfo | undefined, private readonly log: (line: string) => void) {
    this.decoder = codec.decoder();
  }

  /** Mid-frame while a partial frame is held: a client that stops halfway meets the header timeout. */
  get midRequest(): boolean {
    return !this.ended && this.decoder.buffered > 0;
  }

  receive(data: Uint8Array): void {
    if (this.ended) return; // closing: what the peer still sends is not framed any more
    receiveFrames(this.decoder, data, this);
  }

  get stopped(): boolean {
    return this.ended;
  }

  onFrame(frame: Uint8Array): void {
    this.sink.write(this.codec.encode(frame)); // a new buffer: the frame views the decoder's
  }

  /** The frames before this one are answered, then close. */
  onFrameError(reason: string): void {
    const who = this.peer ? `${this.peer.address}:${this.peer.port}` : 'a client';
    this.log(`echo: closing ${who}: ${reason} (codec ${this.codec.spec})`);
    this.ended = true;
    this.sink.end();
  }

  peerClosed(): void {
    // A partial frame at end of stream is no frame: dropped, as netty's decoders drop it.
    this.ended = true;
    this.sink.end();
  }

  drained(): void {
    // Nothing held back.
  }

  close(): void {
    this.ended = true;
  }
}
// #endregion framed-echo

export interface EchoOptions {
  /** Frame the stream with this codec; null or absent: raw bytes. */
  codec?: Codec | null;
  /** Where a framing error's one line goes (default: stderr, synchronously: models block their thread). */
  log?: (line: string) => void;
}

/** The echo protocol. Stateless, so one instance can serve every connection of a thread. */
export function echoProtocol(options: EchoOptions = {}): Protocol {
  const codec = options.codec ?? null;
  const log = options.log ?? ((line: string) => { writeSync(2, line + '\n'); });
  return {
    name: 'echo',
    scheme: 'tcp',
    ...(codec ? { codec: codec.spec } : {}),
    open(sink: Sink, peer?: PeerInfo): Session {
      return codec ? new FramedEchoSession(sink, codec, peer, log) : new EchoSession(sink);
    },
  };
}
