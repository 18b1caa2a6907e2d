/**
 * One HTTP/1.1 connection: parse requests from the bytes a model reads, answer each in order.
 *
 *   receive(bytes) → parser.push → for each complete request: route? static file? 405/501?
 *                  → response bytes to the Sink, in request order
 *
 * Pipelining: a client may send many requests before reading any answer; they must be answered
 * in the order they came. Static answers are ready at once and go straight to the sink. A `route`
 * (step 06's application) may answer later; from then on, answers wait in a small ordered queue
 * until every earlier one is done.
 *
 * Methods: GET and HEAD are served. A method RFC 9110 defines (POST, PUT, DELETE...) or PATCH is
 * 405 with `Allow: GET, HEAD`; a method unknown altogether is 501 (RFC 9110 §9.1) — unless the
 * route took the request.
 *
 * Keep-alive: HTTP/1.1 keeps the connection unless the client sends `Connection: close`; HTTP/1.0
 * closes unless it sends `Connection: keep-alive` (the parser decides: `req.keepAlive`). When the
 * server closes it says `Connection: close`, stops reading requests, and ends the sink once that
 * answer is queued. A malformed request is answered with the parser's status and closed.
 *
 * WebSocket: a GET asking to upgrade to `websocket` on a path with a WebSocket endpoint is the
 * last HTTP request of the connection. Once every earlier answer is out, the handshake is
 * checked (ws/handshake.ts): a valid one is answered 101 and the connection becomes a
 * WebSocketSession — this session forwards every call to it from then on, so the model never
 * knows — and the bytes that came behind the handshake are its first input; an invalid one is
 * answered 400 or 426 and closed. On a path without an endpoint the Upgrade is ignored.
 *
 * Threading: an HttpSession belongs to the one thread serving its connection, like its Sink.
 * A deferred route answer must be given from that same thread.
 */
import * as fs from 'node:fs';
import type { PeerInfo, Protocol, Session, Sink } from '../session.js';
import { RequestParser, isParseError, type HttpLimits, type HttpParseError, type HttpRequest } from './parser.js';
import { StaticSite, type ResponseWriter, type StaticSiteOptions } from './static.js';
import { checkHandshake, switchingProtocols, wantsWebSocket } from '../ws/handshake.js';
import { WebSocketSession, echoHandler, websocketOptions, type WebSocketHandler, type WebSocketOptions } from '../ws/session.js';
import {
  CLOSE,
  completeResponse,
  connectionMode,
  formatFields,
  textResponse,
  type ConnectionMode,
} from './response.js';

/**
 * The answer to one request taken by a `route`. Call `send` exactly once, now or later (from the
 * thread that serves the connection). Content-Length, Date, Server and Connection are added; a
 * HEAD request gets the headers without the body. Throws TypeError on invalid headers or on a
 * header the server sets itself, Error on a second send. After the connection closed, `send`
 * does nothing.
 */
export interface HttpResponder {
  readonly request: HttpRequest;
  send(status: number, headers: Record<string, string>, body: string | Uint8Array): void;
}

/**
 * Application hook, called for every request before static files. Returns true if it took the
 * request (and will answer through `res`), false to let static files (or 405) answer.
 */
export type HttpRoute = (req: HttpRequest, res: HttpResponder) => boolean;

export interface HttpOptions {
  /** Document root for static files. */
  root: string;
  limits?: Partial<HttpLimits>;
  route?: HttpRoute;
  static?: StaticSiteOptions;
  /**
   * WebSocket endpoints by path, and how they behave. Default: `/ws/echo` with the default
   * options; `false`: none (every Upgrade is ignored).
   */
  websocket?: false | WebSocketSettings;
}

/** Where the WebSocket endpoints are and how they behave. Immutable once given to httpProtocol. */
export interface WebSocketSettings extends Partial<WebSocketOptions> {
  /** Handler by exact path (no query). Default: `{ '/ws/echo': echoHandler }`. */
  endpoints?: Readonly<Record<string, WebSocketHandler>>;
}

/**
 * One WebSocket endpoint. `path` is the configured string, shared by all its connections, and
 * `options` the protocol's with the handler's own over them (one object per endpoint).
 */
interface Endpoint {
  path: string;
  handler: WebSocketHandler;
  options: WebSocketOptions;
}

/** The endpoints of one protocol instance, each with its options, defaults filled in. */
interface WebSocketConfig {
  endpoints: ReadonlyMap<string, Endpoint>;
}

