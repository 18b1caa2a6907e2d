/**
 * The server's counters, shared by every thread through one SharedArrayBuffer, so that any
 * thread (a SubReactor answering `/api/stats`, the main thread) can read a snapshot without
 * sending a message to anyone.
 *
 * Ownership: the buffer is created by the main thread and shared with every thread. Each slot has
 * exactly ONE writer thread (named next to it below); every thread may read every slot. A reader
 * may see one counter a little ahead of another — "consistent enough" for a stats page, and it
 * costs the hot path nothing but a store to memory it already owns. Counters are Float64 (exact
 * integers up to 2^53) because byte counts outgrow Int32; aligned 8-byte stores do not tear on
 * the 64-bit machines Node runs on. The WorkerPool's counters have several writers each (every
 * SubReactor posts tasks to every pool thread directly) and are Int32 cells changed by Atomics.
 */

/** Header, written once by the main thread when it creates the board. */
const H_REACTORS = 0;
const H_WORKERS = 1;
/** WorkerPool slots written by the main thread (the pool's supervisor). */
const P_THREADS = 2;
const P_RESTARTS = 3;
const P_RECYCLED = 4;
const HEAD = 8;

/** Per-reactor row (Float64): which thread writes each slot. */
const R_ASSIGNED = 0; // main thread: connections handed to this SubReactor
const R_ADOPTED = 1; //  SubReactor: connections it took from its hand-off queue
const R_OPEN = 2; //     SubReactor: connections open now
const R_REQUESTS = 3; // SubReactor: HTTP requests (echo: messages received)
const R_BYTES_IN = 4; // SubReactor
const R_BYTES_OUT = 5; // SubReactor
const R_TASKS = 6; //    SubReactor: tasks it submitted to the WorkerPool
const ROW = 8;

/**
 * Per-WorkerPool-slot row (Int32, after the Float64 part). These have several writers, so they
 * change only through Atomics:
 */
const W_LOAD = 0; //     every SubReactor: +1 when it posts a task to this slot, -1 when it is settled
const W_RUNNING = 1; //  the slot's thread: 1 while it runs a task. Two cells, by generation parity,
//                        because a retiring thread may finish its last tasks beside its successor
const W_DONE = 3; //     the slot's thread: tasks that returned
const W_FAILED = 4; //   the slot's thread: tasks that threw; a SubReactor: tasks lost with a dead thread
const W_POSTED = 5; //   every SubReactor: tasks posted to the slot's thread, against maxRequests; two
//                        cells by generation parity, reset by the main thread when a generation starts
const W_ROW = 8;

/** One SubReactor's counters, as `stats()` reports them. */
export interface ReactorCounters {
  index: number;
  /** Connections open now. */
  connections: number;
  /** Connections the MainReactor handed to this SubReactor since start. */
  accepted: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  tasks: number;
}

/** The WorkerPool's counters. */
export interface PoolCounters {
  threads: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
  /** Threads replaced after they died (threw or exited). */
  restarts: number;
  /** Threads retired on purpose after `maxRequests` tasks. */
  recycled: number;
}

/** What `stats()` returns: plain data, ready for JSON.stringify. */
export interface ServerStats {
  reactors: ReactorCounters[];
  workers: PoolCounters;
  totals: { connections: number; accepted: number; requests: number; bytesIn: number; bytesOut: number };
}

/**
 * A typed view of the shared counters. Every thread builds its own StatsBoard over the same
 * buffer (`StatsBoard.create` on the main thread, `new StatsBoard(buffer)` elsewhere). Writers
 * must only touch their own slots (see the tables above).
 */
export class StatsBoard {
  readonly reactorCount: number;
  readonly workerCount: number;
  private readonly cells: Float64Array;
  private readonly pool: Int32Array;

