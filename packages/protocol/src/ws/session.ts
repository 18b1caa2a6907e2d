/**
 * One WebSocket connection after the handshake (RFC 6455 §5-7): frames in, whole messages to the
 * application's handler, frames out.
 *
 *   receive(bytes) → FrameParser → onMessage(conn, data, isBinary)   the application
 *                                → ping: queue a pong                  (also between fragments)
 *                                → close: echo its code, end           the closing handshake
 *                                → error: close 1002/1007/1009, end    failing the connection
 *   conn.send(data)              → one unmasked frame → the Sink
 *
 * Sans-I/O like the HTTP session: it never touches a socket and never sleeps. What needs time —
 * the heartbeat, and cutting a peer that never answers our close — it asks for through
 * `deadline`: an event-driven model (04, 05, 06) wakes up by then and calls `timeout(now)`.
 * The blocking models (01-03) also look at it: their one thread per connection waits in poll(2)
 * until the deadline instead of in read(2).
 *
 * Closing: the side that closes first sends a close frame; the other answers with one and the
 * server then closes the TCP connection (§7.1.1: the server closes first, so the TIME_WAIT state
 * is the server's, not the client's). When the peer starts, we echo its code and end at once.
 * When we start (`conn.close`), we keep reading — ignoring data — until its close comes, or
 * `closeTimeoutMs` passes and we cut the connection. A protocol error fails the connection:
 * close frame with the code, then end, reading nothing more (§7.1.7).
 *
 * Heartbeat (`pingIntervalMs`; swoole's heartbeat_check, uWebSockets' idleTimeout): every
 * interval, a connection that sent nothing since the previous check gets a ping; one still silent
 * at the next check is cut. Anything the peer sends counts as a sign of life, so a busy
 * connection costs no pings; and receiving costs one flag, not a clock read.
 *
 * Slow readers: what we queue waits in the model's Sink. Answers to the peer's own messages are
 * bounded by the model, which stops reading from a connection whose output piles up. Pushes the
 * peer did not ask for are not: `maxBackpressure` bounds them, and `onBackpressure` says what
 * happens to a frame sent while the connection already holds that many unsent bytes — it is
 * dropped (and counted in `conn.dropped`), or the connection is closed with 1008 (the close
 * frame itself is queued past the bound: it is small). The check comes before queueing, as in
 * uWebSockets, so a peer that reads gets frames of any size; one that never reads holds at most
 * the bound plus one frame. An endpoint may set its own (`WebSocketHandler.options`).
 *
 * Threading: a session, its parser and its WebSocketConn belong to the thread serving the
 * connection; the handler is called on that thread only, and `conn` may only be used there.
 */
import { Buffer } from 'node:buffer';
import type { Session, Sink } from '../session.js';
import type { HttpRequest } from '../http/parser.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_INTERNAL_ERROR,
  CLOSE_NORMAL,
  CLOSE_POLICY,
  FrameParser,
  MAX_CONTROL_PAYLOAD,
  OP_BINARY,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  closeFrame,
  encodeFrame,
  frameHeader,
  isSendableCloseCode,
  type FrameEvents,
} from './frame.js';

/** How a WebSocket endpoint behaves. Immutable; shared by every connection of a protocol. */
export interface WebSocketOptions {
  /** Largest message accepted, all fragments together (→ close 1009). Default 1 MiB. */
  maxMessage: number;
  /** Ping a connection silent this long; cut it if still silent as long again. 0: no heartbeat. Default 0. */
  pingIntervalMs: number;
  /** After our close frame, wait this long for the peer's before cutting the connection. Default 5000. */
  closeTimeoutMs: number;
  /**
   * Unsent bytes at which `send` applies `onBackpressure`: checked before queueing, so a frame
   * of any size goes to a connection holding less. Default Infinity (the model bounds replies).
   */
  maxBackpressure: number;
  /** At `maxBackpressure`: drop the frame (counted), or close the connection with 1008. Default 'drop'. */
  onBackpressure: 'drop' | 'close';
  /** The clock deadlines are read from (ms). Default Date.now; tests pass their own. */
  now: () => number;
}

export const DEFAULT_WEBSOCKET_OPTIONS: Readonly<WebSocketOptions> = Object.freeze({
  maxMessage: 1024 * 1024,
  pingIntervalMs: 0,
  closeTimeoutMs: 5000,
  maxBackpressure: Infinity,
  onBackpressure: 'drop' as const,
  now: Date.now,
});

