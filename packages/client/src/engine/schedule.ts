/**
 * When a load connection sends, and from when a response's latency is counted. Pure logic with
 * the clock passed in, so that it can be tested without sockets or timers.
 *
 * Closed loop (autocannon, wrk): a connection sends a burst of `depth` requests, waits for every
 * answer, and sends the next burst. The server sets the pace: when it stalls, the client stops
 * sending, so the requests it *would* have sent during the stall never exist, and never count as
 * slow. Gil Tene calls this coordinated omission: the load generator coordinates with the server
 * it measures, and omits exactly the samples that would have shown the stall.
 *
 * Open loop (wrk2, `rate`): requests are due at a fixed rate, whatever the server does. A request
 * is timed from when it was *due*, not from when the connection was free to send it; if a stalled
 * server keeps the connection busy, the requests that fall due meanwhile queue up, and each one's
 * latency includes its wait. That is what a user arriving during the stall would have seen.
 *
 * Ownership: one Schedule per load connection, owned by the engine's loop; one thread.
 */

export interface ScheduleOptions {
  /** Requests in flight at most on the connection (the pipelining depth; 1 = no pipelining). */
  depth: number;
  /**
   * Open loop: ms between this connection's requests (connections × 1000 / rate), and when its
   * first request is due. Closed loop when `intervalMs` is 0.
   */
  intervalMs?: number;
  firstDueMs?: number;
  /**
   * Closed loop only: `burst` (default) writes `depth` requests at once and the next burst when all
   * are answered (wrk's pipeline.lua); `in-flight` sends a new request as each answer arrives, so
   * `depth` stay in flight (autocannon's pipelining).
   */
  refill?: 'burst' | 'in-flight';
}

export class Schedule {
  readonly depth: number;
  readonly open: boolean;
  private readonly inFlightRefill: boolean;
  private readonly intervalMs: number;
  /** Open loop: when the next request falls due. */
  private nextDue: number;
  /** When each request in flight was due (open) or sent (closed), oldest first: a ring. */
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;

  constructor(opts: ScheduleOptions) {
    if (!Number.isInteger(opts.depth) || opts.depth < 1) throw new RangeError(`depth must be a positive integer, got ${opts.depth}`);
    this.depth = opts.depth;
    this.intervalMs = opts.intervalMs ?? 0;
    this.open = this.intervalMs > 0;
    this.inFlightRefill = opts.refill === 'in-flight';
    this.nextDue = opts.firstDueMs ?? 0;
    this.times = new Float64Array(opts.depth);
  }

  /** The run starts at `now`: the first due time counts from it. */
  begin(now: number): void {
    this.nextDue += now;
  }

  /** Requests in flight. */
  get inFlight(): number {
    return this.count;
  }

  /** The oldest request in flight was due (or sent) at this time; Infinity if none is. */
  get oldest(): number {
    return this.count > 0 ? this.times[this.head]! : Infinity;
  }

  // #region due-sent-answered
  /**
   * How many requests to send now. Closed loop: a whole burst once the last one is answered (or,
   * refilling in flight, one for each answer). Open loop: every request already due, as far as the depth allows (the rest wait, and their
   * wait will count).
   */
  due(now: number): number {
    if (!this.open) return this.inFlightRefill ? this.depth - this.count : this.count === 0 ? this.depth : 0;
    if (now < this.nextDue) return 0;
    const dueNow = Math.floor((now - this.nextDue) / this.intervalMs) + 1;
    return Math.min(dueNow, this.depth - this.count);
  }

  /** `n` requests (from `due`) were written at `now`. */
  sent(n: number, now: number): void {
    for (let k = 0; k < n; k++) {
      let t = now;
      if (this.open) {
        t = this.nextDue; // timed from when it was due, however late it leaves
        this.nextDue += this.intervalMs;
      }
      this.times[(this.head + this.count) % this.depth] = t;
      this.count++;
    }
  }

  /** The oldest request in flight was answered at `now`: its latency in ms. */
  answered(now: number): number {
    const t = this.times[this.head]!;
    this.head = (this.head + 1) % this.depth;
    this.count--;
    return now - t;
  }
  // #endregion due-sent-answered

  /**
   * The connection was lost with requests in flight (they failed; the caller counts them). In the
   * open loop the schedule goes on: requests due while it reconnects wait, and count their wait.
   */
  dropInFlight(): number {
    const n = this.count;
    this.head = 0;
    this.count = 0;
    return n;
  }

  /** When this connection next has something to send (open loop); Infinity in the closed loop. */
  nextWake(): number {
    return this.open && this.count < this.depth ? this.nextDue : Infinity;
  }
}