  /** Main thread: a zeroed board for `reactors` SubReactors and `workers` WorkerPool slots. */
  static create(reactors: number, workers = 1): StatsBoard {
    const floats = HEAD + ROW * reactors;
    const buffer = new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * floats + Int32Array.BYTES_PER_ELEMENT * W_ROW * workers);
    const head = new Float64Array(buffer, 0, HEAD);
    head[H_REACTORS] = reactors;
    head[H_WORKERS] = workers;
    return new StatsBoard(buffer);
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    const head = new Float64Array(buffer, 0, HEAD);
    this.reactorCount = head[H_REACTORS]!;
    this.workerCount = head[H_WORKERS]!;
    const floats = HEAD + ROW * this.reactorCount;
    this.cells = new Float64Array(buffer, 0, floats);
    this.pool = new Int32Array(buffer, Float64Array.BYTES_PER_ELEMENT * floats, W_ROW * this.workerCount);
  }

  // --- main thread (MainReactor, WorkerPool supervisor) ------------------------------------

  /** A connection was handed to `reactor`. */
  assigned(reactor: number): void {
    this.cells[HEAD + reactor * ROW + R_ASSIGNED]! += 1;
  }

  /**
   * Connections handed to `reactor` and not yet closed, as the MainReactor can know it: for the
   * least-connections balancer. Counts connections still waiting in the hand-off queue, which a
   * count kept by the SubReactor alone would miss during a burst of accepts.
   */
  load(reactor: number): number {
    const row = HEAD + reactor * ROW;
    const c = this.cells;
    const closed = c[row + R_ADOPTED]! - c[row + R_OPEN]!;
    return c[row + R_ASSIGNED]! - closed;
  }

  /** The supervisor's own counters. */
  setPool(threads: number, restarts: number, recycled: number): void {
    this.cells[P_THREADS] = threads;
    this.cells[P_RESTARTS] = restarts;
    this.cells[P_RECYCLED] = recycled;
  }

  /** Generation `gen` of pool slot `slot` starts: nothing posted to it yet. */
  startGeneration(slot: number, gen: number): void {
    Atomics.store(this.pool, slot * W_ROW + W_POSTED + (gen & 1), 0);
  }

  /** Generation `gen` of pool slot `slot` died: it will never clear its running flag itself. */
  clearRunning(slot: number, gen: number): void {
    Atomics.store(this.pool, slot * W_ROW + W_RUNNING + (gen & 1), 0);
  }

  // --- SubReactor thread `reactor` ---------------------------------------------------------

  /** Copy the reactor's own counters (kept by step 05's Reactor) into the shared row. */
  publishReactor(reactor: number, adopted: number, open: number, bytesIn: number, bytesOut: number): void {
    const row = HEAD + reactor * ROW;
    const c = this.cells;
    c[row + R_ADOPTED] = adopted;
    c[row + R_OPEN] = open;
    c[row + R_BYTES_IN] = bytesIn;
    c[row + R_BYTES_OUT] = bytesOut;
  }

  /** One more request (or echo message) on `reactor`. Hot path: one add to a shared cell. */
  request(reactor: number): void {
    this.cells[HEAD + reactor * ROW + R_REQUESTS]! += 1;
  }

  /** `reactor` posted a task to pool slot `slot`. */
  task(reactor: number, slot: number): void {
    this.cells[HEAD + reactor * ROW + R_TASKS]! += 1;
    Atomics.add(this.pool, slot * W_ROW + W_LOAD, 1);
  }

  /** A task posted to `slot` was answered (or failed with its thread): it no longer loads the slot. */
  settled(slot: number, lost: boolean): void {
    Atomics.sub(this.pool, slot * W_ROW + W_LOAD, 1);
    if (lost) Atomics.add(this.pool, slot * W_ROW + W_FAILED, 1);
  }

  /**
   * Take one of the `max` tasks generation `gen` of `slot` may be given (maxRequests). False if
   * they are all taken: its successor will join soon.
   */
  claim(slot: number, gen: number, max: number): boolean {
    const cell = slot * W_ROW + W_POSTED + (gen & 1);
    if (Atomics.add(this.pool, cell, 1) < max) return true;
    Atomics.sub(this.pool, cell, 1);
    return false;
  }

  /** Tasks posted to `slot` and not settled yet: queued there or running. For picking a slot. */
  slotLoad(slot: number): number {
    return Atomics.load(this.pool, slot * W_ROW + W_LOAD);
  }

  // --- WorkerPool thread of slot `slot`, generation `gen` ----------------------------------

  started(slot: number, gen: number): void {
    Atomics.store(this.pool, slot * W_ROW + W_RUNNING + (gen & 1), 1);
  }

  finished(slot: number, gen: number, ok: boolean): void {
    Atomics.store(this.pool, slot * W_ROW + W_RUNNING + (gen & 1), 0);
    Atomics.add(this.pool, slot * W_ROW + (ok ? W_DONE : W_FAILED), 1);
  }

  // --- any thread ----------------------------------------------------------------------------

  snapshot(): ServerStats {
    const c = this.cells;
    const reactors: ReactorCounters[] = [];
    const totals = { connections: 0, accepted: 0, requests: 0, bytesIn: 0, bytesOut: 0 };
    for (let i = 0; i < this.reactorCount; i++) {
      const row = HEAD + i * ROW;
      const r: ReactorCounters = {
        index: i,
        connections: c[row + R_OPEN]!,
        accepted: c[row + R_ASSIGNED]!,
        requests: c[row + R_REQUESTS]!,
        bytesIn: c[row + R_BYTES_IN]!,
        bytesOut: c[row + R_BYTES_OUT]!,
        tasks: c[row + R_TASKS]!,
      };
      reactors.push(r);
      totals.connections += r.connections;
      totals.accepted += r.accepted;
      totals.requests += r.requests;
      totals.bytesIn += r.bytesIn;
      totals.bytesOut += r.bytesOut;
    }
    // Each slot is read separately, so `queued` may be off by one for an instant; never below 0.
    let load = 0;
    let running = 0;
    let done = 0;
    let failed = 0;
    const p = this.pool;
    for (let w = 0; w < this.workerCount; w++) {
      const row = w * W_ROW;
      load += Atomics.load(p, row + W_LOAD);
      running += Atomics.load(p, row + W_RUNNING) + Atomics.load(p, row + W_RUNNING + 1);
      done += Atomics.load(p, row + W_DONE);
      failed += Atomics.load(p, row + W_FAILED);
    }
    const workers: PoolCounters = {
      threads: c[P_THREADS]!,
      queued: Math.max(0, load - running),
      running,
      done,
      failed,
      restarts: c[P_RESTARTS]!,
      recycled: c[P_RECYCLED]!,
    };
    return { reactors, workers, totals };
  }
}
