/**
 * Every engine's own ceiling, measured before the runs: each installed engine loads the client
 * package's canned server (the cheapest server there is, pinned where the models are pinned)
 * with plain keep-alive. Whatever an engine delivers there is the most it can deliver anywhere,
 * so a model row near its engine's figure measured the engine, not the model. The same
 * yardstick for every engine: autocannon, wrk and the reactor engine load the same canned
 * server the same way, one after the other (never two at once on a small machine).
 * Bench main thread only.
 */
import { CANNED_SERVER } from '@course/client';
import { startCommand } from '@course/testkit';
import type { LoadEngine, LoadShape } from './engine.js';

/** One engine's line in the header: requests/s against the canned server, and how busy its core was. */
export interface EngineCeiling {
  engine: string;
  requestsPerSec: number;
  /** Engine CPU seconds ÷ wall seconds: 1 means one core saturated. */
  engineCoreShare: number;
  connections: number;
  durationS: number;
  /** Why this engine was not measured (not installed); its numbers are then 0. */
  reason?: string;
}

/** Keep-alive, one request in flight per connection: the shape of the keepalive scenario. */
export const CEILING_SHAPE: Omit<LoadShape, 'durationS'> = { connections: 50, depth: 1, pipelining: 'in-flight', churn: false, rateRps: null };

/** Start the canned server behind `prefix` (the models' pinning), load it with `engine`, stop it. */
export async function measureEngineCeiling(engine: LoadEngine, prefix: string[], durationS: number): Promise<EngineCeiling> {
  const missing = engine.unavailable();
  if (missing) return { ...ceilingOf(engine.name, 0, 0, 0, CEILING_SHAPE.connections), durationS, reason: missing };
  const server = await startCommand([...prefix, process.execPath, CANNED_SERVER, '--port', '0', '--host', '127.0.0.1']);
  try {
    const r = await engine.run(`http://127.0.0.1:${server.port}/`, { ...CEILING_SHAPE, durationS });
    return ceilingOf(engine.name, r.responses, r.durationS, r.engineCpuSeconds, CEILING_SHAPE.connections);
  } finally {
    await server.stop(5000);
  }
}

/** Every engine's ceiling, one engine at a time, in the order given. */
export async function measureEngineCeilings(engines: readonly LoadEngine[], prefix: string[], durationS: number): Promise<EngineCeiling[]> {
  const out: EngineCeiling[] = [];
  for (const engine of engines) out.push(await measureEngineCeiling(engine, prefix, durationS));
  return out;
}

/** The ceiling from one phase's counts. Pure. */
export function ceilingOf(engine: string, responses: number, durationS: number, engineCpuSeconds: number, connections: number): EngineCeiling {
  return {
    engine, connections, durationS,
    requestsPerSec: durationS > 0 ? responses / durationS : 0,
    engineCoreShare: durationS > 0 ? engineCpuSeconds / durationS : 0,
  };
}

const fmtS = (s: number) => String(Math.round(s * 10) / 10);

/** One console line per engine. Pure. */
export function describeCeiling(c: EngineCeiling): string {
  if (c.reason) return `engine ceiling: ${c.engine} not measured (${c.reason})`;
  return `engine ceiling: ${Math.round(c.requestsPerSec).toLocaleString('en-US')} req/s at ${Math.round(c.engineCoreShare * 100)}% of its core ` +
    `(${c.engine}, ${c.connections} keep-alive connections against the canned server for ${fmtS(c.durationS)} s)`;
}

/**
 * The ceilings as a Markdown table, the run's own engine marked, each engine's figure also as a
 * multiple of autocannon's (the course's default engine). Pure.
 */
export function ceilingTable(ceilings: readonly EngineCeiling[], used: string): string {
  const base = ceilings.find((c) => c.engine === 'autocannon' && !c.reason)?.requestsPerSec ?? 0;
  const lines = [
    '| engine | req/s against the canned server | engine CPU (share of its core) | vs autocannon |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const c of ceilings) {
    const name = c.engine === used ? `**${c.engine}** (this run)` : c.engine;
    if (c.reason) { lines.push(`| ${name} | not measured: ${c.reason} | | |`); continue; }
    lines.push(`| ${name} | ${Math.round(c.requestsPerSec).toLocaleString('en-US')} | ${Math.round(c.engineCoreShare * 100)}% | ${base > 0 ? `×${(c.requestsPerSec / base).toFixed(2)}` : '—'} |`);
  }
  return lines.join('\n');
}
