// #region hooks
/**
 * The application side of the library: the hooks an app module exports, and the objects they get.
 *
 * JavaScript functions cannot cross threads, so an app is not an object handed to the server but
 * a module that EVERY thread imports for itself (module state is per thread): the main thread,
 * each SubReactor and each WorkerPool thread. Each thread calls only the hooks that belong to it:
 *
 *   hook                      runs on          when
 *   onStart(server)           every thread     once, before the thread serves (before the banner)
 *   onConnect(conn)           SubReactor       a connection was handed to this reactor
 *   onReceive(conn, data)     SubReactor       bytes arrived (TCP: --protocol echo, or a
 *                                              connection auto took for TCP); with a codec,
 *                                              one whole frame (and conn.send encodes)
 *   onRequest(req, res, conn) SubReactor       an HTTP request; true = "I answer it" (now or later
 *                                              through res.send), false = static files answer
 *   onOpen(conn, req)         SubReactor       a WebSocket handshake on one of the app's
 *                                              `webSocketPaths` is done (conn.send now frames)
 *   onMessage(conn, data, isBinary) SubReactor a whole WebSocket message
 *   onClose(conn, code, reason) SubReactor     the connection is gone (code and reason: a
 *                                              WebSocket's close code, 1006 if it just dropped;
 *                                              undefined for HTTP and TCP connections)
 *   onTask(payload, server)   WorkerPool       server.task(...) was called; returns the result
 *                                              (or a Promise of it); may block or burn CPU
 *   onFinish(conn, result, tag)  SubReactor    the task's result is back, on the thread that
 *                                              submitted it
 *   onTaskError(conn, error, tag) SubReactor   the task threw, or its worker thread died
 *                                              (default: close the connection)
 *   onTick(server)            SubReactor       every `tickMs` (a timer on the reactor's loop)
 *
 * Pushes (push.ts): `server.send(ref, data)`, `server.close(ref)`, `server.broadcast(data)` and
 * `server.publish(topic, data)` work on EVERY thread; a `conn.ref` is plain data that may travel
 * in a task payload to say where the answer goes.
 *
 * Payloads and results cross threads by structured clone (what postMessage copies: plain data,
 * not functions or class instances). A `tag` never leaves its SubReactor: it is how an app finds
 * its way back to, say, the pending HTTP response a result answers.
 *
 * Besides hooks, an app may export `codec`: a Codec (`lineCodec(4096)`) or a `--codec` spec
 * string (`'length:size=2'`) framing its TCP connections, used unless `--codec` names another.
 */
// #endregion hooks
import { pathToFileURL } from 'node:url';
import type { Buffer } from 'node:buffer';
import { parseCodecSpec, type Codec, type HttpRequest, type HttpResponder } from '@course/protocol';
import { ThreadAffinity } from '@course/server-kit';
import { checkRef, pushFrame, type ConnRef, type Push, type WebSocketHub } from './push.js';
import type { ServerStats, StatsBoard } from './stats.js';

/** Which kind of thread a hook runs on. */
export type ThreadRole = 'main' | 'reactor' | 'worker';

/**
 * The server as seen from one thread. One per thread; hooks receive it (or reach it as
 * `conn.server`). Only the thread it was given to may use it.
 */
export interface ThreadServer {
  readonly role: ThreadRole;
  /** SubReactor or WorkerPool index (0 on the main thread). */
  readonly index: number;
  /** A snapshot of every thread's counters (shared memory: no messages sent). */
  stats(): ServerStats;
  /**
   * SubReactor threads only: run `onTask(payload)` in the WorkerPool; the result comes back to
   * THIS thread as `onFinish(conn, result, tag)` (or `onTaskError`). Returns the task's id, or
   * null when the WorkerPool's queue is full (`maxQueuedTasks`): nothing was submitted, and the
   * app answers at once (the demo: 503 with Retry-After). Throws on other threads, or if the
   * payload cannot be cloned.
   */
  task(payload: unknown, conn: Conn, tag?: unknown): number | null;
  /** Any thread: one message to the WebSocket `ref` names (dropped if it is gone or too far behind). */
  send(ref: ConnRef, data: string | Uint8Array): void;
  /** Any thread: start the closing handshake of the WebSocket `ref` names (default code 1000). */
  close(ref: ConnRef, code?: number, reason?: string): void;
  /** Any thread: one message to every WebSocket of the app on every reactor, but `except`. */
  broadcast(data: string | Uint8Array, options?: { except?: ConnRef }): void;
  /** Any thread: one message to every WebSocket subscribed to `topic`, on every reactor. */
  publish(topic: string, data: string | Uint8Array): void;
}

