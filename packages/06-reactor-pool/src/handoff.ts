/**
 * Everything that crosses between threads: the connection hand-off ring (MainReactor →
 * SubReactor), the task messages (SubReactor ⇄ WorkerPool thread, directly), the supervisor's
 * notes about pool threads (main → SubReactor), and the shutdown flags.
 *
 * Handing accepted connections from the MainReactor to a SubReactor: a queue plus a wake-up, as
 * in muduo (mutex-guarded queue + eventfd) and gnet (lock-free queue + eventfd).
 *
 * The queue is a single-producer single-consumer ring of fd numbers in a SharedArrayBuffer (fds
 * are process-wide integers, so the number is the whole hand-off). The producer is the main
 * thread, the consumer one SubReactor; each index has one writer, so no lock is needed — only
 * Atomics, which also publish the slot before the index that makes it visible.
 *
 * Why not call epoll_ctl(ADD) on the SubReactor's epoll fd directly (the feasibility notes show
 * that works too)? Then the SubReactor would only learn of a connection when its first bytes
 * arrive: it could not run `onConnect` (an echo app greeting its client would never speak), and
 * step 05's Reactor, which owns its registrations and per-fd state, would find fds registered
 * behind its back. With the ring, an fd belongs to the main thread until pushed and to the
 * SubReactor once popped. The cost is a few Atomics per connection and one eventfd write per
 * burst of accepts (the MainReactor wakes each SubReactor once per loop turn, not per fd).
 *
 * Tasks do not pass through the main thread: every SubReactor has a MessagePort to every
 * WorkerPool thread (a `PoolLink`), posts a task on it, and the pool thread posts the reply on
 * the same port and then writes that SubReactor's eventfd.
 */
import type { MessagePort } from 'node:worker_threads';
import * as sys from '@course/syscalls';

/** Slots per ring. A SubReactor this far behind is overloaded; the MainReactor then tries another. */
export const RING_CAPACITY = 4096; // a power of two, so `index & MASK` wraps

const MASK = RING_CAPACITY - 1;
const HEAD = 0; // next slot to read; written by the consumer only
const TAIL = 1; // next slot to write; written by the producer only
const SLOTS = 2;

/**
 * One SPSC ring. Both threads build a FdRing over the same buffer; `push` may only be called by
 * the producer thread (main) and `pop` only by the consumer thread (the SubReactor).
 */
// #region fd-ring
export class FdRing {
  private readonly words: Int32Array;

  static create(): FdRing {
    return new FdRing(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (SLOTS + RING_CAPACITY)));
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  /** Producer: append `fd`; false if the ring is full. Indices run on and wrap at 2^32 (`| 0`). */
  push(fd: number): boolean {
    const w = this.words;
    const tail = w[TAIL]!; // only this thread writes TAIL: a plain read is enough
    if (((tail - Atomics.load(w, HEAD)) | 0) === RING_CAPACITY) return false;
    w[SLOTS + (tail & MASK)] = fd;
    Atomics.store(w, TAIL, (tail + 1) | 0); // publishes the slot written above
    return true;
  }

  /** Consumer: the oldest fd, or -1 if the ring is empty. */
  pop(): number {
    const w = this.words;
    const head = w[HEAD]!;
    if (head === Atomics.load(w, TAIL)) return -1;
    const fd = w[SLOTS + (head & MASK)]!;
    Atomics.store(w, HEAD, (head + 1) | 0); // frees the slot for the producer
    return fd;
  }
}
// #endregion fd-ring

// #region wake-flags
/**
 * One "wake-up pending" flag per SubReactor, shared by every thread that wakes it (the main
 * thread, every pool thread). A sender writes the eventfd only if it is the one that raised the
 * flag; the SubReactor lowers the flag before it resets its eventfd and empties its queues. So
 * however many connections and results reach a SubReactor between two of its wake-ups, its
 * eventfd is written once (libuv's uv_async_send coalesces the same way).
 *
 * Why nothing is missed: a sender queues first and raises the flag second. If the flag was
 * already up, the SubReactor has not lowered it yet, so it will look at its queues after this
 * message was queued; if the sender raised it, its own eventfd write wakes the SubReactor.
 */
