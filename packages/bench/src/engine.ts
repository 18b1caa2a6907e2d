/**
 * The seam between the bench and a load generator. A scenario says what load it wants — a
 * `LoadShape` — and an engine produces it against one URL and says what it saw, including how
 * much CPU it spent itself: an engine that saturates its own core measures itself, not the
 * server, and the report must know.
 *
 * Engines: `autocannon` (the default, the course's named tool, in this process), `wrk` (when the
 * `wrk` binary is installed: a C load generator, the reference that is not client-bound). A new
 * engine implements `LoadEngine` and adds one line to `ENGINES` in engines/index.ts.
 * Engines are created and run on the bench's main thread, one load phase at a time.
 */
import type { LoadResult } from '@course/testkit';

/** What a scenario asks of the load generator. Plain data. */
export interface LoadShape {
  /** Connections open at once (churn: clients looping connect → ask → read to close). */
  connections: number;
  /** Requests each connection has in flight: 1 for plain keep-alive. */
  depth: number;
  /**
   * How a depth above 1 is kept: `in-flight` sends a new request each time a response arrives
   * (autocannon's pipelining); `burst` writes `depth` requests at once and the next burst only
   * when all are answered (wrk's pipeline.lua, TechEmpower's plaintext test).
   */
  pipelining: 'in-flight' | 'burst';
  /** A new connection per request (`Connection: close`) instead of keep-alive. */
  churn: boolean;
  durationS: number;
  /** Open loop: requests per second over all connections; null for a closed loop. */
  rateRps: number | null;
}

/** What one load phase measured, plus what it cost the engine. */
export interface EngineResult extends LoadResult {
  /** User+system CPU seconds the load generator used during the phase (its process, or this one). */
  engineCpuSeconds: number;
}

export interface LoadEngine {
  readonly name: string;
  /** One line for the report: what the engine is and where it runs. */
  readonly description: string;
  /** Why this engine cannot run here at all (a binary missing), or null. */
  unavailable(): string | null;
  /** Why this engine cannot produce `shape`, or null. */
  cannot(shape: LoadShape): string | null;
  /** Load `url` (http://127.0.0.1:PORT/path) with `shape`. Rejects only on a bug or a tool failure. */
  run(url: string, shape: LoadShape): Promise<EngineResult>;
}

/** CPU this process used since `since` (from process.cpuUsage()), in seconds. */
export function ownCpuSince(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}