/** A file queued behind a pending answer; the slot owns `fd` until it is handed to the sink. */
interface FilePart {
  fd: number;
  offset: number;
  length: number;
}

// #region slot
/**
 * A response owed in request order that cannot be written yet because an earlier one is still
 * pending. Collects what would go to the sink. Owned by its session.
 */
class Slot implements HttpResponder, ResponseWriter {
  readonly parts: Array<Uint8Array | FilePart> = [];
  done = false;

  constructor(
    private readonly session: HttpSession,
    readonly request: HttpRequest,
    readonly mode: ConnectionMode,
  ) {}

  write(bytes: Uint8Array): void {
    this.parts.push(bytes);
  }

  sendFile(fd: number, offset: number, length: number): void {
    this.parts.push({ fd, offset, length });
  }

  send(status: number, headers: Record<string, string>, body: string | Uint8Array): void {
    if (this.done) throw new Error(`response to ${this.request.method} ${this.request.target} already sent`);
    if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`invalid status ${status}`);
    const response = completeResponse(status, formatFields(headers), body, this.mode, this.request.method === 'HEAD');
    this.done = true;
    this.parts.push(response);
    this.session.flush();
  }
}
// #endregion slot

const ALLOW_FIELD = 'Allow: GET, HEAD\r\n';
// #region hold-limits
/**
 * Back-pressure inside one read: a single 64 KiB read may hold a thousand pipelined requests.
 * Stop answering (and tell the model to stop reading: `paused`) once this much output waits in the sink (a large file counts its full length,
 * so this is "one big file at a time"), or once this many answers are owed, and go on when the
 * model calls drained() or an owed answer is sent. The requests wait in the parser meanwhile.
 */