export class WakeFlags {
  private readonly words: Int32Array;

  static create(reactors: number): WakeFlags {
    return new WakeFlags(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * reactors));
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  /** Any thread, after queueing something for SubReactor `reactor` (whose eventfd is `fd`). */
  wake(reactor: number, fd: number): void {
    if (Atomics.compareExchange(this.words, reactor, 0, 1) === 0) sys.eventfdSignal(fd);
  }

  /** SubReactor `reactor` only: before it resets its eventfd and looks at its queues. */
  clear(reactor: number): void {
    Atomics.store(this.words, reactor, 0);
  }
}
// #endregion wake-flags

/** SubReactor → WorkerPool thread, on their PoolLink: run `payload` with onTask. */
export interface TaskRequest {
  /** The SubReactor's own id for the task (unique per SubReactor). */
  id: number;
  payload: unknown;
}

/**
 * SubReactor → WorkerPool thread: "nothing more comes on this link" (the SubReactor moved on to
 * the thread that replaces a retiring one). The retiring thread leaves once every link ended.
 */
export const LINK_END = 'end';

export type ToPoolThread = TaskRequest | typeof LINK_END;

/** WorkerPool thread → SubReactor, on the same link: how task `id` ended. */
export type TaskReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; error: string });

/**
 * Main (the pool's supervisor) → SubReactor, on the SubReactor's control port, followed by a
 * write of its eventfd:
 *   - `joined`: pool thread `index`, generation `gen`, has started; `port` is this SubReactor's
 *     end of the link to it (transferred). New tasks for that slot go there from now on.
 *   - `gone`: generation `gen` of slot `index` has exited. Replies it posted are still on the
 *     port; any task it never answered fails with `error` (null: it left on purpose, owing
 *     nothing).
 */
export type PoolNote =
  | { kind: 'joined'; index: number; gen: number; port: MessagePort }
  | { kind: 'gone'; index: number; gen: number; error: string | null };

const PHASE = 0;
const DRAINED = 1; // + reactor index
const RUNNING = 0;
const DRAINING = 1;
const LEAVING = 2;

/**
 * Shutdown flags in shared memory: the phase (written by the main thread) and one "drained" flag
 * per SubReactor (each written by its own SubReactor). Plain flags rather than messages because a
 * SubReactor reads the phase once per loop turn, and the main thread polls the drained flags
 * once per turn of its own loop. Phases: running → draining (finish in-flight responses) →
 * leaving (close every connection now and end the thread: the drain timed out, or the process
 * is exiting).
 */
export class Lifecycle {
  private readonly words: Int32Array;

  static create(reactors: number): Lifecycle {
    return new Lifecycle(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (DRAINED + reactors)));
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
  }

  /** Main thread: from now on every SubReactor drains (the caller then wakes them). */
  startDraining(): void {
    Atomics.store(this.words, PHASE, DRAINING);
  }

  /** Main thread, any time (also from process.on('exit')): every SubReactor leaves now. */
  leave(): void {
    Atomics.store(this.words, PHASE, LEAVING);
  }

  /** Any thread. True while draining and while leaving. */
  get draining(): boolean {
    return Atomics.load(this.words, PHASE) !== RUNNING;
  }

  /** Any thread. */
  get leaving(): boolean {
    return Atomics.load(this.words, PHASE) === LEAVING;
  }

  /** SubReactor `reactor`: it has no connections left and is leaving its loop. */
  markDrained(reactor: number): void {
    Atomics.store(this.words, DRAINED + reactor, 1);
  }

  /** Main thread: SubReactor `reactor` drained. */
  drained(reactor: number): boolean {
    return Atomics.load(this.words, DRAINED + reactor) !== 0;
  }

  /** Main thread: every SubReactor drained. */
  allDrained(): boolean {
    for (let i = DRAINED; i < this.words.length; i++) if (Atomics.load(this.words, i) === 0) return false;
    return true;
  }
}
