/**
 * Latency percentiles for the raw load clients (load.ts) and the bench's engines. autocannon's own
 * histogram counts whole milliseconds, too coarse for servers that answer in a fraction of one, so
 * every latency is kept (a few hundred thousand doubles at most) and sorted once at the end.
 * Owned by the one load phase that records into it, on its process's main thread.
 */

/**
 * The p-th percentile (0 < p ≤ 100) of ascending `sorted`, nearest-rank method: the smallest value
 * with at least p % of the samples at or below it. null for no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}

/** Collects latencies in milliseconds; grows by doubling, like a vector. */
export class LatencyRecorder {
  private values = new Float64Array(4096);
  private n = 0;

  get count(): number {
    return this.n;
  }

  record(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  /** p50 and p99 of everything recorded (null when nothing was). */
  summary(): { p50: number | null; p99: number | null } {
    const sorted = this.values.slice(0, this.n).sort(); // typed arrays sort numerically
    return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  }
}
