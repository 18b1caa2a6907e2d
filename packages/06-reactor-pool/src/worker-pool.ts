/**
 * The WorkerPool: threads that run `onTask` — blocking or CPU-heavy work — so that no reactor
 * ever stalls (muduo's "reactors + thread pool", swoole's task workers, gnet's goroutine pool).
 *
 *   SubReactor r ──task (link r↔w)──▶ pool thread w       no hop through the main thread:
 *   SubReactor r ◀─reply (same link) + write(r's eventfd)─ pool thread w
 *
 * Every SubReactor has a link (a MessageChannel) to every pool thread. A SubReactor posts a task
 * to the pool thread with the fewest tasks in hand (join-shortest-queue, read from the shared
 * stats board); the thread runs its tasks one at a time and posts each reply back on the link it
 * came by, then writes that SubReactor's eventfd. This file is the SUPERVISOR of those threads,
 * on the main thread: it starts them, wires the links, and when one ends it tells every
 * SubReactor (a `PoolNote`), so that each fails exactly the tasks that thread never answered
 * (its client gets a 500, not a hang), and starts a replacement. With `maxRequests` (swoole's
 * max_request) a thread is given that many tasks and no more (the SubReactors count them on the
 * stats board; a task that finds every thread used up waits in its SubReactor), then retired: its
 * successor starts first, and it leaves once every SubReactor has ended its link to it, so
 * nothing is lost. A reload (server.reload(), SIGHUP) replaces every thread the same way, one
 * slot at a time, with threads that import the app module afresh.
 *
 * Pool threads are ordinary event-loop threads (they never block in a syscall), so tasks reach
 * them by postMessage. Replies go the other way over the same port, read by the SubReactor with
 * `receiveMessageOnPort` once its eventfd fires: a SubReactor lives in epoll_wait, not in Node's
 * event loop.
 *
 * Ownership: a WorkerPool and its PoolWorkers belong to the main thread; call them from there only.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { log, ThreadAffinity } from '@course/server-kit';
import type { PoolNote, WakeFlags } from './handoff.js';
import type { Settings } from './options.js';
import type { StatsBoard } from './stats.js';

/** What a pool thread is started with (workerData). Plain data and transferred ports. */
export interface PoolThreadData {
  settings: Settings;
  /** The app module's URL to import: `settings.app`, or after a reload the same with `?reload=N`. */
  app: string;
  /** Its slot in the pool, and which thread of that slot it is (0, then 1 for its replacement...). */
  index: number;
  gen: number;
  /** Its end of the link to each SubReactor, by reactor index (transferred). */
  links: MessagePort[];
  /** Each SubReactor's eventfd, by reactor index, and their wake-up flags: a reply posted, a wake-up. */
  wakeFds: readonly number[];
  wakeFlagsBuffer: SharedArrayBuffer;
  statsBuffer: SharedArrayBuffer;
}

/** What the MainReactor gives its WorkerPool (main thread; `tell` and `fatal` run there too). */
export interface WorkerPoolOptions {
  settings: Settings;
  board: StatsBoard;
  /** Each SubReactor's eventfd, by reactor index, and their wake-up flags. */
  wakeFds: readonly number[];
  wakeFlags: WakeFlags;
  /** Give SubReactor `reactor` a note (and wake it). */
  tell(reactor: number, note: PoolNote): void;
  /** Something the pool cannot recover from (the app module fails to load in a new thread). */
  fatal(message: string): void;
}

/** One pool thread, as the supervisor tracks it. Main thread only. */
class PoolWorker {
  /** It reported ready (loaded the app, ran onStart). */
  ready = false;
  /** Asked to be replaced after maxRequests tasks: its exit is expected. */
  retiring = false;
  /** Resolves when the thread has exited, for whatever reason. */
  readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(
    readonly index: number,
    readonly gen: number,
    readonly thread: Worker,
  ) {
    this.exited = new Promise<void>((resolve) => { this.markExited = resolve; });
  }

  exit(): void {
    this.markExited();
  }
}

/** The pool's supervisor. Main thread only. */
export class WorkerPool {
  /** The current thread of each slot. */
  private readonly slots: PoolWorker[] = [];
  /** Every thread still alive, retiring ones included. */
  private readonly live = new Set<PoolWorker>();
  private restarts = 0;
  private recycled = 0;
  /** The server drains: a thread whose links all closed (every SubReactor done) ends by itself. */
  private draining = false;
  private closing = false;
  private readonly affinity = new ThreadAffinity('the WorkerPool');
  /** What every thread started from now on imports (replacements too): changed by reload(). */
  private app: string;

  constructor(private readonly opts: WorkerPoolOptions) {
    this.app = opts.settings.app;
  }

