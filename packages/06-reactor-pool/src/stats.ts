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
/** Written by the main thread (the MainReactor). */
const M_REFUSED = 5; // connections it refused at once: maxConnections were open (--accept main)
const M_WAKEUPS = 6; // epoll reported its listener (--accept main)
const M_EMPTY = 7; //   ... and it accepted nothing
const M_EAGAIN = 8; //  accept4 calls that found the queue empty
const M_RELOADS = 9; // reloads completed (server.reload(), SIGHUP)
const HEAD = 12;

/** Per-reactor row (Float64): which thread writes each slot. */
const R_ASSIGNED = 0; // main thread (--accept main): connections handed to this SubReactor;
//                       the SubReactor itself (other modes): connections it accepted
const R_ADOPTED = 1; //  SubReactor: connections it took from its hand-off queue
const R_OPEN = 2; //     SubReactor: connections open now
const R_REQUESTS = 3; // SubReactor: HTTP requests (echo: messages received)
const R_BYTES_IN = 4; // SubReactor
const R_BYTES_OUT = 5; // SubReactor
const R_TASKS = 6; //    SubReactor: tasks it submitted to the WorkerPool
const R_REFUSED = 7; //  SubReactor: tasks it refused because the pool's queue was full (maxQueuedTasks)
const R_TIMED_OUT = 8; // SubReactor: tasks it gave up on after taskTimeoutMs
const R_WEBSOCKETS = 9; // SubReactor: WebSocket connections of the app open now
const R_MSG_IN = 10; //   SubReactor: WebSocket messages received by the app
const R_MSG_OUT = 11; //  SubReactor: WebSocket messages the app queued (sends and pushes)
const R_DROPPED = 12; // SubReactor: pushes dropped at a slow consumer (--max-backpressure)
const R_WAKEUPS = 13; // SubReactor (accepting for itself): epoll reported its listener
const R_EMPTY = 14; //   SubReactor: ... and it accepted nothing (another reactor was first: the herd)
const R_EAGAIN = 15; //  SubReactor: accept4 calls that found the queue empty
const R_REFUSED_CONN = 16; // SubReactor: connections it accepted and refused (maxConnections)
const R_SLOW_CLOSED = 17; // SubReactor: connections closed as slow consumers (--slow-consumer close)
const ROW = 18;

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
  /** Connections this SubReactor was given since start: handed over by the MainReactor, or accepted itself. */
  accepted: number;
  /** Accepting for itself (--accept reuseport|exclusive|shared): times epoll reported the listener. */
  listenerWakeups: number;
  /** ... of which found nothing to accept: another reactor took the connection first. */
  emptyWakeups: number;
  /** accept4 calls that found the queue empty (EAGAIN). */
  acceptEagain: number;
  /** Connections it accepted and refused at once (maxConnections). */
  refusedConnections: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  tasks: number;
  /** Tasks refused at once: the WorkerPool's queue was full. */
  refused: number;
  /** Tasks answered as timed out (taskTimeoutMs); their late results were dropped. */
  timedOut: number;
  /** The app's WebSocket connections open now (`/ws/echo` is the protocol's, not counted). */
  websockets: number;
  messagesIn: number;
  messagesOut: number;
  /** Frames not queued because the connection already held `--max-backpressure` unsent bytes (--slow-consumer drop). */
  dropped: number;
  /** Connections closed for holding `--max-backpressure` unsent bytes when a frame came (--slow-consumer close). */
  slowClosed: number;
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
  /** Tasks refused because the queue was full, and tasks timed out, over every SubReactor. */
  refused: number;
  timedOut: number;
}

/** The MainReactor's accept counters (--accept main; zero in the other modes). */
export interface MainCounters {
  listenerWakeups: number;
  emptyWakeups: number;
  acceptEagain: number;
  refusedConnections: number;
}

/** What `stats()` returns: plain data, ready for JSON.stringify. */
export interface ServerStats {
  reactors: ReactorCounters[];
  workers: PoolCounters;
  main: MainCounters;
  /** Reloads completed (server.reload(), SIGHUP). */
  reloads: number;
  totals: {
    connections: number; accepted: number; requests: number; bytesIn: number; bytesOut: number; refusedConnections: number;
    websockets: number; messagesIn: number; messagesOut: number; dropped: number; slowClosed: number;
    /** Over the main thread and every SubReactor. */
    listenerWakeups: number; emptyWakeups: number; acceptEagain: number;
  };
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

  /** A connection was handed to `reactor` (main thread), or accepted by it (that SubReactor). */
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

  /** Connections handed out and not yet closed, over every SubReactor: for maxConnections. */
  openConnections(): number {
    let n = 0;
    for (let r = 0; r < this.reactorCount; r++) n += this.load(r);
    return n;
  }

