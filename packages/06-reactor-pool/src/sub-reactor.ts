/**
 * A SubReactor: one worker thread running step 05's epoll loop (its `Reactor`, reused as is) for
 * the connections the MainReactor hands it — or, with `--accept reuseport|exclusive|shared`,
 * the ones it accepts itself (balancer.ts). It does all of their I/O, runs the app's connection
 * hooks, and posts tasks to the WorkerPool threads itself; it never runs anything slow (that is
 * `server.task`).
 *
 * Its epoll set holds its connections, its listener if it accepts for itself, and one eventfd,
 * its wake-up. The eventfd fires when
 *   - the MainReactor pushed new connections onto its hand-off ring;
 *   - a pool thread posted a task's reply on its link to this SubReactor;
 *   - the pool's supervisor posted a note (a pool thread started or ended);
 *   - another SubReactor or a pool thread sent a push (push.ts) on its port to this one;
 *   - shutdown began (the Lifecycle phase changed);
 *   - a reload was asked for (a ReloadNote on the control port).
 * On a wake-up the SubReactor resets the eventfd FIRST and then empties the ring and the ports, so
 * anything pushed after it looked comes with a fresh wake-up: nothing is missed.
 *
 * Why MessagePort + receiveMessageOnPort: this thread sleeps in epoll_wait, never in Node's event
 * loop, so a message 'event' would never be delivered; reading the port synchronously after the
 * eventfd fires is the "queue + eventfd" pattern with a queue Node already has (and it carries
 * any cloneable result, not just integers).
 *
 * Ownership: a SubReactor, its Reactor, its links and its connections belong to its thread
 * (`affinity` checks it when COURSE_CHECK_THREADS=1). Other threads touch only the shared parts
 * from the other side: the ring (main), the ports (main, pool threads), the lifecycle flags and
 * the stats board.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { log, ThreadAffinity } from '@course/server-kit';
import { Acceptor, Reactor } from '05-epoll-native';
import { LocalServer, TASK_TIMED_OUT, errorText, loadApp, type App, type Conn } from './app.js';
import { Admission, ownListener } from './balancer.js';
import { AppProtocol, type Connection } from './connection.js';
import { FdRing, LINK_END, Lifecycle, WakeFlags, type PoolNote, type TaskReply, type TaskRequest } from './handoff.js';
import type { Settings } from './options.js';
import { WebSocketHub, isPushEnvelope, pushTargets, type Push, type PushEnvelope } from './push.js';
import { StatsBoard } from './stats.js';

/** What a SubReactor thread is started with (workerData). Plain data: it crosses threads. */
export interface SubReactorData {
  settings: Settings;
  index: number;
  /** This SubReactor's eventfd (created by the main thread; fds are process-wide). */
  wakeFd: number;
  ringBuffer: SharedArrayBuffer;
  /** Every SubReactor's wake-up pending flag (see WakeFlags). */
  wakeFlagsBuffer: SharedArrayBuffer;
  lifecycleBuffer: SharedArrayBuffer;
  statsBuffer: SharedArrayBuffer;
  /** From the main thread: PoolNotes (transferred). */
  control: MessagePort;
  /** Pushes: this SubReactor's end of a channel to every other SubReactor (null at its own index). */
  peers: Array<MessagePort | null>;
  /** Every SubReactor's eventfd, to wake the one a push went to. */
  wakeFds: number[];
  /** The server's listening sockets (owned by the main thread); which one this thread watches, if any: `ownListener`. */
  listenFds: number[];
}

/** Main → SubReactor, on the control port: import the app module at `app` and use it from now on. */
export interface ReloadNote {
  kind: 'reload';
  app: string;
}

/** SubReactor → main (parentPort): the reload is done (`error` null) or this thread kept the old module. */
export interface ReloadReport {
  kind: 'reloaded';
  error: string | null;
}

/** This SubReactor's end of its link to one pool thread. Owned by the SubReactor thread. */
interface PoolLink {
  /** The pool slot, and which thread of that slot. */
  index: number;
  gen: number;
  port: MessagePort;
}

/** A task submitted and not answered yet. Owned by the SubReactor thread that submitted it. */
interface PendingTask {
  conn: Connection;
  tag: unknown;
  /** Where it was posted; null while it waits for a pool thread (see `waiting`). */
  link: PoolLink | null;
  /** When it was submitted (Date.now()), for taskTimeoutMs. */
  at: number;
  /** Answered as timed out already: its result, when it comes, only settles the pool's count. */
  timedOut: boolean;
}

