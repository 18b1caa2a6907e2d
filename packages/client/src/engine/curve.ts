/**
 * A latency-vs-offered-load curve: the same open-loop run at rising rates, one point per rate.
 *
 * Closed-loop load answers "how fast can it go?"; this answers "at this rate, what latency do
 * users see?". While the server keeps up, p50 and p99 stay flat; past its capacity they climb
 * steeply, since requests queue and each one is timed from when it was due. The knee of the
 * curve is the server's real capacity under a latency target. Each point is a separate run, so
 * a point's queue does not spill into the next.
 */
import { percentileMs, runLoad, type LoadOptions } from './loop.js';

export interface CurvePoint {
  /** Offered requests per second. */
  rate: number;
  /** Responses per second actually received. */
  achieved: number;
  /** Latency percentiles in ms, from each request's intended send time; null if nothing came back. */
  p50: number | null;
  p99: number | null;
  errors: number;
  /** The engine's CPU time per second of run: near 1, the engine itself was busy. */
  clientCpuShare: number;
}

/** One open-loop run per rate, in order; blocks the calling thread for `rates.length × durationMs`. */
export function latencyCurve(opts: Omit<LoadOptions, 'rate'>, rates: readonly number[]): CurvePoint[] {
  return rates.map((rate) => {
    if (!(rate > 0)) throw new RangeError(`a curve's rates must be positive, got ${rate}`);
    const r = runLoad({ ...opts, rate });
    return { rate, achieved: r.requests / (r.durationMs / 1000), p50: percentileMs(r.histogram, 50), p99: percentileMs(r.histogram, 99), errors: r.errors, clientCpuShare: r.cpuMs / r.durationMs };
  });
}
