/**
 * Each engine's own ceiling, measured before the runs: the chosen engine loads the client
 * package's canned server (the cheapest server there is, pinned where the models are pinned)
 * with plain keep-alive. Whatever it delivers there is the most it can deliver anywhere, so a
 * model row near that figure measured the engine, not the model. The same yardstick for every
 * engine: autocannon, wrk and the reactor engine all load the same canned server the same way.
 * Bench main thread only.
 */
import { CANNED_SERVER } from '@course/client';
import { startCommand } from '@course/testkit';
import type { LoadEngine, LoadShape } from './engine.js';

/** What the header says: requests/s against the canned server, and how busy the engine's core was. */
export interface EngineCeiling {
  engine: string;
  requestsPerSec: number;
  /** Engine CPU seconds ÷ wall seconds: 1 means one core saturated. */
  engineCoreShare: number;
  connections: number;
  durationS: number;
}

/** Keep-alive, one request in flight per connection: the shape of the keepalive scenario. */
export const CEILING_SHAPE: Omit<LoadShape, 'durationS'> = { connections: 50, depth: 1, pipelining: 'in-flight', churn: false, rateRps: null };

/** Start the canned server behind `prefix` (the models' pinning), load it with `engine`, stop it. */
export async function measureEngineCeiling(engine: LoadEngine, prefix: string[], durationS: number): Promise<EngineCeiling> {
  const server = await startCommand([...prefix, process.execPath, CANNED_SERVER, '--port', '0', '--host', '127.0.0.1']);
  try {
    const r = await engine.run(`http://127.0.0.1:${server.port}/`, { ...CEILING_SHAPE, durationS });
    return ceilingOf(engine.name, r.responses, r.durationS, r.engineCpuSeconds, CEILING_SHAPE.connections);
  } finally {
    await server.stop(5000);
  }
}

/** The ceiling from one phase's counts. Pure. */
export function ceilingOf(engine: string, responses: number, durationS: number, engineCpuSeconds: number, connections: number): EngineCeiling {
  return {
    engine, connections, durationS,
    requestsPerSec: durationS > 0 ? responses / durationS : 0,
    engineCoreShare: durationS > 0 ? engineCpuSeconds / durationS : 0,
  };
}

/** The header line, on the console and in the Markdown report. Pure. */
export function describeCeiling(c: EngineCeiling): string {
  return `engine ceiling: ${Math.round(c.requestsPerSec).toLocaleString('en-US')} req/s at ${Math.round(c.engineCoreShare * 100)}% of its core ` +
    `(${c.engine}, ${c.connections} keep-alive connections against the canned server for ${c.durationS} s)`;
}