/** One SubReactor. Built by its thread's entry module (sub-reactor-thread.ts); used by that thread only. */
export class SubReactor {
  readonly index: number;
  private readonly settings: Settings;
  private readonly reactor: Reactor;
  private readonly protocol: AppProtocol;
  private readonly ring: FdRing;
  private readonly wakeFlags: WakeFlags;
  private readonly lifecycle: Lifecycle;
  private readonly board: StatsBoard;
  private readonly server: LocalServer;
  private readonly affinity: ThreadAffinity;
  private readonly tasks = new Map<number, PendingTask>();
  private taskSeq = 0;
  /** The current thread of each pool slot (where new tasks go). */
  private readonly current: Array<PoolLink | undefined> = [];
  /** Every link with replies possibly still to come: the current ones and retiring ones. */
  private links: PoolLink[] = [];
  /** Where the next scan for the least loaded pool slot starts: ties spread round-robin. */
  private nextSlot = 0;
  /**
   * Tasks no pool thread may take yet: every one has been given its `maxRequests` and their
   * successors have not joined. Rare and short; posted on the next wake-up that brings one.
   */
  private waiting: TaskRequest[] = [];
  /** Reactors this turn's pushes went to: each is woken once, after the turn. */
  private readonly pushedTo: boolean[];
  private pushedAny = false;
  /** Accepting for itself (not --accept main): step 05's Acceptor on its listener, until the drain. */
  private acceptor: Acceptor | null = null;
  private readonly admission: Admission;
  /** A reload asked for: the URL to import after this turn. */
  private reloadTo: string | null = null;
  /** onTick is scheduled (a reload may bring or drop the hook). */
  private ticking = false;

  constructor(
    private readonly data: SubReactorData,
    /** The app module in use; a reload replaces it. */
    private app: App,
    /** Sends a ReloadReport to the main thread. */
    private readonly report: (r: ReloadReport) => void,
  ) {
    this.index = data.index;
    this.settings = data.settings;
    this.affinity = new ThreadAffinity(`SubReactor ${data.index}`);
    this.ring = new FdRing(data.ringBuffer);
    this.wakeFlags = new WakeFlags(data.wakeFlagsBuffer);
    this.lifecycle = new Lifecycle(data.lifecycleBuffer);
    this.board = new StatsBoard(data.statsBuffer);
    this.server = new LocalServer('reactor', data.index, this.board, (payload, conn, tag) => this.submit(payload, conn, tag), (push) => this.sendPush(push));
    this.server.hub = new WebSocketHub(data.index, this.board, this.settings.websocket.maxBackpressure, this.settings.websocket.slowConsumer);
    this.pushedTo = data.peers.map(() => false);
    this.protocol = new AppProtocol(this.settings, app, this.server, this.board);
    this.reactor = new Reactor({
      protocol: this.protocol,
      mode: this.settings.mode,
      sendBatch: this.settings.sendBatch,
      headerTimeoutMs: this.settings.headerTimeoutMs,
      idleTimeoutMs: this.settings.idleTimeoutMs,
    });
    this.reactor.watch(data.wakeFd, () => this.onWake());
    this.admission = new Admission(this.settings, this.board, data.index);
    const own = ownListener(this.settings.accept, data.listenFds, data.index);
    if (own !== null) this.acceptor = new Acceptor(this.reactor, own.fd, (fd) => this.accepted(fd), { edgeTriggered: true, exclusive: own.exclusive });
    this.startTicking();
    if (this.settings.taskTimeoutMs > 0) this.reactor.after(this.taskSweepMs, () => this.expireTasks());
  }

  /** Tasks are checked for taskTimeoutMs by a sweep, like the reactor's deadlines: a tenth of it, 10 ms..1 s. */
  private get taskSweepMs(): number {
    return Math.min(1000, Math.max(10, Math.floor(this.settings.taskTimeoutMs / 10)));
  }

  /** The thread's ThreadServer, for onStart. */
  get threadServer(): LocalServer {
    return this.server;
  }