/**
 * One client connection, as an app sees it. Owned by the SubReactor serving it: use it only from
 * hooks running on that thread (never send it to a task — send plain data instead).
 */
export interface Conn {
  /** Unique per SubReactor (`reactor` + `id` is unique in the process). */
  readonly id: number;
  /** Index of the SubReactor that owns the connection. */
  readonly reactor: number;
  readonly server: ThreadServer;
  /** The peer's address ('' if the socket is already gone); looked up on first use. */
  readonly remoteAddress: string;
  /** True once the connection is closed; `send` then does nothing. */
  readonly closed: boolean;
  /** Bytes queued and not yet sent. */
  readonly pendingBytes: number;
  /** This connection named as plain data, for `server.send(ref, ...)` from any thread. */
  readonly ref: ConnRef;
  /** True once the WebSocket handshake is done (from onOpen on). */
  readonly isWebSocket: boolean;
  /**
   * Queue data for the peer. On a WebSocket: one message (a string as text, bytes as binary
   * unless `isBinary` is false: echoing a text message's bytes needs no decoding), framed here
   * and dropped if the peer is too far behind (see push.ts). Otherwise raw bytes. Copied, so
   * `data` may be the `onReceive` view.
   */
  send(data: Uint8Array | string, isBinary?: boolean): void;
  /** Close once everything queued has been sent. A WebSocket: the closing handshake with `code` (default 1000). */
  close(code?: number, reason?: string): void;
  /**
   * Receive what `server.publish(topic, ...)` sends, from any thread: a WebSocket as messages; a
   * TCP connection (onReceive's) as each message's payload, one frame of its codec — and, while
   * subscribed, with no idle timeout, as a listener.
   */
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  /** Free for the app: per-connection state of its own. */
  context: unknown;
}

/** The hooks an app module may export (as named exports, or as its default export object). */
export interface App {
  onStart?(server: ThreadServer): void | Promise<void>;
  onConnect?(conn: Conn): void;
  onReceive?(conn: Conn, data: Uint8Array): void;
  onRequest?(req: HttpRequest, res: HttpResponder, conn: Conn): boolean;
  onOpen?(conn: Conn, req: HttpRequest): void;
  onMessage?(conn: Conn, data: Buffer, isBinary: boolean): void;
  onClose?(conn: Conn, code?: number, reason?: string): void;
  onTask?(payload: unknown, server: ThreadServer): unknown;
  onFinish?(conn: Conn, result: unknown, tag: unknown): void;
  onTaskError?(conn: Conn, error: string, tag: unknown): void;
  onTick?(server: ThreadServer): void;
  /**
   * Not a hook: the exact paths (no query) whose WebSocket upgrades the app takes, exported as
   * `export const webSocketPaths = ['/ws/chat']`. `/ws/echo` stays the protocol's.
   */
  webSocketPaths?: readonly string[];
  /** The framing of TCP connections: whole frames to onReceive, `conn.send` encoded. A spec string is parsed on load. */
  codec?: Codec;
}

const HOOKS = ['onStart', 'onConnect', 'onReceive', 'onRequest', 'onOpen', 'onMessage', 'onClose', 'onTask', 'onFinish', 'onTaskError', 'onTick'] as const;

/** A module path (absolute or relative to the working directory) or a URL, as a URL string every thread can import. */
export function appUrl(pathOrUrl: string | URL): string {
  if (pathOrUrl instanceof URL) return pathOrUrl.href;
  return /^(file|data):/.test(pathOrUrl) ? pathOrUrl : pathToFileURL(pathOrUrl).href;
}

/**
 * Import an app module and check its hooks. Any thread. Throws a clear Error for a module that
 * exports a non-function hook or an unknown `on…` name (a typo such as `onRecieve` would
 * otherwise be silently ignored).
 */
export async function loadApp(url: string): Promise<App> {
  const mod = (await import(url)) as Record<string, unknown>;
  const source = typeof mod.default === 'object' && mod.default !== null ? (mod.default as Record<string, unknown>) : mod;
  const app: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(source)) {
    if (!/^on[A-Z]/.test(name)) continue; // other exports (helpers, constants) are the app's business
    if (!(HOOKS as readonly string[]).includes(name)) throw new Error(`app ${url}: unknown hook ${name} (hooks: ${HOOKS.join(', ')})`);
    if (typeof value !== 'function') throw new Error(`app ${url}: ${name} must be a function`);
    app[name] = (value as (...args: unknown[]) => unknown).bind(source); // a default-export object may use `this`
  }
  const paths = source.webSocketPaths;
  if (paths !== undefined) {
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string' && p.startsWith('/'))) throw new Error(`app ${url}: webSocketPaths must be an array of paths starting with /`);
    if (app.onMessage === undefined) throw new Error(`app ${url}: webSocketPaths without an onMessage hook`);
    app.webSocketPaths = Object.freeze([...(paths as string[])]);
  }
  if (source.codec !== undefined) app.codec = appCodec(url, source.codec);
  return app as App;
}

