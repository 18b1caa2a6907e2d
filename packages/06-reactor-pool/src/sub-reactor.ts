/**
 * A SubReactor: one worker thread running step 05's epoll loop (its `Reactor`, reused as is) for
 * the connections the MainReactor hands it. It does all of their I/O, runs the app's connection
 * hooks, and posts tasks to the WorkerPool threads itself; it never accepts and never runs
 * anything slow (that is `server.task`).
 *
 * Its epoll set holds its connections plus one eventfd, its wake-up. The eventfd fires when
 *   - the MainReactor pushed new connections onto its hand-off ring;
 *   - a pool thread posted a task's reply on its link to this SubReactor;
 *   - the pool's supervisor posted a note (a pool thread started or ended);
 *   - shutdown began (the Lifecycle phase changed).
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
import { log } from '@course/server-kit';
import { Reactor } from '05-epoll-native';
import { ThreadAffinity } from './affinity.js';
import { LocalServer, type App, type Conn } from './app.js';
import { AppProtocol, type Connection } from './connection.js';
import { FdRing, LINK_END, Lifecycle, WakeFlags, type PoolNote, type TaskReply, type TaskRequest } from './handoff.js';
import type { Settings } from './options.js';
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

  constructor(
    private readonly data: SubReactorData,
    private readonly app: App,
  ) {
    this.index = data.index;
    this.settings = data.settings;
    this.affinity = new ThreadAffinity(`SubReactor ${data.index}`);
    this.ring = new FdRing(data.ringBuffer);
    this.wakeFlags = new WakeFlags(data.wakeFlagsBuffer);
    this.lifecycle = new Lifecycle(data.lifecycleBuffer);
    this.board = new StatsBoard(data.statsBuffer);
    this.server = new LocalServer('reactor', data.index, this.board, (payload, conn, tag) => this.submit(payload, conn, tag));
    this.protocol = new AppProtocol(this.settings, app, this.server, this.board);
    this.reactor = new Reactor({
      protocol: this.protocol,
      mode: this.settings.mode,
      headerTimeoutMs: this.settings.headerTimeoutMs,
      idleTimeoutMs: this.settings.idleTimeoutMs,
    });
    this.reactor.watch(data.wakeFd, () => this.onWake());
    if (app.onTick !== undefined) this.reactor.after(this.settings.tickMs, () => this.tick());
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
  run(): void {
    for (;;) {
      // While draining, wake up now and then even if nothing happens, to notice the end.
      this.reactor.runOnce(this.lifecycle.draining ? 100 : -1);
      const s = this.reactor.stats;
      this.board.publishReactor(this.index, s.accepted, s.connections, s.bytesIn, s.bytesOut);
      if (this.lifecycle.leaving) break;
      if (this.lifecycle.draining && this.reactor.drain()) break;
    }
    this.reactor.unwatch(this.data.wakeFd); // the main thread closes it, once this thread is gone
    this.reactor.close(); // what is left of the connections, and the epoll fd
    for (const link of this.links) link.port.close();
    this.data.control.close();
    this.lifecycle.markDrained(this.index);
  }
  // #endregion sub-reactor-run

  // #region sub-reactor-wake
  /** The eventfd fired: reset it, then take every pool note, new connection and task reply. */
  private onWake(): void {
    this.affinity.check();
    this.wakeFlags.clear(this.index); // first: a sender from now on writes the eventfd again
    sys.eventfdDrain(this.data.wakeFd);
    this.takeNotes();
    for (let fd = this.ring.pop(); fd !== -1; fd = this.ring.pop()) {
      const addr = sys.getpeername(fd);
      this.reactor.adopt(fd, typeof addr === 'number' ? undefined : { address: addr.address, port: addr.port });
    }
    for (const link of this.links) this.takeReplies(link);
    if (this.waiting.length > 0) this.postWaiting();
  }
  // #endregion sub-reactor-wake

  private takeNotes(): void {
    for (let m = receiveMessageOnPort(this.data.control); m !== undefined; m = receiveMessageOnPort(this.data.control)) {
      this.onNote(m.message as PoolNote);
    }
  }

  private takeReplies(link: PoolLink): void {
    for (let m = receiveMessageOnPort(link.port); m !== undefined; m = receiveMessageOnPort(link.port)) {
      this.onReply(m.message as TaskReply, false);
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
  /** `server.task(payload, conn, tag)` on this thread: straight to the least loaded pool thread. */
  private submit(payload: unknown, conn: Conn, tag: unknown): number {
    this.affinity.check();
    const c = conn as Connection;
    if (c.server !== this.server) throw new Error('server.task(): the connection belongs to another reactor thread');
    const id = ++this.taskSeq;
    const link = this.pickLink();
    if (link !== null) {
      this.post(link, { id, payload }); // throws (DataCloneError) before anything is recorded
    } else {
      this.waiting.push({ id, payload: structuredClone(payload) }); // the same DataCloneError, now
    }
    this.tasks.set(id, { conn: c, tag, link });
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

  /** onTick, every tickMs, on this loop (output it queues leaves in the same turn). */
  private tick(): void {
    try {
      this.app.onTick!(this.server);
    } catch (err) {
      log(`reactor ${this.index}: onTick threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!this.lifecycle.draining) this.reactor.after(this.settings.tickMs, () => this.tick());
  }
}