  // #region sub-reactor-run
  /**
   * The loop. Sleeps in epoll_wait until a connection or the wake-up eventfd is ready (or a
   * deadline is due). Returns once shutdown was requested and every connection has finished —
   * or at once, closing them all, when the main thread says leave (drain timed out, or the
   * process is exiting).
   */
  async run(): Promise<void> {
    for (;;) {
      // While draining, wake up now and then even if nothing happens, to notice the end.
      this.reactor.runOnce(this.lifecycle.draining ? 100 : -1);
      if (this.pushedAny) this.wakePushed();
      this.publish();
      if (this.lifecycle.leaving) break;
      if (this.lifecycle.draining) {
        this.stopAccepting();
        if (this.reactor.drain()) break;
      }
      if (this.reloadTo !== null) await this.reload(this.reloadTo); // the only await: between two turns
    }
    this.stopAccepting();
    this.reactor.unwatch(this.data.wakeFd); // the main thread closes it, once this thread is gone
    this.reactor.close(); // what is left of the connections, and the epoll fd
    for (const link of this.links) link.port.close();
    for (const peer of this.data.peers) peer?.close();
    this.data.control.close();
    this.lifecycle.markDrained(this.index);
  }
  // #endregion sub-reactor-run

  private publish(): void {
    const s = this.reactor.stats;
    this.board.publishReactor(this.index, s.accepted, s.connections, s.bytesIn, s.bytesOut);
    const a = this.acceptor?.stats;
    if (a !== undefined) this.board.publishAccept(this.index, a.wakeups, a.empty, a.eagain);
  }

  // #region sub-reactor-accept
  /** Accepting for itself: a new connection, straight from accept4 to this thread's Reactor. */
  private accepted(fd: number): void {
    if (!this.admission.admit(fd)) return; // maxConnections are open: refused
    this.board.assigned(this.index); // counted open at once, so the next admit sees it
    this.adopt(fd);
  }

  /** The drain began (or the thread ends): stop watching the listener; the main thread closes it. */
  private stopAccepting(): void {
    if (this.acceptor === null) return;
    this.publish();
    this.acceptor.close();
    this.acceptor = null;
  }
  // #endregion sub-reactor-accept

  private adopt(fd: number): void {
    const addr = sys.getpeername(fd);
    this.reactor.adopt(fd, typeof addr === 'number' ? undefined : { address: addr.address, port: addr.port });
  }

  // #region sub-reactor-reload
  /**
   * Between two turns: import the app afresh (a new URL, so not from the module cache), run its
   * onStart for this thread, and use it from the next turn on. The connections stay where they
   * are, with their `context`; the protocol keeps what it was built from (see reload() on the
   * main thread). While the import runs (milliseconds) this loop does not turn: the kernel
   * buffers what arrives. A module that fails here is reported, and the old one stays.
   */
  private async reload(url: string): Promise<void> {
    this.reloadTo = null;
    let error: string | null = null;
    try {
      const next = await loadApp(url);
      await next.onStart?.(this.server);
      this.app = next;
      this.protocol.app = next; // the hooks the connections call, from the next turn on
      this.startTicking();
    } catch (err) {
      error = errorText(err);
      log(`reactor ${this.index}: reload failed, keeping the previous app module: ${error}`);
    }
    this.report({ kind: 'reloaded', error });
  }
  // #endregion sub-reactor-reload

  // #region sub-reactor-wake
  /** The eventfd fired: reset it, then take every pool note, new connection and task reply. */
  private onWake(): void {
    this.affinity.check();
    // Drain, THEN clear. The other way round, a sender could set the flag and write the eventfd
    // between the two, the drain would swallow that write, and the flag would stay set: every
    // later sender would skip its write and this thread would sleep with work queued. Now a write
    // after the drain stays pending (at worst a spurious wake-up), and every sender after the
    // clear writes again; whatever was queued before the clear is seen below.
    sys.eventfdDrain(this.data.wakeFd);
    this.wakeFlags.clear(this.index);
    this.takeNotes();
    for (let fd = this.ring.pop(); fd !== -1; fd = this.ring.pop()) this.adopt(fd);
    for (const link of this.links) this.takeReplies(link);
    if (this.waiting.length > 0) this.postWaiting();
    for (const peer of this.data.peers) if (peer !== null) this.takePushes(peer);
  }
  // #endregion sub-reactor-wake

