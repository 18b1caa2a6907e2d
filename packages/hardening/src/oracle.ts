/**
 * What a running server *should* answer to some bytes, decided in-process by the very code every
 * model runs: @course/protocol's RequestParser (the framing) and its HTTP session (the answers).
 *
 * A model only moves bytes between a socket and a Session; it must not change what they mean. So
 * the strongest black-box check of a model is: send raw bytes, half-close, and compare what comes
 * back with what the protocol answers in-process to the same bytes followed by `peerClosed()`.
 * Any difference is the model's doing — a lost or reordered response, a request framed across a
 * read boundary differently, a connection not closed, a response cut short.
 *
 * The protocol's own verdicts are checked against llhttp and the RFCs in packages/protocol's
 * tests; here they are the reference.
 *
 * Threading: an Oracle holds a protocol instance (with its file cache); use it from one thread.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import { RequestParser, httpProtocol, isParseError, type HttpParseError, type HttpRequest, type Protocol, type Sink } from '@course/protocol';
import { parseResponses, type ParsedResponse } from '@course/testkit';

/** How the parser sees a byte stream. */
export interface Framing {
  /** Complete requests, in order. */
  requests: HttpRequest[];
  /** The stream is malformed after those requests ('error'), stops inside one ('incomplete'), or between two ('idle'). */
  end: 'error' | 'incomplete' | 'idle';
  error: HttpParseError | null;
}

export interface Expected extends Framing {
  /** The answers, in order: one per request, plus the error's if the stream is malformed. */
  responses: ParsedResponse[];
  /** `headRequests[i]`: the i-th answer is to a HEAD (no body despite Content-Length); for parseResponses. */
  headRequests: boolean[];
}

/** Frame `bytes` with a fresh parser (default limits, as every model uses). */
export function frame(bytes: Uint8Array): Framing {
  const parser = new RequestParser();
  parser.push(bytes);
  const requests: HttpRequest[] = [];
  for (let r = parser.next(); r !== null; r = parser.next()) {
    if (isParseError(r)) return { requests, end: 'error', error: r };
    requests.push(r);
  }
  return { requests, end: parser.midRequest ? 'incomplete' : 'idle', error: null };
}

/** Collects what a session answers. sendFile is read back at once and the fd closed, as a real sink would. */
class CollectingSink implements Sink {
  readonly chunks: Buffer[] = [];
  ended = false;
  readonly pendingBytes = 0;

  write(bytes: Uint8Array): void {
    this.chunks.push(Buffer.from(bytes));
  }

  sendFile(fd: number, offset: number, length: number): void {
    const data = Buffer.alloc(length);
    let got = 0;
    try {
      while (got < length) {
        const n = fs.readSync(fd, data, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    this.chunks.push(data.subarray(0, got));
  }

  end(): void {
    this.ended = true;
  }
}

export class Oracle {
  private readonly protocol: Protocol;

  /** `root`: the same document root the server under test was started with. */
  constructor(readonly root: string) {
    this.protocol = httpProtocol({ root });
  }

  /** What a server must answer to `bytes` sent on a fresh connection and then half-closed. */
  expect(bytes: Uint8Array): Expected {
    const framing = frame(bytes);
    const sink = new CollectingSink();
    const session = this.protocol.open(sink);
    // The sink takes everything at once (nothing is ever pending), so a session never has a
    // reason to hold requests back; `drained()` is called anyway, as a model would after a flush.
    session.receive(bytes);
    session.drained();
    session.peerClosed();
    session.drained();
    session.close();
    if (!sink.ended) throw new Error('oracle: the session did not end the connection after a half-close');
    const headRequests = framing.requests.map((r) => r.method === 'HEAD');
    const { responses, rest } = parseResponses(Buffer.concat(sink.chunks), headRequests);
    if (rest.length > 0) throw new Error(`oracle: ${rest.length} bytes after the last response`);
    return { ...framing, responses, headRequests };
  }
}
