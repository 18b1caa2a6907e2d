/**
 * The engine's own ceiling: what it delivers against the canned server (canned-server.ts), the
 * cheapest server there is, with the same connections and depth as the real run. A load engine
 * whose ceiling is not well above a server's throughput measures itself, not the server.
 *
 * The server is a separate process pinned to `serverCpu` (taskset) when given; the engine runs
 * on the calling thread's core (pin the calling process with taskset to keep them apart).
 */
import { fileURLToPath } from 'node:url';
import { startCommand } from '@course/testkit';
import { runLoad, type LoadOptions, type LoadResult } from './engine/loop.js';

export interface CeilingOptions extends Omit<LoadOptions, 'host' | 'port' | 'path'> {
  /** Pin the canned server to this CPU (taskset -c N). */
  serverCpu?: number;
}

export interface Ceiling {
  /** Requests per second the engine delivered against the canned server. */
  requestsPerS: number;
  /** Requests per second of the engine's own CPU time: what one core of it can do at most. */
  requestsPerCpuS: number;
  result: LoadResult;
}

/** The compiled canned server, from src/ (vitest) or dist/ alike. */
export const CANNED_SERVER: string = fileURLToPath(new URL('../dist/canned-server.js', import.meta.url));

/** Start the canned server, load it, stop it. Blocks the calling thread for `durationMs`. */
export async function measureCeiling(opts: CeilingOptions): Promise<Ceiling> {
  const pin = opts.serverCpu === undefined ? [] : ['taskset', '-c', String(opts.serverCpu)];
  const server = await startCommand([...pin, process.execPath, CANNED_SERVER, '--port', '0']);
  try {
    const result = runLoad({ ...opts, host: '127.0.0.1', port: server.port, path: '/' });
    return {
      requestsPerS: result.requests / (result.durationMs / 1000),
      requestsPerCpuS: result.cpuMs > 0 ? result.requests / (result.cpuMs / 1000) : 0,
      result,
    };
  } finally {
    await server.stop();
  }
}