  /** Start every thread; resolves once each has loaded the app and run onStart. */
  async start(): Promise<void> {
    this.affinity.check();
    const started: Promise<void>[] = [];
    for (let i = 0; i < this.opts.settings.workers; i++) started.push(this.spawn(i, 0));
    await Promise.all(started);
  }

  /**
   * The server began to drain: from now on a thread that ends with code 0 has simply run out of
   * links (each SubReactor closes its links when it is done), and no thread is replaced.
   */
  drain(): void {
    this.affinity.check();
    this.draining = true;
  }

  /** End every thread (they are event-loop threads: terminate() reaches them); resolves once all exited. */
  async close(): Promise<void> {
    this.affinity.check();
    this.closing = true;
    const all = [...this.live];
    for (const w of all) void w.thread.terminate();
    await Promise.all(all.map((w) => w.exited));
  }

  // #region pool-reload
  /**
   * Replace every thread by one that imports `app`, one slot at a time: the successor starts
   * (from its 'joined' on, new tasks of the slot go to it), the old thread is retiring — it
   * finishes what it was given and leaves once every SubReactor has ended its link — and the
   * next slot waits until it has. At most one extra thread at any moment, no task lost.
   */
  async reload(app: string): Promise<void> {
    this.affinity.check();
    this.app = app;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.draining || this.closing) throw new Error('reload(): the server is shutting down');
      const old = this.slots[i]!;
      old.retiring = true; // its exit, code 0, is expected: not a death
      await this.spawn(i, old.gen + 1);
      await old.exited;
    }
  }
  // #endregion pool-reload

  /** Start thread `gen` of slot `index`, wire a link to every SubReactor; resolves when it is ready. */
  private spawn(index: number, gen: number): Promise<void> {
    const { settings, board, wakeFds, wakeFlags } = this.opts;
    const ours: MessagePort[] = [];
    const theirs: MessagePort[] = [];
    for (let r = 0; r < settings.reactors; r++) {
      const { port1, port2 } = new MessageChannel();
      ours.push(port1);
      theirs.push(port2);
    }
    const data: PoolThreadData = { settings, app: this.app, index, gen, links: theirs, wakeFds, wakeFlagsBuffer: wakeFlags.buffer, statsBuffer: board.buffer };
    const thread = new Worker(new URL('./worker-thread.js', import.meta.url), { workerData: data, transferList: theirs });
    const w = new PoolWorker(index, gen, thread);
    this.slots[index] = w;
    board.startGeneration(index, gen);
    this.live.add(w);
    // Tasks may be posted before the thread is ready: the port queues them.
    ours.forEach((port, r) => this.opts.tell(r, { kind: 'joined', index, gen, port }));
    this.publish();

    return new Promise<void>((resolve, reject) => {
      thread.on('message', (m) => {
        if (m === 'ready') {
          w.ready = true;
          resolve();
        } else if (m === 'retire' && !w.retiring && !this.closing && !this.draining) {
          this.retire(w);
        }
      });
      thread.on('error', (err) => log(`worker ${index}: uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
      thread.on('exit', (code) => {
        this.live.delete(w);
        w.exit();
        if (this.closing || (this.draining && code === 0)) {
          reject(new Error('the pool is closing')); // if it never got ready: a reload waiting for it gives up
          return;
        }
        if (!w.ready) {
          const why = `worker ${index} exited (code ${code}) before it was ready: the app failed to load or onStart threw`;
          reject(new Error(why));
          this.opts.fatal(why);
          return;
        }
        this.ended(w, code);
      });
    });
  }

  /** `maxRequests` reached: start the successor now; `w` leaves once every link to it has ended. */
  private retire(w: PoolWorker): void {
    w.retiring = true;
    this.recycled++;
    void this.spawn(w.index, w.gen + 1).catch(() => { /* reported through fatal() */ });
  }

  /** Thread `w` exited: replace it if it died, then let every SubReactor settle what it owed. */
  // #region pool-thread-ended
  private ended(w: PoolWorker, code: number): void {
    const died = !w.retiring || code !== 0;
    if (!w.retiring) {
      this.restarts++;
      this.opts.board.clearRunning(w.index, w.gen);
      log(`worker ${w.index} died (exit code ${code})${this.draining ? '' : '; starting a replacement'}`);
      // The successor first: from its 'joined' on, new tasks of this slot go to it.
      if (!this.draining) void this.spawn(w.index, w.gen + 1).catch(() => { /* reported through fatal() */ });
    }
    const error = died ? `worker thread died (exit code ${code})` : null;
    for (let r = 0; r < this.opts.settings.reactors; r++) this.opts.tell(r, { kind: 'gone', index: w.index, gen: w.gen, error });
    this.publish();
  }
  // #endregion pool-thread-ended

  private publish(): void {
    this.opts.board.setPool(this.slots.length, this.restarts, this.recycled);
  }
}
