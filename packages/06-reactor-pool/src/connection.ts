/**
 * Where the app's hooks meet step 05's Reactor: the Protocol a SubReactor gives its Reactor.
 *
 * For each connection the Reactor adopts, `open` builds two small objects (no closures, no
 * buffers: an idle connection must stay cheap — the goal is 10,000 idle connections at under
 * 4 KB each):
 *   - a `Connection`, the app's `Conn` (send, close, context);
 *   - an `AppSession`, the Session the Reactor feeds. It forwards bytes to the real protocol:
 *     HTTP (whose `route` calls the app's onRequest), the TCP side (echo, or for an app that
 *     exports onReceive, an `AppTcpSession` that hands it frames), or — `--protocol auto` — the
 *     shared sniffing session, which becomes one of those two on the first bytes.
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
  parseCodecSpec,
  receiveFrames,
  sniffProtocol,
  type Codec,
  type FrameDecoder,
  type FrameReceiver,
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
  /** A TCP subscriber cut as a slow consumer (the hub's `cutSlow`): the reactor closes it at its next sweep. */
  cut = false;
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
  /** Served by the app's onReceive (TCP), from `servedAsTcp` on; with auto, decided by the first bytes. */
  tcp = false;
  /** The TCP framing: `send` encodes each frame with it. Null: bytes go out as they are. */
  private codec: Codec | null = null;

  constructor(
    readonly id: number,
    readonly server: LocalServer,
    private readonly sink: Sink,
    private readonly peer: PeerInfo | undefined,
  ) {}

  /** The connection is the app's TCP side (AppTcpProtocol.open): `send` frames with `codec` from now on. */
  servedAsTcp(codec: Codec | null): void {
    this.tcp = true;
    this.codec = codec;
  }

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

  /** Subscribed to some topic: a listener, kept open like a WebSocket (no idle timeout). */
  get subscribed(): boolean {
    return this.topics !== null && this.topics.size > 0;
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
    if (this.ws === null && !this.tcp) throw new Error('conn.subscribe(): not a WebSocket or TCP connection (call it from onOpen, onMessage or onReceive)');
    if (this.tcp) this.server.hub!.addStream(this); // a TCP listener joins the hub on its first topic
    this.server.hub!.subscribe(this, topic);
  }

  /**
   * The hub's delivery to a TCP subscriber: one message's payload as one frame of the codec
   * (raw bytes without one). False if it cannot go: closing, or a frame the codec cannot carry.
   */
  sendPayload(payload: Uint8Array): boolean {
    if (!this.tcp || this.closed || this.ending) return false;
    if (this.codec === null) {
      if (payload.length > 0) this.sink.write(payload); // the payload views a frame nobody modifies
      return true;
    }
    try {
      this.sink.write(this.codec.encode(payload));
      return true;
    } catch {
      return false; // a line holding a newline, say: dropped and counted by the hub, like a slow consumer's
    }
  }

  /**
   * The hub's slow-consumer policy 'close' for a TCP subscriber (push.ts): there is no close code
   * to send, so the connection just ends. Not after its backlog, which a client this far behind
   * may never take: its session asks the reactor to close it now (AppTcpSession.deadline).
   */
  cutSlow(): void {
    if (this.closed || this.ending) return;
    this.cut = true;
    this.ending = true;
    this.sink.end();
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
    /** The protocol's own session: HTTP, echo, the app's TCP side, or (auto) the sniffing one. */
    private readonly inner: Session,
    private readonly hooks: AppProtocol,
  ) {}

  /** A request (or, for a framed app, a frame; or, undecided under auto, anything) has begun: the header timeout applies. */
  get midRequest(): boolean {
    return this.inner.midRequest;
  }

  /** Busy, not idle, while a task for this connection is out or the protocol owes an answer. */
  get awaiting(): boolean {
    return this.conn.tasksInFlight > 0 || this.inner.awaiting;
  }

  get paused(): boolean {
    return this.inner.paused;
  }

  /** A WebSocket's own deadline (heartbeat, close wait), once the HTTP session upgraded; Infinity for a TCP listener. */
  get deadline(): number {
    return this.inner.deadline ?? 0;
  }

  timeout(now: number): boolean {
    return this.inner.timeout?.(now) ?? true;
  }

  drained(): void {
    current = this.conn; // a held request may reach the app's route
    try {
      this.inner.drained();
    } catch (err) {
      this.hooks.failed(this.what, err, this.conn);
    } finally {
      current = null;
    }
  }

  receive(data: Uint8Array): void {
    current = this.conn; // also for the sniffing session, which opens the chosen side inside this call
    try {
      this.inner.receive(data); // HTTP counts requests in its route hook, the app's TCP side per frame
    } catch (err) {
      this.hooks.failed(this.what, err, this.conn);
    } finally {
      current = null;
    }
  }

  peerClosed(): void {
    current = this.conn;
    try {
      this.inner.peerClosed();
    } catch (err) {
      this.hooks.failed(this.what, err, this.conn);
    } finally {
      current = null;
    }
  }

  close(): void {
    this.conn.closed = true;
    this.inner.close();
    if (this.conn.tcp) this.conn.server.hub!.remove(this.conn); // a TCP subscriber leaves its topics
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

  /** Who threw, for the log line: the app's onReceive, or the protocol's session. */
  private get what(): string {
    if (this.conn.tcp) return 'onReceive';
    return `the ${this.hooks.name} session`;
  }
}

