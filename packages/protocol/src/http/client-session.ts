/**
 * The client's side of one HTTP/1.1 connection: a `Session` that writes requests and parses the
 * responses, so that a connection a client opened runs in the same models, through the same seam,
 * as a connection a server accepted.
 *
 *   request(bytes, done) → sink.write (the model sends it) ... receive(bytes) → ResponseParser
 *                        → done(null, response), in request order
 *
 * Pipelining: requests may be written before the earlier ones are answered; HTTP/1.1 answers them
 * in order, so the callbacks wait in a FIFO and the parser's n-th response goes to the n-th
 * callback. A response that closes the connection (`Connection: close`, HTTP/1.0, a body framed
 * by the close) fails every request written after it: the server will not read them.
 *
 * Threading: like every Session, it belongs to the thread that serves the connection; `request`
 * must be called there too, and callbacks run there.
 */
import type { Session, Sink } from '../session.js';
import { ResponseParser, type ParsedResponse, type ResponseHandler } from './response-parser.js';

/** A response the client keeps: its own copy, unlike the parser's reused `ParsedResponse`. */
export interface HttpResponse {
  status: number;
  versionMinor: number;
  keepAlive: boolean;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** Told once, when the request's response came (err null) or cannot come (err says why). */
export type ResponseCallback = (err: Error | null, res?: HttpResponse) => void;

export interface RequestOptions {
  method?: string;
  /** The request-target, e.g. `/index.html`. */
  target: string;
  /** The Host field: `127.0.0.1:8080`. */
  host: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Ask the server to close after answering (`Connection: close`). */
  close?: boolean;
}

/**
 * The bytes of one request, encoded once (a load generator sends the same bytes again and again).
 * Throws TypeError for a method, target or header that would split the request.
 */
export function encodeRequest(opts: RequestOptions): Buffer {
  const method = opts.method ?? 'GET';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) throw new TypeError(`invalid method ${JSON.stringify(method)}`);
  if (!/^[\x21-\x7e]+$/.test(opts.target)) throw new TypeError(`invalid request-target ${JSON.stringify(opts.target)}`);
  let head = `${method} ${opts.target} HTTP/1.1\r\nHost: ${checkValue(opts.host)}\r\n`;
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    head += `${name}: ${checkValue(value)}\r\n`;
  }
  if (opts.body !== undefined) head += `Content-Length: ${opts.body.length}\r\n`;
  if (opts.close === true) head += 'Connection: close\r\n';
  head += '\r\n';
  const bytes = Buffer.from(head, 'latin1');
  return opts.body === undefined ? bytes : Buffer.concat([bytes, opts.body]);
}

function checkValue(value: string): string {
  if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid header value ${JSON.stringify(value)}`);
  return value;
}

/** One request written and not answered yet. */
interface Owed {
  head: boolean;
  done: ResponseCallback;
}

export class HttpClientSession implements Session, ResponseHandler {
  private readonly parser = new ResponseParser(this, { collect: true });
  private readonly owed: Owed[] = [];
  /** No more requests may be written: the server closes, the stream failed, or the connection ended. */
  private finished = false;

  /** `onClose` runs once when the connection is gone (after every callback was told). */
  constructor(
    private readonly sink: Sink,
    private readonly onClose?: () => void,
  ) {}

  /** Requests written and not answered yet. */
  get inFlight(): number {
    return this.owed.length;
  }

  /**
   * Write one request (bytes from `encodeRequest`; the sink keeps them, so do not modify them).
   * `head`: it is a HEAD request, whose answer has no body. `done` is called exactly once.
   */
  request(bytes: Uint8Array, done: ResponseCallback, head = false): void {
    if (this.finished) return done(new Error('connection is closing: the request was not sent'));
    this.owed.push({ head, done });
    this.sink.write(bytes);
  }

  // --- Session: called by the model ----------------------------------------------------------

  receive(data: Uint8Array): void {
    this.parser.push(data);
  }

  peerClosed(): void {
    this.parser.finish(); // a body framed by the close completes here
    this.failAll('the server closed the connection before answering');
    this.sink.end();
  }

  drained(): void {}

  close(): void {
    this.failAll('connection closed before the response');
    this.onClose?.();
  }

  /** A response is owed: models apply their request deadline to the server's answer. */
  get midRequest(): boolean {
    return this.owed.length > 0;
  }

  readonly awaiting = false;
  readonly paused = false;

  // --- ResponseHandler: called by the parser -------------------------------------------------

  onResponse(res: ParsedResponse): void {
    const owed = this.owed.shift();
    if (owed === undefined) return this.parser.fail(`a response (status ${res.status}) that no request asked for`);
    owed.done(null, { status: res.status, versionMinor: res.versionMinor, keepAlive: res.keepAlive, headers: res.headers, body: res.body ?? Buffer.alloc(0) });
    if (!res.keepAlive) {
      this.failAll('the server closes the connection after an earlier response');
      this.sink.end();
    }
  }

  onError(reason: string): void {
    this.failAll(`invalid response: ${reason}`);
    this.sink.end();
  }

  answersHead(): boolean {
    return this.owed[0]?.head ?? false;
  }

  private failAll(reason: string): void {
    this.finished = true;
    while (this.owed.length > 0) this.owed.shift()!.done(new Error(reason));
  }
}
