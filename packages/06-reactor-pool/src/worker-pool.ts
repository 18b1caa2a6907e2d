/**
 * The WorkerPool: threads that run `onTask` — blocking or CPU-heavy work — so that no reactor
 * ever stalls (muduo's "reactor + thread pool", swoole's task workers, gnet's goroutine pool).
 *
 *   SubReactor ──task──▶ MainReactor (this dispatcher) ──▶ idle worker thread
 *   SubReactor ◀─result─ MainReactor ◀──────────────────── worker thread
 *
 * The dispatcher lives on the main thread and keeps ONE queue for the whole pool; each worker
 * runs one task at a time. One queue means a long task never holds up a short one that another
 * worker could take, and the dispatcher always knows which task each worker is running: when a
 * worker throws or dies, exactly that task fails (its client gets a 500, not a hang) and a new
 * thread takes the dead one's place. With `maxRequests` (swoole's max_request) a worker is
 * retired after that many tasks — it is idle at that moment, so nothing is lost.
 *
 * Worker threads are ordinary event-loop threads: they never block in a syscall, so tasks reach
 * them by postMessage. Results come back over a MessagePort that the main thread reads with
 * `receiveMessageOnPort` (a synchronous read: the main thread spends its time in epoll_wait, not
 * in Node's event loop), after the worker writes the main thread's wake-up eventfd.
 *
 * Ownership: a WorkerPool and everything in it belong to the main thread; call it from there only.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { log } from '@course/server-kit';
import { isPushEnvelope, type Push } from './push.js';
import type { StatsBoard } from './stats.js';

/** What a worker answers for one task. Crosses threads (structured clone). */
export type TaskOutcome = { ok: true; value: unknown } | { ok: false; error: string };

/** A task in the dispatcher's queue: which SubReactor submitted it, under which id. */
export interface PoolTask {
  reactor: number;
  id: number;
  payload: unknown;
}

/** Main → worker. */
export interface TaskMessage {
  seq: number;
  payload: unknown;
}

/** Worker → main: the outcome of task `seq`. */
export type ResultMessage = TaskOutcome & { seq: number };

/** What a worker thread is started with (workerData). */
export interface PoolWorkerData {
  index: number;
  appUrl: string;
  /** The main thread's wake-up eventfd: written after each result is posted. */
  wakeFd: number;
  statsBuffer: SharedArrayBuffer;
  port: MessagePort;
}

export interface WorkerPoolOptions {
  size: number;
  /** Retire a worker after this many tasks; 0 = never. */
  maxRequests: number;
  appUrl: string;
  wakeFd: number;
  board: StatsBoard;
  /** Deliver an outcome to the SubReactor that submitted the task. */
  deliver(task: PoolTask, outcome: TaskOutcome): void;
  /** A push a task made (server.send/broadcast/publish on a WorkerPool thread): relay it. */
  push(push: Push): void;
  /** Something the pool cannot recover from (the app module fails to load in a new thread). */
  fatal(message: string): void;
}

/** One worker thread, as the dispatcher tracks it. */
class PoolWorker {
  /** The task it is running, or null when idle. */
  task: (PoolTask & { seq: number }) | null = null;
  tasksDone = 0;
  /** It reported ready (loaded the app, ran onStart). */
  ready = false;
  /** Being replaced on purpose: its exit is expected. */
  retiring = false;

  constructor(
    readonly index: number,
    readonly thread: Worker,
    readonly port: MessagePort,
  ) {}
}

export class WorkerPool {
  private readonly workers: PoolWorker[] = [];
  private readonly queue: PoolTask[] = [];
  private queueHead = 0;
  private seq = 0;
  private counts = { done: 0, failed: 0, restarts: 0, recycled: 0 };

  constructor(private readonly opts: WorkerPoolOptions) {}

  /** Start every thread; resolves once each has loaded the app and run onStart. */
  async start(): Promise<void> {
    const started: Promise<void>[] = [];
    for (let i = 0; i < this.opts.size; i++) started.push(this.spawn(i));
    await Promise.all(started);
    this.publish();
  }

