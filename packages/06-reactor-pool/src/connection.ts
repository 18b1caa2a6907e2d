/**
 * Where the app's hooks meet step 05's Reactor: the Protocol a SubReactor gives its Reactor.
 *
 * For each connection the Reactor adopts, `open` builds two small objects (no closures, no
 * buffers: an idle connection must stay cheap — the goal is 10,000 idle connections at under
 * 4 KB each):
 *   - a `Connection`, the app's `Conn` (send, close, context);
 *   - an `AppSession`, the Session the Reactor feeds. It forwards bytes to the real protocol
 *     (HTTP, whose `route` calls the app's onRequest; or echo) or, for a TCP app that exports
 *     onReceive, to the app itself.
 *
 * They are two objects because both the app (`conn.close()`: please close) and the Reactor
 * (`session.close()`: it is closed) need a `close` meaning different things.
 *
 * A fault stays with its connection: an exception thrown by an app hook or by the protocol while
 * serving one connection is caught here, logged as one line naming the connection, answered 500
 * where the app owed an HTTP answer, and ends that connection only; the SubReactor and all its
 * other connections go on.
 *
 * Threading: everything here belongs to one SubReactor thread; module state (`current`) is per
 * thread.
 */
import { Buffer } from 'node:buffer';
import {
  echoHandler,
  echoProtocol,
  httpProtocol,
  isFrameError,
  parseCodecSpec,
  type Codec,
  type FrameDecoder,
  type HttpRequest,
  type HttpResponder,
  type PeerInfo,
  type Protocol,
  type Session,
  type Sink,
  type WebSocketConn,
  type WebSocketHandler,
} from '@course/protocol';
import { log } from '@course/server-kit';
import type { App, Conn, LocalServer } from './app.js';
import type { WebSocketLimits } from './options.js';
import { pushFrame, type ConnRef, type HubMember, type WebSocketHub } from './push.js';
import type { StatsBoard } from './stats.js';

/**
 * The connection whose session is running right now. The HTTP route hook is one function shared
 * by every connection of the thread and is only ever called from inside `receive`, so this is how
 * it learns which Conn a request came on — without a closure per connection.
 */
let current: Connection | null = null;

const SERVER_ERROR = { 'Content-Type': 'text/plain; charset=utf-8' };

/**
 * An HTTP answer the app took on (its onRequest returned true) and may give later. The app gets
 * this instead of the session's responder so that, if the connection fails before the app
 * answers, the client still gets a 500. Owned by the connection's SubReactor thread.
 */
class OwedAnswer implements HttpResponder {
  constructor(
    readonly inner: HttpResponder,
    private readonly conn: Connection,
  ) {}

  get request(): HttpRequest {
    return this.inner.request;
  }

  send(status: number, headers: Record<string, string>, body: string | Uint8Array): void {
    this.inner.send(status, headers, body);
    this.conn.settle(this);
  }
}

/** The app's Conn. Owned by the SubReactor thread that adopted the connection. */
export class Connection implements Conn, HubMember {
  context: unknown = undefined;
  /** The Reactor closed it (AppSession.close ran). */
  closed = false;
  /** The app asked to close; later sends are dropped. */
  private ending = false;
  /** Tasks submitted for this connection whose results have not come back yet. */
  tasksInFlight = 0;
  /** HTTP answers the app owes on this connection, oldest first (null while none: idle stays cheap). */
  private owed: OwedAnswer[] | null = null;
  /** The WebSocket, from onOpen on (an app endpoint only); its frames go through the hub. */
  ws: WebSocketConn | null = null;
  /** WebSocket topics (the hub keeps them). */
  topics: Set<string> | null = null;
  /** How the WebSocket ended, for onClose. */
  closeCode: number | undefined = undefined;
  closeReason: string | undefined = undefined;

  constructor(
    readonly id: number,
    readonly server: LocalServer,
    private readonly sink: Sink,
    private readonly peer: PeerInfo | undefined,
    /** The TCP framing: `send` encodes each frame with it. Null: bytes go out as they are. */
    private readonly codec: Codec | null = null,
  ) {}