/**
 * The app's TCP side (it exports onReceive): whole frames to the app, or the bytes as they came
 * without a codec. Owned by its connection's SubReactor thread.
 */
class AppTcpSession implements Session, FrameReceiver {
  readonly awaiting = false;
  readonly paused = false;

  constructor(
    private readonly conn: Connection,
    private readonly hooks: AppProtocol,
    /** With a codec: this connection's partial frame. */
    private readonly decoder: FrameDecoder | null,
  ) {}

  /** Mid-frame while a partial frame is held: a client that stops halfway meets the header timeout. */
  get midRequest(): boolean {
    return this.decoder !== null && !this.conn.closed && this.decoder.buffered > 0;
  }

  /**
   * A subscriber (the demo's chat user) listens more than it speaks: no idle timeout, as for a
   * WebSocket. Mid-frame, the header timeout still applies (0: the reactor's own timeouts). Cut
   * as a slow consumer: a time long past, so that the reactor's next sweep closes it (there is
   * no `timeout` here to say otherwise).
   */
  get deadline(): number {
    if (this.conn.cut) return 1;
    return this.conn.subscribed && !this.midRequest ? Infinity : 0;
  }

  /** To the app: the bytes as they came, or each whole frame (a view, valid during the call). */
  // #region receive-frames
  receive(data: Uint8Array): void {
    const { app, board } = this.hooks;
    if (this.decoder === null) {
      board.request(this.conn.reactor);
      app.onReceive!(this.conn, data);
      return;
    }
    receiveFrames(this.decoder, data, this);
  }

  get stopped(): boolean {
    return this.conn.closing;
  }

  onFrame(frame: Uint8Array): void {
    this.hooks.board.request(this.conn.reactor);
    this.hooks.app.onReceive!(this.conn, frame);
  }

  /** No resynchronising a byte stream: close it, saying why (the frames before were delivered). */
  onFrameError(reason: string): void {
    log(`06-reactor-pool: closing connection ${this.conn.reactor}/${this.conn.id} (${this.conn.remoteAddress}): ${reason} (codec ${this.hooks.codec})`);
    this.conn.close();
  }
  // #endregion receive-frames

  peerClosed(): void {
    this.conn.close();
  }

  drained(): void {
    // Nothing held back.
  }

  close(): void {
    // The decoder is dropped with the session.
  }
}

/**
 * The Protocol of the app's TCP side: one AppTcpSession per connection. Opened from inside
 * AppSession (at open, or — auto — in the receive that decided), so `current` names the
 * connection. One per SubReactor thread.
 */
