/**
 * A SubReactor: one worker thread running step 05's epoll loop (its `Reactor`, reused as is) for
 * the connections the MainReactor hands it. It does all of their I/O and runs the app's
 * connection hooks; it never accepts and never runs anything slow (that is `server.task`).
 *
 * Its epoll set holds its connections plus one eventfd, its wake-up. The eventfd fires when
 *   - the MainReactor pushed new connections onto its hand-off ring;
 *   - a task result came back (the MainReactor posted it on this thread's MessagePort);
 *   - a push from another thread arrived (on the same port: push.ts);
 *   - shutdown began (the Lifecycle phase changed).
 * On a wake-up the SubReactor resets the eventfd FIRST and then empties the ring and the port, so
 * anything pushed after it looked comes with a fresh wake-up: nothing is missed.
 *
 * Why MessagePort + receiveMessageOnPort for results: this thread sleeps in epoll_wait, never in
 * Node's event loop, so a message 'event' would never be delivered; reading the port
 * synchronously after the eventfd fires is the "queue + eventfd" pattern with a queue Node
 * already has (and it carries any cloneable result, not just integers).
 *
 * Ownership: a SubReactor, its Reactor and its connections belong to its thread. The MainReactor
 * only touches the shared parts (ring, port, lifecycle flags, stats row) from the other side.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { log } from '@course/server-kit';
import { Reactor, type ReactorMode } from '05-epoll-native';
import { LocalServer, type App, type Conn } from './app.js';
import { AppProtocol, DEFAULT_MAX_BACKPRESSURE, type Connection, type ProtocolChoice } from './connection.js';
import { FdRing, Lifecycle, type TaskReply, type TaskRequest } from './handoff.js';
import { WebSocketHub, isPushEnvelope, type Push, type PushEnvelope } from './push.js';
import { StatsBoard } from './stats.js';

/** What a SubReactor thread is started with (workerData). Plain data: it crosses threads. */
export interface SubReactorData extends ProtocolChoice {
  index: number;
  appUrl: string;
  mode: ReactorMode;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  tickMs: number;
  /** This SubReactor's eventfd (created by the main thread; fds are process-wide). */
  wakeFd: number;
  /** The main thread's eventfd: written after posting a task. */
  mainWakeFd: number;
  ringBuffer: SharedArrayBuffer;
  lifecycleBuffer: SharedArrayBuffer;
  statsBuffer: SharedArrayBuffer;
  /** To the main thread: task requests out, task replies in. */
  port: MessagePort;
}

/** A task sent to the pool and not answered yet. */
interface PendingTask {
  conn: Connection;
  tag: unknown;
}

export class SubReactor {
  readonly index: number;
  private readonly reactor: Reactor;
  private readonly ring: FdRing;
  private readonly lifecycle: Lifecycle;
  private readonly board: StatsBoard;
  private readonly server: LocalServer;
  private readonly tasks = new Map<number, PendingTask>();
  private taskSeq = 0;
  /** A task was posted this turn: wake the main thread once, after the turn. */
  private mainNeedsWake = false;

  constructor(
    private readonly data: SubReactorData,
    private readonly app: App,
  ) {
    this.index = data.index;
    this.ring = new FdRing(data.ringBuffer);
    this.lifecycle = new Lifecycle(data.lifecycleBuffer);
    this.board = new StatsBoard(data.statsBuffer);
    this.server = new LocalServer('reactor', data.index, this.board, (payload, conn, tag) => this.submit(payload, conn, tag), (push) => this.postPush(push));
    this.server.hub = new WebSocketHub(data.index, this.board, data.websocket.maxBackpressure ?? DEFAULT_MAX_BACKPRESSURE);
    this.reactor = new Reactor({
      protocol: new AppProtocol(data, app, this.server, this.board),
      mode: data.mode,
      headerTimeoutMs: data.headerTimeoutMs,
      idleTimeoutMs: data.idleTimeoutMs,
    });
    this.reactor.watch(data.wakeFd, () => this.onWake());
    if (app.onTick !== undefined) this.reactor.after(data.tickMs, () => this.tick());
  }