/**
 * A WebSocket connection as the application sees it. Owned by its session; use it only on the
 * thread that serves the connection (the handler's thread).
 */
export interface WebSocketConn {
  /**
   * The path of the upgrade request. The request itself (query, headers such as Origin) is
   * onOpen's to read: it is not kept afterwards — an idle WebSocket must stay cheap — so keep
   * what you need of it in `context` (uWebSockets' HttpRequest lives only during the upgrade too).
   */
  readonly path: string;
  /** The subprotocol agreed in the handshake, or ''. */
  readonly protocol: string;
  /** Yours: anything the application wants to keep per connection. */
  context: unknown;
  /** Open: messages can be sent. False from the first close frame (either side's) on. */
  readonly open: boolean;
  /** Bytes queued for the peer and not sent yet. */
  readonly pendingBytes: number;
  /** Frames dropped by the `drop` back-pressure policy. */
  readonly dropped: number;
  /**
   * Send one message: a string as text, bytes as binary unless `isBinary` is false. Up to 4 KiB
   * the bytes are copied into the frame; a larger payload is queued by reference, not copied:
   * do not modify it afterwards. False if the frame was not queued (closing, or refused by the
   * back-pressure policy).
   */
  send(data: string | Uint8Array, isBinary?: boolean): boolean;
  /**
   * Queue a frame made by `encodeFrame` — encode once, send to many (a broadcast). Same result
   * and back-pressure policy as `send`.
   */
  sendFrame(frame: Uint8Array): boolean;
  /** Start the closing handshake with `code` (1000, 3000-4999, ...) and a short reason. Idempotent. */
  close(code?: number, reason?: string): void;
}

/** An application endpoint (`/ws/echo`). Its hooks run on the connection's thread. */
export interface WebSocketHandler {
  /** Subprotocols this endpoint speaks; the client's first offered one that is listed is chosen. */
  readonly protocols?: readonly string[];
  /**
   * This endpoint's own options, over the protocol's (`httpProtocol`'s `websocket`): say, a
   * back-pressure bound and policy for an endpoint that pushes, which `/ws/echo` beside it, only
   * answering, does not need (uWebSockets sets these per route too).
   */
  readonly options?: Readonly<Partial<WebSocketOptions>>;
  /** After the 101 went out, before any message. */
  onOpen?(conn: WebSocketConn, req: HttpRequest): void;
  /** A whole message (fragments joined). `data` is the handler's to keep: nothing else holds it. */
  onMessage(conn: WebSocketConn, data: Buffer, isBinary: boolean): void;
  /**
   * Once per connection: the close code received (1005: none in the frame), the code we failed
   * it with, or 1006 if it ended without a close frame.
   */
  onClose?(conn: WebSocketConn, code: number, reason: string): void;
  /** The unsent output fell back to the model's low-water mark: a good time to push more. */
  onDrain?(conn: WebSocketConn): void;
}

/** `/ws/echo`: every message back, with its own opcode. */
export const echoHandler: WebSocketHandler = Object.freeze({
  onMessage(conn: WebSocketConn, data: Buffer, isBinary: boolean): void {
    conn.send(data, isBinary); // `data` is ours alone: a large one goes out without a copy
  },
});

// The connection's state.
const OPEN = 0;
/** We sent a close frame and wait for the peer's (until closeDeadline). */
const CLOSING = 1;
/** The close handshake is over (or was skipped): the sink is ended. */
const CLOSED = 2;

/**
 * The application's handle on one connection. A separate object from the session because both
 * sides have a `close` meaning different things: the application's asks for the closing
 * handshake, the model's says the connection is gone. Owned by its session.
 */
class Connection implements WebSocketConn {
  context: unknown = undefined;

  constructor(private readonly session: WebSocketSession) {}

  get path(): string {
    return this.session.path;
  }

  get protocol(): string {
    return this.session.protocol;
  }

  get open(): boolean {
    return this.session.isOpen;
  }

  get pendingBytes(): number {
    return this.session.pendingBytes;
  }

  get dropped(): number {
    return this.session.dropped;
  }

  send(data: string | Uint8Array, isBinary = typeof data !== 'string'): boolean {
    return this.session.send(data, isBinary);
  }

  sendFrame(frame: Uint8Array): boolean {
    return this.session.sendFrame(frame);
  }

  close(code = CLOSE_NORMAL, reason = ''): void {
    this.session.startClose(code, reason);
  }
}