/**
 * The `error` onTaskError gets for a task not answered within `taskTimeoutMs`. Its result, if it
 * ever comes, is dropped: the client has had its answer.
 */
export const TASK_TIMED_OUT = 'task timed out';
/** An app's `codec` export: a spec string, or an object with the Codec methods. */
function appCodec(url: string, value: unknown): Codec {
  if (typeof value === 'string') {
    try {
      const codec = parseCodecSpec(value);
      if (codec !== null) return codec;
    } catch (err) {
      throw new Error(`app ${url}: codec: ${errorText(err)}`);
    }
  }
  const c = value as Partial<Codec> | null;
  if (typeof c === 'object' && c !== null && typeof c.decoder === 'function' && typeof c.encode === 'function' && typeof c.spec === 'string') return c as Codec;
  throw new Error(`app ${url}: codec must be a Codec or a codec spec such as 'line', got ${JSON.stringify(value)}`);
}

/** An error's message, for task failures sent across threads as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Submits a task for a SubReactor; see `ThreadServer.task`. */
export type TaskSubmitter = (payload: unknown, conn: Conn, tag: unknown) => number | null;

/** Sends a push to the reactors it names (push.ts `pushTargets`): their inboxes and wake-ups. */
export type PushPoster = (push: Push) => void;

/**
 * The ThreadServer of one thread. Built once per thread by that thread's entry module, and used
 * by that thread only (`affinity` checks it, and the connections of a SubReactor check through it).
 */
export class LocalServer implements ThreadServer {
  readonly affinity: ThreadAffinity;
  /** SubReactor threads: the local half of every push (set by the SubReactor). */
  hub: WebSocketHub | null = null;

  constructor(
    readonly role: ThreadRole,
    readonly index: number,
    private readonly board: StatsBoard,
    private readonly submit?: TaskSubmitter,
    private readonly post?: PushPoster,
  ) {
    this.affinity = new ThreadAffinity(`the ThreadServer of ${role} ${index}`);
  }

  // #region thread-server-push
  send(ref: ConnRef, data: string | Uint8Array): void {
    const to = checkRef(ref);
    this.route({ kind: 'send', to: { reactor: to.reactor, id: to.id }, frame: pushFrame(data) }, to.reactor === this.local);
  }

  close(ref: ConnRef, code = 1000, reason = ''): void {
    const to = checkRef(ref);
    this.route({ kind: 'close', to: { reactor: to.reactor, id: to.id }, code, reason }, to.reactor === this.local);
  }

  broadcast(data: string | Uint8Array, options?: { except?: ConnRef }): void {
    const except = options?.except === undefined ? null : checkRef(options.except);
    this.fanOut({ kind: 'broadcast', frame: pushFrame(data), except, origin: this.local });
  }

  publish(topic: string, data: string | Uint8Array): void {
    if (typeof topic !== 'string') throw new TypeError('publish(): the topic must be a string');
    this.fanOut({ kind: 'publish', topic, frame: pushFrame(data), origin: this.local });
  }

  /** This thread's reactor index, or -1 off the SubReactors (then every reactor is remote). */
  private get local(): number {
    return this.hub === null ? -1 : this.index;
  }

  /** A push for one connection: here, or to its reactor. */
  private route(push: Push, here: boolean): void {
    this.affinity.check();
    if (here) this.hub!.apply(push);
    else this.postOut(push);
  }

  /** A push for every reactor: ours at once, the others through their inboxes. */
  private fanOut(push: Push): void {
    this.affinity.check();
    this.hub?.apply(push);
    if (this.board.reactorCount > (this.hub === null ? 0 : 1)) this.postOut(push);
  }

  private postOut(push: Push): void {
    if (this.post === undefined) throw new Error(`pushes are not available on this ${this.role} thread`);
    this.post(push);
  }
  // #endregion thread-server-push

  stats(): ServerStats {
    return this.board.snapshot();
  }

  task(payload: unknown, conn: Conn, tag?: unknown): number | null {
    this.affinity.check();
    if (this.submit === undefined) throw new Error(`server.task() runs on SubReactor threads only (this is a ${this.role} thread)`);
    return this.submit(payload, conn, tag);
  }
}
