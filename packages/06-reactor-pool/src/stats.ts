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
 * the 64-bit machines Node runs on.
 */

/** Per-reactor row: which thread writes each slot. */
const R_ASSIGNED = 0; // main thread: connections handed to this SubReactor
const R_ADOPTED = 1; //  SubReactor: connections it took from its hand-off queue
const R_OPEN = 2; //     SubReactor: connections open now
const R_REQUESTS = 3; // SubReactor: HTTP requests (echo: messages received)
const R_BYTES_IN = 4; // SubReactor
const R_BYTES_OUT = 5; // SubReactor
const R_TASKS = 6; //    SubReactor: tasks it submitted to the WorkerPool
const R_WEBSOCKETS = 7; // SubReactor: WebSocket connections of the app open now
const R_MSG_IN = 8; //   SubReactor: WebSocket messages received by the app
const R_MSG_OUT = 9; //  SubReactor: WebSocket messages the app queued (sends and pushes)
const R_DROPPED = 10; // SubReactor: pushes dropped at a slow consumer (--max-backpressure)
const ROW = 12;

/** WorkerPool slots, all written by the main thread (the pool's dispatcher). */
const P_THREADS = 0;
const P_QUEUED = 1;
const P_RUNNING = 2;
const P_DONE = 3;
const P_FAILED = 4;
const P_RESTARTS = 5;
const P_RECYCLED = 6;
const POOL = 8;

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
  /** The app's WebSocket connections open now (`/ws/echo` is the protocol's, not counted). */
  websockets: number;
  messagesIn: number;
  messagesOut: number;
  /** Frames not queued because the connection already held `--max-backpressure` unsent bytes. */
  dropped: number;
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
  totals: {
    connections: number; accepted: number; requests: number; bytesIn: number; bytesOut: number;
    websockets: number; messagesIn: number; messagesOut: number; dropped: number;
  };
}

/**
 * A typed view of the shared counters. Every thread builds its own StatsBoard over the same
 * buffer (`StatsBoard.create` on the main thread, `new StatsBoard(buffer)` elsewhere). Writers
 * must only touch their own slots (see the table above).
 */
export class StatsBoard {
  readonly reactorCount: number;
  private readonly cells: Float64Array;

  /** Main thread: a zeroed board for `reactors` SubReactors. */
  static create(reactors: number): StatsBoard {
    return new StatsBoard(new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * (POOL + ROW * reactors)));
  }

  constructor(readonly buffer: SharedArrayBuffer) {
    this.cells = new Float64Array(buffer);
    this.reactorCount = (this.cells.length - POOL) / ROW;
  }

  // --- main thread (MainReactor) ---------------------------------------------------------

  /** A connection was handed to `reactor`. */
  assigned(reactor: number): void {
    this.cells[POOL + reactor * ROW + R_ASSIGNED]! += 1;
  }

  /**
   * Connections handed to `reactor` and not yet closed, as the MainReactor can know it: for the
   * least-connections balancer. Counts connections still waiting in the hand-off queue, which a
   * count kept by the SubReactor alone would miss during a burst of accepts.
   */
  load(reactor: number): number {
    const row = POOL + reactor * ROW;
    const c = this.cells;
    const closed = c[row + R_ADOPTED]! - c[row + R_OPEN]!;
    return c[row + R_ASSIGNED]! - closed;
  }

  /** The pool's counters, written by its dispatcher on the main thread. */
  setPool(p: PoolCounters): void {
    const c = this.cells;
    c[P_THREADS] = p.threads;
    c[P_QUEUED] = p.queued;
    c[P_RUNNING] = p.running;
    c[P_DONE] = p.done;
    c[P_FAILED] = p.failed;
    c[P_RESTARTS] = p.restarts;
    c[P_RECYCLED] = p.recycled;
  }

  // --- SubReactor thread `reactor` ---------------------------------------------------------

  /** Copy the reactor's own counters (kept by step 05's Reactor) into the shared row. */
  publishReactor(reactor: number, adopted: number, open: number, bytesIn: number, bytesOut: number): void {
    const row = POOL + reactor * ROW;
    const c = this.cells;
    c[row + R_ADOPTED] = adopted;
    c[row + R_OPEN] = open;
    c[row + R_BYTES_IN] = bytesIn;
    c[row + R_BYTES_OUT] = bytesOut;
  }

  /** One more request (or echo message) on `reactor`. Hot path: one add to a shared cell. */
  request(reactor: number): void {
    this.cells[POOL + reactor * ROW + R_REQUESTS]! += 1;
  }

  /** One more task submitted by `reactor`. */
  task(reactor: number): void {
    this.cells[POOL + reactor * ROW + R_TASKS]! += 1;
  }

  /** The app's WebSocket connections on `reactor`: one more (+1) or one fewer (-1). */
  websocket(reactor: number, delta: 1 | -1): void {
    this.cells[POOL + reactor * ROW + R_WEBSOCKETS]! += delta;
  }

  /** A WebSocket message received (in), queued (out), or dropped at a slow consumer. Hot path: one add. */
  message(reactor: number, what: 'in' | 'out' | 'dropped'): void {
    this.cells[POOL + reactor * ROW + (what === 'in' ? R_MSG_IN : what === 'out' ? R_MSG_OUT : R_DROPPED)]! += 1;
  }

  // --- any thread ----------------------------------------------------------------------------

  snapshot(): ServerStats {
    const c = this.cells;
    const reactors: ReactorCounters[] = [];
    const totals = { connections: 0, accepted: 0, requests: 0, bytesIn: 0, bytesOut: 0, websockets: 0, messagesIn: 0, messagesOut: 0, dropped: 0 };
    for (let i = 0; i < this.reactorCount; i++) {
      const row = POOL + i * ROW;
      const r: ReactorCounters = {
        index: i,
        connections: c[row + R_OPEN]!,
        accepted: c[row + R_ASSIGNED]!,
        requests: c[row + R_REQUESTS]!,
        bytesIn: c[row + R_BYTES_IN]!,
        bytesOut: c[row + R_BYTES_OUT]!,
        tasks: c[row + R_TASKS]!,
        websockets: c[row + R_WEBSOCKETS]!,
        messagesIn: c[row + R_MSG_IN]!,
        messagesOut: c[row + R_MSG_OUT]!,
        dropped: c[row + R_DROPPED]!,
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
    }
    const workers: PoolCounters = {
      threads: c[P_THREADS]!,
      queued: c[P_QUEUED]!,
      running: c[P_RUNNING]!,
      done: c[P_DONE]!,
      failed: c[P_FAILED]!,
      restarts: c[P_RESTARTS]!,
      recycled: c[P_RECYCLED]!,
    };
    return { reactors, workers, totals };
  }
}
