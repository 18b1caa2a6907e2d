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
import type { EngineResult, LoadShape } from '@course/testkit';

// The shapes live in testkit beside LoadResult, so that engines outside the bench (packages/client)
// use the same types without depending on the bench.
export type { EngineResult, LoadShape };

/** A load generator that kept its one core at least this busy measured itself. */
export const CLIENT_BOUND_SHARE = 0.9;

/** Whether a load phase of `durationS` in which the load generator used `cpuSeconds` was client-bound. */
export function isClientBound(cpuSeconds: number, durationS: number): boolean {
  return cpuSeconds >= CLIENT_BOUND_SHARE * durationS;
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