const HOLD_PENDING_BYTES = 1024 * 1024;
const HOLD_OWED_ANSWERS = 64;
// #endregion hold-limits
/** Methods of RFC 9110 and PATCH: known but not allowed here is 405; unknown is 501. */
const KNOWN_METHODS = new Set(['POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export class HttpSession implements Session {
  /** DONE once the connection became a WebSocket (nothing is parsed as HTTP any more). */
  private parser: RequestParser;
  /** Responses owed, in request order. Invariant after flush(): empty, or the first is not done. */
  private queue: Slot[] = [];
  /** No more requests will be read: a response closes the connection, or the peer half-closed. */
  private closing = false;
  /** The peer half-closed: end the sink once nothing is owed. */
  private peerGone = false;
  /** sink.end() was called, or the connection is gone. Nothing more is written. */
  private ended = false;
  /** Complete requests wait in the parser because output piled up; see HOLD_PENDING_BYTES. */
  private held = false;
  /** A WebSocket upgrade waiting for the answers owed before it (held meanwhile). */
  private upgrade: { req: HttpRequest; endpoint: Endpoint } | null = null;
  /** After a successful upgrade: the session every call goes to. */
  private ws: WebSocketSession | null = null;

  constructor(
    private readonly sink: Sink,
    private readonly site: StaticSite,
    private readonly route: HttpRoute | undefined,
    limits?: Partial<HttpLimits>,
    private readonly websocket: WebSocketConfig | null = null,
  ) {
    this.parser = new RequestParser(limits);
  }

  /** A request has begun arriving and is not complete (the header timeout applies). */
  get midRequest(): boolean {
    return this.ws === null && this.parser.midRequest;
  }

  /** A response is owed and not written yet (a route answering later): busy, not idle. */
  get awaiting(): boolean {
    return this.ws === null && this.queue.length > 0;
  }

  /** Requests are held back until drained(): the model should stop reading. */
  get paused(): boolean {
    return this.ws !== null ? this.ws.paused : this.held;
  }

  /** HTTP keeps none of its own (0: the model's timeouts apply); a WebSocket's, once upgraded. */
  get deadline(): number {
    return this.ws !== null ? this.ws.deadline : 0;
  }

  timeout(now: number): boolean {
    return this.ws !== null ? this.ws.timeout(now) : true;
  }

  // #region receive
  receive(data: Uint8Array): void {
    if (this.ws !== null) return this.ws.receive(data);
    if (this.upgrade !== null) return this.parser.push(data); // kept behind the handshake, for the WebSocket
    if (this.closing) return; // a closing answer is decided: what follows it is never read
    this.parser.push(data);
    if (!this.held) this.pump();
  }
  // #endregion receive

  peerClosed(): void {
    if (this.ws !== null) return this.ws.peerClosed();
    // Complete requests are still answered (some may be held); an incomplete one is dropped.
    this.peerGone = true;
    if (!this.held) this.pump();
  }

  drained(): void {
    if (this.ws !== null) return this.ws.drained();
    if (!this.held || this.ended) return;
    this.held = false;
    this.pump();
  }

  /** Answer complete requests in order until the parser needs more bytes or output piles up. */
  private pump(): void {
    if (this.upgrade !== null) {
      if (this.queue.length > 0) {
        this.held = true; // the 101 must follow every answer owed before it
        return;
      }
      const { req, endpoint } = this.upgrade;
      this.upgrade = null;
      return this.switchProtocols(req, endpoint);
    }
    while (!this.closing) {
      if (this.sink.pendingBytes >= HOLD_PENDING_BYTES || this.queue.length >= HOLD_OWED_ANSWERS) {
        this.held = true; // drained() or an owed answer's flush() resumes
        return;
      }
      const next = this.parser.next();
      if (next === null) break;
      if (isParseError(next)) this.reject(next);
      else this.handle(next);
    }
    if (this.peerGone && !this.closing) {
      this.closing = true; // the peer said all it will say, and all of it is answered or owed
      if (this.queue.length === 0) this.end();
    }
  }

  close(): void {
    this.closing = true;
    this.ended = true;
    this.discardQueue();
    this.ws?.close();
  }

  // #region flush
  /** Write every finished response at the head of the queue, in order. For Slot.send; not for models. */
  flush(): void {
    if (this.ended) {
      this.discardQueue(); // a late answer on a closed connection has nowhere to go
      return;
    }
    let i = 0;
    while (i < this.queue.length && this.queue[i]!.done) {
      const slot = this.queue[i++]!;
      for (const part of slot.parts) {
        if (part instanceof Uint8Array) this.sink.write(part);
        else this.sink.sendFile(part.fd, part.offset, part.length);
      }
      if (slot.mode === CLOSE) {
        // Nothing after a closing answer is sent (and nothing is queued: parsing stopped there).
        this.queue.splice(0, i);
        this.end();
        this.discardQueue();
        return;
      }
    }
    if (i > 0) this.queue.splice(0, i);
    if (this.held) this.drained(); // an owed answer went out: room to answer more
    else if (this.queue.length === 0 && this.peerGone && this.closing) this.end();
  }
  // #endregion flush

  private handle(req: HttpRequest): void {
    // #region upgrade-request
    if (req === this.parser.upgradeRequest) {
      const endpoint = this.websocket !== null && wantsWebSocket(req) ? this.websocket.endpoints.get(req.path) : undefined;
      if (endpoint !== undefined) {
        this.closing = true; // no HTTP request follows an upgrade
        this.upgrade = { req, endpoint };
        this.pump();
        return;
      }
      this.parser.resume(); // no endpoint here: serve it as plain HTTP, and what follows too
    }
    // #endregion upgrade-request
    const mode = connectionMode(req);
    if (mode === CLOSE) this.closing = true;

    if (this.route !== undefined && this.tryRoute(req, mode)) return;

    // Fast path: nothing owed before this answer, so it goes straight to the sink.
    const slot = this.queue.length === 0 ? null : new Slot(this, req, mode);
    const out: ResponseWriter = slot ?? this.sink;
    if (req.method === 'GET' || req.method === 'HEAD') this.site.serve(req, mode, out);
    else if (KNOWN_METHODS.has(req.method)) out.write(textResponse(405, mode, false, ALLOW_FIELD));
    else out.write(textResponse(501, mode, false)); // RFC 9110 §9.1: a method we do not know at all

    if (slot !== null) {
      slot.done = true; // complete, but behind a pending answer: flush() sends it in turn
      this.queue.push(slot);
    } else if (mode === CLOSE) {
      this.end();
    }
  }

  /** Offer `req` to the application. True if it took it (its answer is queued, maybe already sent). */
  private tryRoute(req: HttpRequest, mode: ConnectionMode): boolean {
    const slot = new Slot(this, req, mode);
    this.queue.push(slot); // in place before the route runs: it may answer synchronously
    let taken: boolean;
    try {
      taken = this.route!(req, slot);
    } catch (err) {
      // An application bug must not take the server down: answer 500 and carry on.
      console.error(`http route failed for ${req.method} ${req.target}:`, err);
      if (!slot.done) {
        slot.parts.length = 0;
        slot.parts.push(textResponse(500, mode, req.method === 'HEAD'));
        slot.done = true;
        this.flush();
      }
      return true;
    }
    if (taken || slot.done) return true; // an answer given counts as taken, whatever was returned
    this.queue.pop(); // still last: nothing else ran since it was pushed
    return false;
  }

  /** A malformed request: answer its status and close. */
  private reject(error: HttpParseError): void {
    this.closing = true;
    const response = textResponse(error.status, CLOSE, false);
    if (this.queue.length === 0) {
      this.sink.write(response);
      this.end();
      return;
    }
    const slot = new Slot(this, PARSE_ERROR_REQUEST, CLOSE);
    slot.write(response);
    slot.done = true;
    this.queue.push(slot);
  }

  // #region switch-protocols
  /**
   * Every answer before the upgrade is out: check the handshake, answer 101 and hand the
   * connection to a WebSocketSession (with the bytes that came behind the request), or refuse.
   */
  private switchProtocols(req: HttpRequest, { path, handler, options }: Endpoint): void {
    const verdict = checkHandshake(req, handler.protocols);
    if (!verdict.ok) {
      this.parser.takeUpgradeData(); // never read: the answer closes the connection
      this.sink.write(textResponse(verdict.status, CLOSE, false, verdict.fields));
      this.end();
      return;
    }
    this.sink.write(switchingProtocols(verdict));
    this.ws = new WebSocketSession(this.sink, handler, path, verdict.protocol, options);
    const early = this.parser.takeUpgradeData();
    // From here every call goes to the WebSocket: let go of the HTTP parser and its buffers, so
    // that an idle WebSocket holds only its own small state.
    this.parser = DONE;
    this.ws.start(req, early);
    if (this.peerGone) this.ws.peerClosed(); // the FIN came while earlier answers were owed
  }
  // #endregion switch-protocols

  /** Drop every owed answer. Files opened for answers that never reached the sink are still ours to close. */
  private discardQueue(): void {
    for (const slot of this.queue) {
      for (const part of slot.parts) if (!(part instanceof Uint8Array)) fs.closeSync(part.fd);
    }
    this.queue = [];
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink.end();
  }
}

/** An upgraded session's parser: one shared, empty stand-in, never fed. */
const DONE = new RequestParser();

/** Stands in for the request a queued parse-error answer belongs to (there is none). */
const PARSE_ERROR_REQUEST: HttpRequest = {
  method: '',
  target: '',
  path: '/',
  query: '',
  versionMinor: 1,
  headers: [],
  keepAlive: false,
  hasBody: false,
};

/**
 * The HTTP protocol: static files under `options.root`, with an optional application route.
 * One StaticSite (and its cache) per protocol instance: create one per thread or process.
 */
export function httpProtocol(options: HttpOptions): Protocol {
  const site = new StaticSite(options.root, options.static);
  const { route, limits } = options;
  const websocket = websocketConfig(options.websocket);
  return {
    name: 'http',
    scheme: 'http',
    open(sink: Sink, _peer?: PeerInfo): Session {
      return new HttpSession(sink, site, route, limits, websocket);
    },
    faultResponse(): Uint8Array {
      return textResponse(500, CLOSE, false);
    },
  };
}

/** The default WebSocket endpoint of every model: `/ws/echo`. */
const DEFAULT_ENDPOINTS: Readonly<Record<string, WebSocketHandler>> = Object.freeze({ '/ws/echo': echoHandler });

function websocketConfig(settings: false | WebSocketSettings | undefined): WebSocketConfig | null {
  if (settings === false) return null;
  const { endpoints = DEFAULT_ENDPOINTS, ...options } = settings ?? {};
  const shared = checkedOptions(websocketOptions(options));
  // An endpoint with options of its own gets its own object; the others share one.
  const endpointOptions = (handler: WebSocketHandler): WebSocketOptions =>
    handler.options === undefined ? shared : checkedOptions({ ...shared, ...handler.options });
  return { endpoints: new Map(Object.entries(endpoints).map(([path, handler]) => [path, { path, handler, options: endpointOptions(handler) }])) };
}

function checkedOptions(o: WebSocketOptions): WebSocketOptions {
  if (!(Number.isSafeInteger(o.maxMessage) && o.maxMessage > 0)) throw new RangeError(`websocket maxMessage must be a positive integer, got ${o.maxMessage}`);
  if (o.onBackpressure !== 'drop' && o.onBackpressure !== 'close') throw new RangeError(`websocket onBackpressure must be drop or close, got ${String(o.onBackpressure)}`);
  return o;
}