  get reactor(): number {
    return this.server.index;
  }

  get remoteAddress(): string {
    return this.peer?.address ?? '';
  }

  get pendingBytes(): number {
    return this.sink.pendingBytes;
  }

  get ref(): ConnRef {
    return { reactor: this.server.index, id: this.id };
  }

  get isWebSocket(): boolean {
    return this.ws !== null;
  }

  /** Closed, or closing once its output is sent: nothing more is delivered to the app. */
  get closing(): boolean {
    return this.closed || this.ending;
  }

  send(data: Uint8Array | string, isBinary?: boolean): void {
    this.server.affinity.check();
    if (this.closed || this.ending) return;
    // A WebSocket: one frame, under the same slow-consumer rule as every push (the payload is
    // copied into the frame, so `data` may be a view the caller reuses).
    if (this.ws !== null) {
      this.server.hub!.deliver(this, pushFrame(data, isBinary));
      return;
    }
    if (this.codec !== null) {
      // One frame; encode makes a new buffer (and throws for a frame the codec cannot carry).
      this.sink.write(this.codec.encode(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
      return;
    }
    // Copy: the Sink keeps a reference, and `data` may view the reactor's reusable read buffer.
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : new Uint8Array(data);
    if (bytes.length > 0) this.sink.write(bytes);
  }

  close(code?: number, reason?: string): void {
    this.server.affinity.check();
    if (this.closed || this.ending) return;
    if (this.ws !== null && this.ws.open) {
      this.ws.close(code, reason); // the closing handshake; the protocol ends the sink after it
      return;
    }
    this.ending = true;
    this.sink.end();
  }

  subscribe(topic: string): void {
    this.server.affinity.check();
    if (this.ws === null) throw new Error('conn.subscribe(): not a WebSocket connection (call it from onOpen or onMessage)');
    this.server.hub!.subscribe(this, topic);
  }

  unsubscribe(topic: string): void {
    this.server.affinity.check();
    if (this.ws !== null) this.server.hub!.unsubscribe(this, topic);
  }

  owe(answer: OwedAnswer): void {
    (this.owed ??= []).push(answer);
  }

  settle(answer: OwedAnswer): void {
    const i = this.owed?.indexOf(answer) ?? -1;
    if (i >= 0) this.owed!.splice(i, 1);
  }

  /** Something failed for this connection: answer 500 to whatever the app still owed, then close. */
  fail(): void {
    const owed = this.owed ?? [];
    this.owed = null;
    for (const answer of owed) {
      try {
        answer.inner.send(500, SERVER_ERROR, '500 Internal Server Error\n');
      } catch {
        // Already answered, or the session is gone: nothing more to say on it.
      }
    }
    this.close();
  }
}

/** The Session the Reactor sees for one connection. Owned by (and called only on) its SubReactor thread. */
class AppSession implements Session {
  constructor(
    private readonly conn: Connection,
    /** The protocol's own session (HTTP or echo), or null when the app handles bytes itself. */
    private readonly inner: Session | null,
    private readonly hooks: AppProtocol,
    /** With a codec and the app's onReceive: this connection's partial frame. */
    private readonly decoder: FrameDecoder | null,
  ) {}

  /** A request (or, for a framed app, a frame) has begun arriving: the header timeout applies. */
  get midRequest(): boolean {
    return this.inner !== null ? this.inner.midRequest : this.decoder !== null && !this.conn.closed && this.decoder.buffered > 0;
  }

  /** Busy, not idle, while a task for this connection is out or the protocol owes an answer. */
  get awaiting(): boolean {
    return this.conn.tasksInFlight > 0 || (this.inner !== null && this.inner.awaiting);
  }

  get paused(): boolean {
    return this.inner !== null && this.inner.paused;
  }

  /** A WebSocket's own deadline (heartbeat, close wait), once the HTTP session upgraded. */
  get deadline(): number {
    return this.inner?.deadline ?? 0;
  }

  timeout(now: number): boolean {
    return this.inner?.timeout?.(now) ?? true;
  }

  drained(): void {
    if (this.inner === null) return;
    current = this.conn; // a held request may reach the app's route
    try {
      this.inner.drained();
    } catch (err) {
      this.hooks.failed(`the ${this.hooks.name} session`, err, this.conn);
    } finally {
      current = null;
    }
  }

  receive(data: Uint8Array): void {
    current = this.conn;
    try {
      if (this.inner !== null) {
        this.inner.receive(data); // HTTP counts requests in its route hook
      } else {
        this.receiveFrames(data);
      }
    } catch (err) {
      this.hooks.failed(this.inner !== null ? `the ${this.hooks.name} session` : 'onReceive', err, this.conn);
    } finally {
      current = null;
    }
  }

  /** To the app: the bytes as they came, or each whole frame (a view, valid during the call). */
  // #region receive-frames
  private receiveFrames(data: Uint8Array): void {
    const { app, board } = this.hooks;
    if (this.decoder === null) {
      board.request(this.conn.reactor);
      app.onReceive!(this.conn, data);
      return;
    }
    this.decoder.push(data);
    for (let frame = this.decoder.next(); frame !== null && !this.conn.closing; frame = this.decoder.next()) {
      if (isFrameError(frame)) {
        // No resynchronising a byte stream: close it, saying why (the frames before were delivered).
        log(`06-reactor-pool: closing connection ${this.conn.reactor}/${this.conn.id} (${this.conn.remoteAddress}): ${frame.reason} (codec ${this.hooks.codec})`);
        this.conn.close();
        return;
      }
      board.request(this.conn.reactor);
      app.onReceive!(this.conn, frame);
    }
  }
  // #endregion receive-frames

  peerClosed(): void {
    current = this.conn;
    try {
      if (this.inner !== null) this.inner.peerClosed();
      else this.conn.close();
    } catch (err) {
      this.hooks.failed(`the ${this.hooks.name} session`, err, this.conn);
    } finally {
      current = null;
    }
  }

  close(): void {
    this.conn.closed = true;
    this.inner?.close();
    const onClose = this.hooks.app.onClose;
    if (onClose !== undefined) {
      try {
        // The WebSocket's close code, recorded as the protocol reported it (inner.close above).
        onClose(this.conn, this.conn.closeCode, this.conn.closeReason);
      } catch (err) {
        this.hooks.failed('onClose', err, this.conn);
      }
    }
  }
}

/** What `--protocol` selects, plus the static root and the WebSocket limits for HTTP, and the codec for TCP. */
export interface ProtocolChoice {
  protocol: 'http' | 'echo';
  root: string;
  websocket: WebSocketLimits;
  /** A `--codec` spec; 'none' leaves the framing to the app's own `codec` export, if any. */
  codec: string;
}

/**
 * The Protocol of one SubReactor: opens an AppSession per connection. Also holds the per-thread
 * route hook that counts HTTP requests and offers them to the app. One per SubReactor thread,
 * built and used by that thread only.
 */
export class AppProtocol implements Protocol {
  readonly name: 'http' | 'echo';
  readonly scheme: 'http' | 'tcp';
  /** The TCP framing's spec, when there is one. */
  readonly codec?: string;
  private readonly inner: Protocol | null;
  private readonly framing: Codec | null = null;
  private nextId = 0;

  constructor(
    choice: ProtocolChoice,
    readonly app: App,
    readonly server: LocalServer,
    readonly board: StatsBoard,
  ) {
    this.name = choice.protocol;
    this.scheme = choice.protocol === 'http' ? 'http' : 'tcp';
    if (choice.protocol === 'http') {
      const { maxMessage, pingIntervalMs } = choice.websocket; // maxBackpressure: the hub applies it, not the protocol
      const endpoints: Record<string, WebSocketHandler> = { '/ws/echo': echoHandler };
      for (const path of app.webSocketPaths ?? []) endpoints[path] = this.appEndpoint;
      this.inner = httpProtocol({ root: choice.root, websocket: { maxMessage, pingIntervalMs, endpoints }, route: (req, res) => this.route(req, res) });
    } else {
      // TCP: the app's onReceive if it has one, else the echo protocol; framed by --codec, or
      // else by the app's own codec export, or not at all.
      this.framing = parseCodecSpec(choice.codec) ?? app.codec ?? null;
      if (this.framing !== null) this.codec = this.framing.spec;
      this.inner = app.onReceive !== undefined ? null : echoProtocol({ codec: this.framing, log });
    }
  }

  open(sink: Sink, peer?: PeerInfo): Session {
    // With echo, the echo session frames; with the app's onReceive, the AppSession does.
    const appFrames = this.inner === null ? this.framing : null;
    const conn = new Connection(++this.nextId, this.server, sink, peer, appFrames);
    const session = new AppSession(conn, this.inner?.open(sink, peer) ?? null, this, appFrames?.decoder() ?? null);
    if (this.app.onConnect !== undefined) {
      try {
        this.app.onConnect(conn);
      } catch (err) {
        this.failed('onConnect', err, conn);
      }
    }
    return session;
  }

  /**
   * Called by the HTTP session for every request, before static files. Returns true if the app
   * took it. If onRequest throws, the request is answered 500 and the connection closed.
   */
  private route(req: HttpRequest, res: HttpResponder): boolean {
    const conn = current!;
    this.board.request(this.server.index);
    const onRequest = this.app.onRequest;
    if (onRequest === undefined) return false;
    const answer = new OwedAnswer(res, conn);
    conn.owe(answer); // before the call: the app may answer at once, or later from onFinish
    let taken: boolean;
    try {
      taken = onRequest(req, answer, conn);
    } catch (err) {
      this.failed('onRequest', err, conn);
      return true; // answered (500)
    }
    if (!taken) conn.settle(answer); // static files answer it
    return taken;
  }

  // #region app-endpoint
  /**
   * The WebSocket handler of the app's paths: one per thread, shared by every connection (no
   * closure per connection). It ties the protocol's WebSocketConn to the app's Conn and the hub.
   * A hook that throws is caught by the protocol, which closes that connection with 1011.
   */
  private readonly appEndpoint: WebSocketHandler = {
    onOpen: (ws: WebSocketConn, req: HttpRequest): void => {
      const conn = current!; // the handshake completes inside receive/drained, which set it
      conn.ws = ws;
      ws.context = conn;
      this.hub.add(conn);
      this.app.onOpen?.(conn, req);
    },
    onMessage: (ws: WebSocketConn, data: Buffer, isBinary: boolean): void => {
      const conn = ws.context as Connection;
      this.board.message(this.server.index, 'in');
      this.app.onMessage!(conn, data, isBinary);
    },
    onClose: (ws: WebSocketConn, code: number, reason: string): void => {
      const conn = ws.context as Connection;
      conn.closeCode = code;
      conn.closeReason = reason;
      this.hub.remove(conn); // the app's onClose follows, when the Reactor closes the socket
    },
  };
  // #endregion app-endpoint

  private get hub(): WebSocketHub {
    return this.server.hub!;
  }

  /**
   * An app hook (or the protocol) threw while serving `conn`: one log line naming the connection,
   * a 500 for any answer the app still owed it, and that one connection closed. The reactor and
   * every other connection carry on.
   */
  failed(what: string, err: unknown, conn: Connection): void {
    const peer = conn.remoteAddress === '' ? '' : ` (${conn.remoteAddress})`;
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    log(`reactor ${this.server.index}: ${what} threw for connection ${conn.id}${peer}: ${why.replace(/\s*\n\s*/g, ' ')}; closing it`);
    conn.fail();
  }
}