  /** Queue a task from a SubReactor; runs at once if a worker is idle. */
  submit(task: PoolTask): void {
    const idle = this.workers.find((w) => w.task === null && !w.retiring);
    if (idle) this.run(idle, task);
    else this.queue.push(task);
    this.publish();
  }

  /**
   * Take every result the workers posted (called when the main thread's eventfd fired), deliver
   * each to its SubReactor, and give each freed worker its next task.
   */
  collect(): void {
    for (const w of this.workers) this.collectFrom(w);
    this.publish();
  }

  private collectFrom(w: PoolWorker): void {
    for (;;) {
      const m = receiveMessageOnPort(w.port);
      if (m === undefined) return;
      if (isPushEnvelope(m.message)) {
        this.opts.push(m.message.push); // a push from onTask: relayed before its result, in order
        continue;
      }
      const msg = m.message as ResultMessage;
      const task = w.task;
      if (task === null || task.seq !== msg.seq) continue; // cannot happen: one task at a time
      w.task = null;
      w.tasksDone++;
      if (msg.ok) this.counts.done++;
      else this.counts.failed++;
      this.opts.deliver(task, msg.ok ? { ok: true, value: msg.value } : { ok: false, error: msg.error });
      if (this.opts.maxRequests > 0 && w.tasksDone >= this.opts.maxRequests) this.retire(w);
      else this.next(w);
    }
  }

  private run(w: PoolWorker, task: PoolTask): void {
    const seq = ++this.seq;
    w.task = { ...task, seq };
    const message: TaskMessage = { seq, payload: task.payload };
    w.port.postMessage(message);
  }

  /** Give `w` the oldest queued task, if any. */
  private next(w: PoolWorker): void {
    if (this.queueHead === this.queue.length) return;
    const task = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as PoolTask; // let it be collected
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead); // compact now and then: O(1) amortised dequeue
      this.queueHead = 0;
    }
    this.run(w, task);
    this.publish();
  }

  /** `maxRequests` reached: replace `w` (it is idle) with a fresh thread. */
  private retire(w: PoolWorker): void {
    w.retiring = true;
    void w.thread.terminate();
    this.counts.recycled++;
    void this.spawn(w.index).catch(() => { /* reported through fatal() */ });
  }

  /** Start the thread for slot `index`; resolves when it is ready. Replaces whatever was in the slot. */
  private spawn(index: number): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const data: PoolWorkerData = { index, appUrl: this.opts.appUrl, wakeFd: this.opts.wakeFd, statsBuffer: this.opts.board.buffer, port: port2 };
    const thread = new Worker(new URL('./worker-thread.js', import.meta.url), { workerData: data, transferList: [port2] });
    const w = new PoolWorker(index, thread, port1);
    this.workers[index] = w;

    return new Promise<void>((resolve, reject) => {
      thread.on('message', (m) => {
        if (m === 'ready') {
          w.ready = true;
          resolve();
        }
      });
      thread.on('error', (err) => log(`worker ${index}: uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
      thread.on('exit', (code) => {
        if (w.retiring) return;
        this.collectFrom(w); // results it posted before dying are still good
        if (!w.ready) {
          const why = `worker ${index} exited (code ${code}) before it was ready: the app failed to load or onStart threw`;
          reject(new Error(why));
          this.opts.fatal(why);
          return;
        }
        this.replaceDead(w, code);
      });
      // Tasks may be posted before the thread is ready: the port queues them.
      this.next(w);
    });
  }

  /** `w` died: fail its task (its client gets an answer, not a hang) and start a replacement. */
  private replaceDead(w: PoolWorker, code: number): void {
    const task = w.task;
    w.task = null;
    this.counts.restarts++;
    log(`worker ${w.index} died (exit code ${code})${task ? ' while running a task' : ''}; starting a replacement`);
    if (task) {
      this.counts.failed++;
      this.opts.deliver(task, { ok: false, error: `worker thread died (exit code ${code})` });
    }
    void this.spawn(w.index).catch(() => { /* reported through fatal() */ });
    this.publish();
  }

  private publish(): void {
    this.opts.board.setPool({
      threads: this.workers.length,
      queued: this.queue.length - this.queueHead,
      running: this.workers.filter((w) => w.task !== null).length,
      ...this.counts,
    });
  }
}