  /** A connection was refused at once (maxConnections) by the main thread (`by` = -1) or SubReactor `by`. */
  refusedConnection(by: number): void {
    this.cells[by < 0 ? M_REFUSED : HEAD + by * ROW + R_REFUSED_CONN]! += 1;
  }

  /** The accept counters of the main thread (`by` = -1) or SubReactor `by` (step 05's Acceptor keeps them). */
  publishAccept(by: number, wakeups: number, empty: number, eagain: number): void {
    const c = this.cells;
    if (by < 0) {
      c[M_WAKEUPS] = wakeups;
      c[M_EMPTY] = empty;
      c[M_EAGAIN] = eagain;
      return;
    }
    const row = HEAD + by * ROW;
    c[row + R_WAKEUPS] = wakeups;
    c[row + R_EMPTY] = empty;
    c[row + R_EAGAIN] = eagain;
  }

  /** Main thread: one more reload completed. */
  reloaded(): void {
    this.cells[M_RELOADS]! += 1;
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

  /** `reactor` refused a task (the pool's queue was full) or gave up on one (timed out). */
  shed(reactor: number, why: 'refused' | 'timed out'): void {
    this.cells[HEAD + reactor * ROW + (why === 'refused' ? R_REFUSED : R_TIMED_OUT)]! += 1;
  }

  /** Tasks posted to the whole pool and not settled yet, running or queued: for the queue's bound. */
  poolLoad(): number {
    let load = 0;
    for (let w = 0; w < this.workerCount; w++) load += Atomics.load(this.pool, w * W_ROW + W_LOAD);
    return load;
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

  /** The app's WebSocket connections on `reactor`: one more (+1) or one fewer (-1). */
  websocket(reactor: number, delta: 1 | -1): void {
    this.cells[HEAD + reactor * ROW + R_WEBSOCKETS]! += delta;
  }

  /** A WebSocket message received (in), queued (out), or dropped at a slow consumer. Hot path: one add. */
  message(reactor: number, what: 'in' | 'out' | 'dropped'): void {
    this.cells[HEAD + reactor * ROW + (what === 'in' ? R_MSG_IN : what === 'out' ? R_MSG_OUT : R_DROPPED)]! += 1;
  }

  /** A connection on `reactor` closed as a slow consumer (--slow-consumer close). */
  slowClosed(reactor: number): void {
    this.cells[HEAD + reactor * ROW + R_SLOW_CLOSED]! += 1;
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
    const main: MainCounters = { listenerWakeups: c[M_WAKEUPS]!, emptyWakeups: c[M_EMPTY]!, acceptEagain: c[M_EAGAIN]!, refusedConnections: c[M_REFUSED]! };
    const totals = {
      connections: 0, accepted: 0, requests: 0, bytesIn: 0, bytesOut: 0, refusedConnections: main.refusedConnections, websockets: 0, messagesIn: 0, messagesOut: 0, dropped: 0, slowClosed: 0,
      listenerWakeups: main.listenerWakeups, emptyWakeups: main.emptyWakeups, acceptEagain: main.acceptEagain,
    };
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
        refused: c[row + R_REFUSED]!,
        timedOut: c[row + R_TIMED_OUT]!,
        websockets: c[row + R_WEBSOCKETS]!,
        messagesIn: c[row + R_MSG_IN]!,
        messagesOut: c[row + R_MSG_OUT]!,
        dropped: c[row + R_DROPPED]!,
        slowClosed: c[row + R_SLOW_CLOSED]!,
        listenerWakeups: c[row + R_WAKEUPS]!,
        emptyWakeups: c[row + R_EMPTY]!,
        acceptEagain: c[row + R_EAGAIN]!,
        refusedConnections: c[row + R_REFUSED_CONN]!,
      };
      reactors.push(r);
      totals.connections += r.connections;
      totals.accepted += r.accepted;
      totals.requests += r.requests;
      totals.bytesIn += r.bytesIn;
      totals.bytesOut += r.bytesOut;
      totals.websockets += r.websockets;
      totals.messagesIn += r.messagesIn;
      totals.messagesOut += r.messagesOut;
      totals.dropped += r.dropped;
      totals.slowClosed += r.slowClosed;
      totals.listenerWakeups += r.listenerWakeups;
      totals.emptyWakeups += r.emptyWakeups;
      totals.acceptEagain += r.acceptEagain;
      totals.refusedConnections += r.refusedConnections;
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
      refused: reactors.reduce((n, r) => n + r.refused, 0),
      timedOut: reactors.reduce((n, r) => n + r.timedOut, 0),
    };
    return { reactors, workers, main, reloads: c[M_RELOADS]!, totals };
  }
}