  /** The thread's ThreadServer, for onStart. */
  get threadServer(): LocalServer {
    return this.server;
  }

  /**
   * The loop. Sleeps in epoll_wait until a connection or the wake-up eventfd is ready (or a
   * deadline is due). Returns once shutdown was requested and every connection has finished.
   */
  run(): void {
    for (;;) {
      // While draining, wake up now and then even if nothing happens, to notice the end.
      this.reactor.runOnce(this.lifecycle.draining ? 100 : -1);
      if (this.mainNeedsWake) {
        this.mainNeedsWake = false; // one wake-up per turn, however many tasks were posted
        sys.eventfdSignal(this.data.mainWakeFd);
      }
      const s = this.reactor.stats;
      this.board.publishReactor(this.index, s.accepted, s.connections, s.bytesIn, s.bytesOut);
      if (this.lifecycle.draining && this.reactor.drain()) break;
    }
    this.lifecycle.markDrained(this.index);
    sys.eventfdSignal(this.data.mainWakeFd);
    this.reactor.unwatch(this.data.wakeFd);
    this.reactor.close();
  }

  /** The eventfd fired: reset it, then take every new connection and every task reply. */
  private onWake(): void {
    sys.eventfdDrain(this.data.wakeFd);
    for (let fd = this.ring.pop(); fd !== -1; fd = this.ring.pop()) {
      const addr = sys.getpeername(fd);
      this.reactor.adopt(fd, typeof addr === 'number' ? undefined : { address: addr.address, port: addr.port });
    }
    for (let m = receiveMessageOnPort(this.data.port); m !== undefined; m = receiveMessageOnPort(this.data.port)) {
      if (isPushEnvelope(m.message)) this.server.hub!.apply(m.message.push);
      else this.onReply(m.message as TaskReply);
    }
  }

  /** A push for other reactors: to the MainReactor, which relays it (woken once per turn). */
  private postPush(push: Push): void {
    this.data.port.postMessage({ push } satisfies PushEnvelope);
    this.mainNeedsWake = true;
  }

  /** `server.task(payload, conn, tag)` on this thread. */
  private submit(payload: unknown, conn: Conn, tag: unknown): number {
    const c = conn as Connection;
    if (c.server !== this.server) throw new Error('server.task(): the connection belongs to another reactor thread');
    const id = ++this.taskSeq;
    const request: TaskRequest = { id, payload };
    this.data.port.postMessage(request); // throws (DataCloneError) before anything is recorded
    this.tasks.set(id, { conn: c, tag });
    c.tasksInFlight++;
    this.board.task(this.index);
    this.mainNeedsWake = true;
    return id;
  }

  /** A task's outcome is back: hand it to the app, on the thread that owns the connection. */
  private onReply(reply: TaskReply): void {
    const pending = this.tasks.get(reply.id);
    if (pending === undefined) return;
    this.tasks.delete(reply.id);
    const { conn, tag } = pending;
    conn.tasksInFlight--;
    try {
      if (reply.ok) {
        this.app.onFinish?.(conn, reply.value, tag);
      } else if (this.app.onTaskError !== undefined) {
        this.app.onTaskError(conn, reply.error, tag);
      } else {
        // No way to answer for the app: end the connection rather than leave the client waiting.
        log(`reactor ${this.index}: task ${reply.id} failed (${reply.error}); closing connection ${conn.id}`);
        conn.close();
      }
    } catch (err) {
      log(`reactor ${this.index}: ${reply.ok ? 'onFinish' : 'onTaskError'} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      conn.close();
    }
  }

  /** onTick, every tickMs, on this loop (output it queues leaves in the same turn). */
  private tick(): void {
    try {
      this.app.onTick!(this.server);
    } catch (err) {
      log(`reactor ${this.index}: onTick threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    if (!this.lifecycle.draining) this.reactor.after(this.data.tickMs, () => this.tick());
  }
}
