/**
 * Everything that crosses between the MainReactor and a SubReactor: the connection hand-off ring,
 * the task messages, and the shutdown flags.
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
 */

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

/** SubReactor → MainReactor, on the SubReactor's MessagePort: run `payload` in the WorkerPool. */
export interface TaskRequest {
  /** The SubReactor's own id for the task (unique per SubReactor). */
  id: number;
  payload: unknown;
}

/** MainReactor → SubReactor: how task `id` ended. */
export type TaskReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; error: string });

const PHASE = 0;
const DRAINED = 1; // + reactor index
const RUNNING = 0;
const DRAINING = 1;

/**
 * Shutdown flags in shared memory: the phase (written by the main thread) and one "drained" flag
 * per SubReactor (each written by its own SubReactor). Plain flags rather than messages because a
 * SubReactor reads the phase once per loop turn, and the main thread polls the drained flags
 * after each wake-up.
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

  /** Any thread. */
  get draining(): boolean {
    return Atomics.load(this.words, PHASE) !== RUNNING;
  }

  /** SubReactor `reactor`: it has no connections left. */
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