  // #region sub-reactor-push
  /**
   * A push for other SubReactors (push.ts): straight onto the channel to each, no lock and no
   * relay; each target is woken once after this turn, however many pushes it was sent.
   */
  private sendPush(push: Push): void {
    const envelope: PushEnvelope = { push };
    for (const r of pushTargets(push, this.data.peers.length)) {
      this.data.peers[r]!.postMessage(envelope); // a copy of the frame per reactor, not per connection
      this.pushedTo[r] = true;
    }
    this.pushedAny = true;
  }

  private wakePushed(): void {
    this.pushedAny = false;
    for (let r = 0; r < this.pushedTo.length; r++) {
      if (!this.pushedTo[r]) continue;
      this.pushedTo[r] = false;
      this.wakeFlags.wake(r, this.data.wakeFds[r]!); // no write if a wake-up is already pending
    }
  }

  private takePushes(port: MessagePort): void {
    const hub = this.server.hub!;
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      hub.apply((m.message as PushEnvelope).push);
    }
  }
  // #endregion sub-reactor-push

  private takeNotes(): void {
    for (let m = receiveMessageOnPort(this.data.control); m !== undefined; m = receiveMessageOnPort(this.data.control)) {
      const note = m.message as PoolNote | ReloadNote;
      if (note.kind === 'reload') this.reloadTo = note.app; // after this turn (run)
      else this.onNote(note);
    }
  }

  private takeReplies(link: PoolLink): void {
    for (let m = receiveMessageOnPort(link.port); m !== undefined; m = receiveMessageOnPort(link.port)) {
      // A task's pushes come on its link, before its reply: applied in the order it made them.
      if (isPushEnvelope(m.message)) this.server.hub!.apply(m.message.push);
      else this.onReply(m.message as TaskReply, false);
    }
  }

  /** The supervisor says a pool thread started (use it) or ended (settle what it owed us). */
  private onNote(note: PoolNote): void {
    if (note.kind === 'joined') {
      const link: PoolLink = { index: note.index, gen: note.gen, port: note.port };
      const previous = this.current[note.index];
      this.current[note.index] = link;
      this.links.push(link);
      previous?.port.postMessage(LINK_END); // a retiring thread: nothing more comes from us
      return;
    }
    const link = this.links.find((l) => l.index === note.index && l.gen === note.gen);
    if (link === undefined) return;
    this.takeReplies(link); // what it answered before it ended still counts
    for (const [id, pending] of this.tasks) {
      if (pending.link === link) this.onReply({ id, ok: false, error: note.error ?? 'worker thread left without answering' }, true);
    }
    link.port.close();
    this.links = this.links.filter((l) => l !== link);
    if (this.current[note.index] === link) this.current[note.index] = undefined;
  }

  // #region sub-reactor-submit
  /**
   * `server.task(payload, conn, tag)` on this thread: straight to the least loaded pool thread —
   * or refused (null) when the whole pool already holds a running task per thread plus
   * `maxQueuedTasks` waiting. The count is the stats board's, shared by every SubReactor, so
   * R SubReactors deciding at the same instant may overshoot the bound by at most R - 1.
   */
  private submit(payload: unknown, conn: Conn, tag: unknown): number | null {
    this.affinity.check();
    const c = conn as Connection;
    if (c.server !== this.server) throw new Error('server.task(): the connection belongs to another reactor thread');
    if (this.board.poolLoad() + this.waiting.length >= this.settings.workers + this.settings.maxQueuedTasks) {
      this.board.shed(this.index, 'refused');
      return null;
    }
    const id = ++this.taskSeq;
    const link = this.pickLink();
    if (link !== null) {
      this.post(link, { id, payload }); // throws (DataCloneError) before anything is recorded
    } else {
      this.waiting.push({ id, payload: structuredClone(payload) }); // the same DataCloneError, now
    }
    this.tasks.set(id, { conn: c, tag, link, at: Date.now(), timedOut: false });
    c.tasksInFlight++;
    return id;
  }

  private post(link: PoolLink, request: TaskRequest): void {
    link.port.postMessage(request);
    this.board.task(this.index, link.index);
  }

  /** A successor joined: post what waited for it, oldest first. */
  private postWaiting(): void {
    let i = 0;
    for (; i < this.waiting.length; i++) {
      const link = this.pickLink();
      if (link === null) break;
      const request = this.waiting[i]!;
      const pending = this.tasks.get(request.id);
      if (pending === undefined) continue; // cannot happen: a waiting task is never answered
      this.post(link, request);
      pending.link = link;
    }
    this.waiting = this.waiting.slice(i);
  }

  /**
   * Join-shortest-queue over the pool slots, by the tasks every SubReactor has in each, among
   * the threads that may take one more (`maxRequests`). Null if none may: the caller holds the task.
   */
  private pickLink(): PoolLink | null {
    const max = this.settings.maxRequests;
    const full = new Set<PoolLink>();
    let lookedForNotes = false;
    for (;;) {
      const slots = this.current.length;
      let best: PoolLink | undefined;
      let bestLoad = Infinity;
      for (let k = 0; k < slots; k++) {
        const link = this.current[(this.nextSlot + k) % slots];
        if (link === undefined || full.has(link)) continue;
        const load = this.board.slotLoad(link.index);
        if (load < bestLoad) {
          best = link;
          bestLoad = load;
        }
      }
      if (best === undefined) {
        if (lookedForNotes) return null;
        lookedForNotes = true;
        this.takeNotes(); // a successor may have joined since the last wake-up
        continue;
      }
      if (max > 0 && !this.board.claim(best.index, best.gen, max)) {
        full.add(best);
        continue;
      }
      this.nextSlot = (best.index + 1) % slots;
      return best;
    }
  }
  // #endregion sub-reactor-submit

  /** A task's outcome is back (or its thread died: `lost`): hand it to the app, on this thread. */
  private onReply(reply: TaskReply, lost: boolean): void {
    const pending = this.tasks.get(reply.id);
    if (pending === undefined) return;
    this.tasks.delete(reply.id);
    if (pending.link !== null) this.board.settled(pending.link.index, lost);
    if (!pending.timedOut) this.deliver(pending, reply);
    // else: the late result of a task answered as timed out — dropped, the client has its answer
  }

  // #region task-timeout
  /**
   * The sweep for taskTimeoutMs: every task submitted longer ago is answered now with
   * TASK_TIMED_OUT (the demo: 503). One still waiting for a pool thread is withdrawn; one posted
   * stays in the pool's count until its thread answers, and that answer is dropped (onReply).
   */
  private expireTasks(): void {
    const due = Date.now() - this.settings.taskTimeoutMs;
    for (const [id, pending] of this.tasks) {
      if (pending.timedOut || pending.at > due) continue;
      this.board.shed(this.index, 'timed out');
      if (pending.link === null) {
        this.tasks.delete(id);
        this.waiting = this.waiting.filter((w) => w.id !== id);
      } else {
        pending.timedOut = true;
      }
      this.deliver(pending, { id, ok: false, error: TASK_TIMED_OUT });
    }
    if (!this.lifecycle.leaving) this.reactor.after(this.taskSweepMs, () => this.expireTasks());
  }
  // #endregion task-timeout

  /** Give a task's outcome to the app's onFinish or onTaskError (no hook: the connection fails). */
  private deliver(pending: PendingTask, reply: TaskReply): void {
    const { conn, tag } = pending;
    conn.tasksInFlight--;
    try {
      if (reply.ok) {
        this.app.onFinish?.(conn, reply.value, tag);
      } else if (this.app.onTaskError !== undefined) {
        this.app.onTaskError(conn, reply.error, tag);
      } else {
        // No way to answer for the app: end the connection (500 if owed) rather than leave the client waiting.
        log(`reactor ${this.index}: task ${reply.id} failed (${reply.error}); closing connection ${conn.id}`);
        conn.fail();
      }
    } catch (err) {
      this.protocol.failed(reply.ok ? 'onFinish' : 'onTaskError', err, conn);
    }
  }

  /** Schedule onTick if the app has it and it is not scheduled yet. */
  private startTicking(): void {
    if (this.ticking || this.app.onTick === undefined) return;
    this.ticking = true;
    this.reactor.after(this.settings.tickMs, () => this.tick());
  }

  /** onTick, every tickMs, on this loop (output it queues leaves in the same turn). */
  private tick(): void {
    this.ticking = false;
    const onTick = this.app.onTick;
    if (onTick === undefined) return; // a reload dropped it
    try {
      onTick(this.server);
    } catch (err) {
      log(`reactor ${this.index}: onTick threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!this.lifecycle.draining) this.startTicking();
  }
}