class AppTcpProtocol implements Protocol {
  readonly name = 'echo' as const;
  readonly scheme = 'tcp' as const;
  readonly codec?: string;

  constructor(
    private readonly hooks: AppProtocol,
    private readonly framing: Codec | null,
  ) {
    if (framing !== null) this.codec = framing.spec;
  }

  open(): Session {
    const conn = current!;
    conn.servedAsTcp(this.framing);
    return new AppTcpSession(conn, this.hooks, this.framing?.decoder() ?? null);
  }
}

/** What `--protocol` selects, plus the static root and the WebSocket limits for HTTP, and the codec for TCP. */
export interface ProtocolChoice {
  /** auto: both on one listener, told apart by each connection's first bytes (the shared sniffProtocol). */
  protocol: 'http' | 'echo' | 'auto';
  root: string;
  websocket: Readonly<Required<WebSocketLimits>>;
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
  /** HTTP, the TCP side, or (auto) the sniffing protocol over both. */
  private readonly inner: Protocol;
  private nextId = 0;

  constructor(
    choice: ProtocolChoice,
    /**
     * The app module in use. A reload (sub-reactor.ts) replaces it between two turns; the hooks
     * are looked up here at each call, so they are always the current module's. What the
     * protocol was built from (onReceive, webSocketPaths, codec) a reload may not change.
     */
    public app: App,
    readonly server: LocalServer,
    readonly board: StatsBoard,
  ) {
    const http = choice.protocol === 'echo' ? null : this.httpSide(choice);
    const tcp = choice.protocol === 'http' ? null : this.tcpSide(choice.codec);
    // #region auto-protocol
    // auto: the shared sniffer picks, per connection, within SNIFF_LIMIT bytes; until then the
    // connection is mid-request, so a client that says nothing meets the header timeout.
    this.inner = http !== null && tcp !== null ? sniffProtocol(http, tcp) : (http ?? tcp)!;
    // #endregion auto-protocol
    this.name = this.inner.name;
    this.scheme = this.inner.scheme;
    const codec = tcp?.codec;
    if (codec !== undefined) this.codec = codec;
  }

  /** HTTP: static files after the app's onRequest, `/ws/echo` and the app's WebSocket paths. */
  private httpSide(choice: ProtocolChoice): Protocol {
    const { maxMessage, pingIntervalMs, maxBackpressure, slowConsumer } = choice.websocket;
    // The app's endpoints get the slow-consumer bound and policy (push.ts): their sessions apply
    // it to every frame the app sends or pushes. `/ws/echo` only answers, which the reactor
    // bounds by reading no more from a connection whose output piles up: no bound of its own.
    const app: WebSocketHandler = { ...this.appEndpoint, options: { maxBackpressure, onBackpressure: slowConsumer } };
    const endpoints: Record<string, WebSocketHandler> = { '/ws/echo': echoHandler };
    for (const path of this.app.webSocketPaths ?? []) endpoints[path] = app;
    return httpProtocol({ root: choice.root, websocket: { maxMessage, pingIntervalMs, endpoints }, route: (req, res) => this.route(req, res) });
  }

  /**
   * TCP: the app's onReceive if it has one, else the echo protocol; framed by --codec, or else by
   * the app's own codec export, or not at all.
   */
  private tcpSide(spec: string): Protocol {
    const framing = parseCodecSpec(spec) ?? this.app.codec ?? null;
    return this.app.onReceive !== undefined ? new AppTcpProtocol(this, framing) : echoProtocol({ codec: framing, log });
  }

  open(sink: Sink, peer?: PeerInfo): Session {
    const conn = new Connection(++this.nextId, this.server, sink, peer);
    current = conn; // the app's TCP side, opened here (echo mode), learns its connection so
    let session: AppSession;
    try {
      session = new AppSession(conn, this.inner.open(sink, peer), this);
    } finally {
      current = null;
    }
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