/** One WebSocket connection's protocol state: the Session its model feeds. Owned by the serving thread. */
export class WebSocketSession implements Session, FrameEvents {
  /** What the handler is given. */
  readonly conn: WebSocketConn;
  /** Frames refused by the `drop` back-pressure policy. */
  dropped = 0;

  private readonly parser: FrameParser;
  private state = OPEN;
  /** The handler has been told the connection closed (onClose is called once). */
  private reported = false;
  /** Heartbeat: the peer sent something since the last check; our ping is unanswered. */
  private heard = false;
  private pinged = false;
  /** When `timeout` is due: the next heartbeat check, or the end of a close wait. */
  private due: number;

  constructor(
    private readonly sink: Sink,
    private readonly handler: WebSocketHandler,
    /** The upgrade request's path (the request itself is only onOpen's: see WebSocketConn.path). */
    readonly path: string,
    readonly protocol: string,
    private readonly options: WebSocketOptions,
  ) {
    this.conn = new Connection(this);
    this.parser = new FrameParser(this, options.maxMessage);
    this.due = options.pingIntervalMs > 0 ? options.now() + options.pingIntervalMs : Infinity;
  }

  /** Call the handler's onOpen with the upgrade request, then feed what arrived behind the handshake. For HttpSession. */
  start(request: HttpRequest, early: Uint8Array): void {
    if (this.handler.onOpen !== undefined) {
      try {
        this.handler.onOpen(this.conn, request);
      } catch (err) {
        this.hookFailed('onOpen', err);
      }
    }
    if (early.length > 0) this.receive(early);
  }

  // Session flags, the same for every WebSocket: getters, not fields (an idle connection stays small).
  get midRequest(): boolean {
    return false;
  }

  get awaiting(): boolean {
    return false;
  }

  /** Never: the model's high-water mark stops reading while answers pile up, as for echo. */
  get paused(): boolean {
    return false;
  }

  get isOpen(): boolean {
    return this.state === OPEN;
  }

  get pendingBytes(): number {
    return this.sink.pendingBytes;
  }

  /**
   * Session: when the model must call `timeout` (Date.now clock, unless options.now says
   * otherwise). Infinity when nothing is due: a WebSocket has no idle timeout, it lives as long
   * as the peer wants — the heartbeat is what finds dead peers.
   */
  get deadline(): number {
    return this.due;
  }

  // --- Session: what the model calls ---------------------------------------------------------

  receive(data: Uint8Array): void {
    if (this.state === CLOSED) return;
    this.heard = true;
    this.parser.push(data);
  }

  peerClosed(): void {
    // A FIN without a close frame: the connection is over, abnormally (§7.1.5: 1006).
    this.finish(CLOSE_ABNORMAL, '');
  }

  drained(): void {
    if (this.state !== OPEN || this.handler.onDrain === undefined) return;
    try {
      this.handler.onDrain(this.conn);
    } catch (err) {
      this.hookFailed('onDrain', err);
    }
  }

  close(): void {
    this.parser.stop();
    this.state = CLOSED;
    this.report(CLOSE_ABNORMAL, '');
  }

  // #region heartbeat
  /**
   * Session: `deadline` passed. True when the connection must be cut now (the peer took up
   * neither our close nor our ping), false when the session acted (queued a ping) and set a new
   * deadline.
   */
  timeout(now: number): boolean {
    if (now < this.due) return false;
    if (this.state !== OPEN) return true; // our close (or our reply to theirs) was never taken up
    if (this.heard) {
      this.heard = false;
      this.pinged = false;
    } else if (!this.pinged) {
      this.pinged = true;
      this.sink.write(PING);
    } else {
      return true; // silent for a whole interval after our ping
    }
    this.due = now + this.options.pingIntervalMs;
    return false;
  }
  // #endregion heartbeat

  // --- for Connection: what the application asked -------------------------------------------

  send(data: string | Uint8Array, isBinary: boolean): boolean {
    if (this.state !== OPEN) return false;
    const opcode = isBinary ? OP_BINARY : OP_TEXT;
    // A string, or a small payload: one frame, one buffer (a copy of a few KiB costs less than
    // a second buffer and iovec). A large one goes by reference behind its own header.
    if (typeof data === 'string' || data.length <= COPY_BELOW) return this.queue(encodeFrame(opcode, data));
    const header = frameHeader(opcode, data.length);
    if (!this.admit()) return false;
    this.sink.write(header);
    this.sink.write(data); // by reference: writev sends header and payload in one call
    return true;
  }

