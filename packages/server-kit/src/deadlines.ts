/**
 * Connection deadlines for an event loop (steps 05-07): one number per connection, set on
 * activity, and a sweep every `sweepMs` that closes the connections past due — no heap, no timer
 * object per request (Redis' clientsCron does the same), so a timeout fires up to one sweep late
 * and a turn costs nothing extra. Plus the few one-shot timers a loop needs (an acceptor's
 * back-off), in a sorted array: they are rare.
 *
 * Ownership and threads: one instance per loop, used only on that loop's thread.
 */
import type { Session } from '@course/protocol';

/** What a connection exposes to its deadline. The loop owns the object; `touch` writes it. */
export interface Deadlined {
  /** When the connection is closed unless something happens first (ms, Date.now clock). */
  deadline: number;
  /** True while `deadline` is a header (request) deadline rather than an idle one. */
  headerClock: boolean;
  readonly session: Session;
}

interface Timer {
  at: number;
  fn: () => void;
}

export class Deadlines {
  /** A timeout fires at most one sweep late: a tenth of the shorter timeout, within 10 ms..1 s. */
  readonly sweepMs: number;
  private nextSweep = 0;
  private readonly timers: Timer[] = [];

  constructor(
    readonly headerTimeoutMs: number,
    readonly idleTimeoutMs: number,
  ) {
    this.sweepMs = Math.min(1000, Math.max(10, Math.floor(Math.min(headerTimeoutMs, idleTimeoutMs) / 10)));
  }

  /**
   * Set `c`'s deadline after activity at `now`:
   *  - nothing in flight: the idle timeout, restarted by any activity;
   *  - a request begun (midRequest): the header timeout, started when the request began and
   *    restarted only by progress (an answer queued or sent), so a client dribbling one byte at
   *    a time cannot keep extending it (slowloris);
   *  - an answer owed and still being computed (awaiting, step 06's tasks): no deadline — the
   *    client is waiting for us, not the other way round.
   */
  touch(c: Deadlined, now: number, progressed: boolean): void {
    if (!c.session.midRequest) {
      c.headerClock = false;
      c.deadline = c.session.awaiting ? Infinity : now + this.idleTimeoutMs;
    } else if (progressed || !c.headerClock) {
      c.headerClock = true;
      c.deadline = now + this.headerTimeoutMs;
    }
  }

  /** True when a sweep is due at `now` (the caller then closes every connection past its deadline). */
  sweepDue(now: number): boolean {
    if (now < this.nextSweep) return false;
    this.nextSweep = now + this.sweepMs;
    return true;
  }

  /** Run the one-shot timers due at `now`. */
  runTimers(now: number): void {
    while (this.timers.length > 0 && this.timers[0]!.at <= now) this.timers.shift()!.fn();
  }

  /**
   * How long the loop may sleep: until the next sweep (if any connection is open) or timer, and
   * at most `maxWaitMs` (-1: no limit). -1 when nothing is due at all.
   */
  waitTime(maxWaitMs: number, anyOpen: boolean): number {
    let due = Infinity;
    if (anyOpen) due = this.nextSweep;
    if (this.timers.length > 0) due = Math.min(due, this.timers[0]!.at);
    if (due === Infinity) return maxWaitMs;
    const ms = Math.max(0, Math.ceil(due - Date.now()));
    return maxWaitMs < 0 ? ms : Math.min(ms, maxWaitMs);
  }

  /** Run `fn` on this thread once `delayMs` have passed (checked once per turn). */
  after(delayMs: number, fn: () => void): void {
    const at = Date.now() + delayMs;
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.at > at) i--;
    this.timers.splice(i, 0, { at, fn });
  }
}
