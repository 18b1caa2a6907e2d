/**
 * The echo protocol: every byte received is sent back, unchanged and in order.
 *
 * The smallest possible protocol, used to measure a model's raw I/O cost without HTTP parsing.
 * Threading: a session belongs to the thread serving its connection.
 */
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

/** The echo protocol. Stateless, so one instance can serve every connection. */
export function echoProtocol(): Protocol {
  return {
    name: 'echo',
    scheme: 'tcp',
    open(sink: Sink, _peer?: PeerInfo): Session {
      return new EchoSession(sink);
    },
  };
}