  sendFrame(frame: Uint8Array): boolean {
    return this.state === OPEN && this.queue(frame);
  }

  /** Start the closing handshake: our close frame, then wait for theirs until the close timeout. */
  startClose(code: number, reason: string): void {
    if (this.state !== OPEN) return;
    if (!isSendableCloseCode(code)) throw new RangeError(`invalid close code ${code}`);
    if (Buffer.byteLength(reason, 'utf8') > MAX_CONTROL_PAYLOAD - 2) throw new RangeError('close reason longer than 123 bytes');
    this.sink.write(closeFrame(code, reason));
    this.state = CLOSING;
    this.due = this.options.now() + this.options.closeTimeoutMs;
  }

  // --- FrameEvents: what the parser found ------------------------------------------------------

  onMessage(data: Buffer, isBinary: boolean): void {
    if (this.state !== OPEN) return; // after our close frame, data is read and dropped (§7.1.2)
    try {
      this.handler.onMessage(this.conn, data, isBinary);
    } catch (err) {
      this.hookFailed('onMessage', err);
    }
  }

  onPing(payload: Buffer): void {
    if (this.state === OPEN) this.sink.write(encodeFrame(OP_PONG, payload)); // §5.5.3: the same payload
  }

  onPong(_payload: Buffer): void {
    this.pinged = false; // any pong is a sign of life (§5.5.3 allows unsolicited ones)
  }

  // #region close-handshake
  onClose(code: number, reason: string): void {
    // Theirs first: echo the code (§5.5.1), then end. Ours first: the handshake is complete.
    if (this.state === OPEN) this.sink.write(closeFrame(code));
    this.finish(code, reason);
  }

  onError(code: number, reason: string): void {
    if (this.state === OPEN) this.sink.write(closeFrame(code, reason));
    this.finish(code, reason);
  }
  // #endregion close-handshake

  // --- inside ----------------------------------------------------------------------------------

  /** The connection is over for the protocol: end the sink; the model closes once it is sent. */
  private finish(code: number, reason: string): void {
    if (this.state === CLOSED) return;
    this.parser.stop();
    this.state = CLOSED;
    // A peer that does not read our last frame must not hold the connection: cut it then.
    this.due = this.options.now() + this.options.closeTimeoutMs;
    this.sink.end();
    this.report(code, reason);
  }

  private report(code: number, reason: string): void {
    if (this.reported) return;
    this.reported = true;
    if (this.handler.onClose === undefined) return;
    try {
      this.handler.onClose(this.conn, code, reason);
    } catch (err) {
      this.hookFailed('onClose', err);
    }
  }

  /** Queue a whole frame, unless the back-pressure policy refuses it. */
  private queue(frame: Uint8Array): boolean {
    if (!this.admit()) return false;
    this.sink.write(frame);
    return true;
  }

  /**
   * The back-pressure policy, before a frame is queued: under `maxBackpressure` unsent bytes,
   * any frame goes (a peer that reads gets messages of any size); at it, the frame is dropped
   * and counted, or the connection starts closing with 1008 (its close frame goes past the bound).
   */
  // #region ws-admit
  private admit(): boolean {
    if (this.sink.pendingBytes < this.options.maxBackpressure) return true;
    if (this.options.onBackpressure === 'drop') this.dropped++;
    else this.startClose(CLOSE_POLICY, 'too much unsent output');
    return false;
  }
  // #endregion ws-admit

  /**
   * An application hook threw: it closes its connection (1011), not the server. (Each hook is
   * called inside its own try, not through a helper taking a closure: no allocation per message.)
   */
  private hookFailed(what: string, err: unknown): void {
    console.error(`websocket ${what} failed for ${this.path}:`, err);
    if (this.state === OPEN) this.startClose(CLOSE_INTERNAL_ERROR, 'internal error');
  }
}

/** Payloads up to this size are copied into their frame; larger ones are queued by reference. */
const COPY_BELOW = 4096;

/** Our heartbeat ping: an empty payload is enough, the pong only has to come back. */
const PING = encodeFrame(OP_PING, Buffer.alloc(0));

/** For HttpSession: the ws options with defaults filled in. */
export function websocketOptions(partial: Partial<WebSocketOptions> | undefined): WebSocketOptions {
  return { ...DEFAULT_WEBSOCKET_OPTIONS, ...partial };
}

