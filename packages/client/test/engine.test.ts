/**
 * The load engine against real servers: it counts exactly what was answered (a server that
 * answers N requests and holds the rest), records a latency for each, names connect errors, and
 * runs keep-alive, pipelined, churn and open-loop load. No assertion depends on speed.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import * as sys from '@course/syscalls';
import { startCommand } from '@course/testkit';
import { CANNED_SERVER, latencyCurve, reactorEngine, runLoad, runLoadInWorker, summarize, type LoadOptions } from '../src/index.js';

const { C } = sys;
const LIMITED = fileURLToPath(new URL('./fixtures/limited-server.mjs', import.meta.url));
const GARBAGE = fileURLToPath(new URL('./fixtures/garbage-server.mjs', import.meta.url));

/** Run `load` against a server that answers exactly `limit` requests; return what both counted. */
async function againstLimited(limit: number, load: Omit<LoadOptions, 'host' | 'port'>, inWorker = false) {
  const server = await startCommand([process.execPath, LIMITED, '--limit', String(limit)]);
  try {
    const opts = { ...load, host: '127.0.0.1', port: server.port };
    const result = inWorker ? await runLoadInWorker(opts) : runLoad(opts);
    await server.stop();
    const answered = Number(/answered (\d+)/.exec(server.stdout())?.[1]);
    return { result, answered };
  } finally {
    await server.stop();
  }
}

// Long enough for a loaded 2-core machine to answer every one of `limit` requests; the held ones
// never time out (timeoutMs above the duration), so nothing is counted twice or lost.
const RUN = { durationMs: 3000, timeoutMs: 60_000 };

describe('load engine', () => {
  it('keep-alive: counts exactly the responses the server sent, each with a latency', async () => {
    const { result, answered } = await againstLimited(200, { ...RUN, connections: 8 });
    expect(answered).toBe(200);
    expect(result.requests).toBe(200);
    expect(result.histogram.totalCount).toBe(200);
    expect(result.histogram.minNonZeroValue).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(result.non2xx).toBe(0);
    expect(result.connects).toBe(8);
    expect(result.cpuMs).toBeGreaterThan(0);
    const summary = summarize(result);
    expect(summary.responses).toBe(200);
    expect(summary.latency.p50).toBeGreaterThan(0);
    expect(summary.latency.p99).toBeGreaterThanOrEqual(summary.latency.p50!);
    expect(summary.engineCpuSeconds).toBeCloseTo(result.cpuMs / 1000, 9);
  });

  it('pipelined bursts: the same count with 4 requests in flight per connection', async () => {
    const { result, answered } = await againstLimited(200, { ...RUN, connections: 4, depth: 4 });
    expect(answered).toBe(200);
    expect(result.requests).toBe(200);
    expect(result.histogram.totalCount).toBe(200);
    expect(result.errors).toBe(0);
  });

  it('pipelining in flight: a new request per answer, the same exact count', async () => {
    const { result, answered } = await againstLimited(200, { ...RUN, connections: 4, depth: 4, pipelining: 'in-flight' });
    expect(answered).toBe(200);
    expect(result.requests).toBe(200);
    expect(result.errors).toBe(0);
  });

  it('as the bench\'s engine: a URL and a load shape in, the bench\'s numbers out', async () => {
    const server = await startCommand([process.execPath, LIMITED, '--limit', '100']);
    try {
      const shape = { connections: 4, depth: 1, pipelining: 'in-flight' as const, churn: false, durationS: 2, rateRps: null };
      expect(reactorEngine.unavailable()).toBeNull();
      expect(reactorEngine.cannot(shape)).toBeNull();
      expect(reactorEngine.cannot({ ...shape, churn: true, depth: 2 })).toContain('churn');
      const r = await reactorEngine.run(`${server.url}/x?y=1`, shape);
      expect(r.responses).toBe(100);
      expect(r.errors).toBe(0);
      expect(r.latency.p50).toBeGreaterThan(0);
      expect(r.engineCpuSeconds).toBeGreaterThan(0);
      expect(r.durationS).toBeGreaterThan(1.5);
    } finally {
      await server.stop();
    }
  });

  it('churn: a new connection per request, each counted once', async () => {
    const { result, answered } = await againstLimited(100, { ...RUN, connections: 4, churn: true });
    expect(answered).toBe(100);
    expect(result.requests).toBe(100);
    expect(result.connects).toBeGreaterThanOrEqual(100);
    expect(result.errors).toBe(0);
  });

  it('runs in a worker thread and hands back the histogram', async () => {
    const { result } = await againstLimited(50, { ...RUN, durationMs: 2000, connections: 2 }, true);
    expect(result.requests).toBe(50);
    expect(result.histogram.totalCount).toBe(50);
    expect(result.histogram.getValueAtPercentile(50)).toBeGreaterThan(0);
  });

  it('open loop: never more requests than the schedule offers', async () => {
    const { result } = await againstLimited(1_000_000, { durationMs: 1000, connections: 4, rate: 200 });
    expect(result.offeredRate).toBe(200);
    expect(result.requests).toBeGreaterThan(0);
    expect(result.requests).toBeLessThanOrEqual(200 + 4); // one interval's rounding per connection
    expect(result.histogram.totalCount).toBe(result.requests);
  });

  it('a latency curve: one open-loop run per offered rate', async () => {
    const server = await startCommand([process.execPath, LIMITED, '--limit', '1000000']);
    try {
      const points = latencyCurve({ host: '127.0.0.1', port: server.port, connections: 2, durationMs: 1000 }, [50, 150]);
      expect(points.map((p) => p.rate)).toEqual([50, 150]);
      for (const p of points) {
        expect(p.achieved).toBeGreaterThan(0);
        expect(p.achieved).toBeLessThanOrEqual(p.rate * 1.05 + 2); // the schedule is the cap (+ one request per connection)
        expect(p.p50).toBeGreaterThan(0);
        expect(p.p99).toBeGreaterThanOrEqual(p.p50!);
        expect(p.errors).toBe(0);
      }
      expect(() => latencyCurve({ host: '127.0.0.1', port: server.port, connections: 1, durationMs: 10 }, [0])).toThrow('rates must be positive');
    } finally {
      await server.stop();
    }
  });

  it('names connect errors: ECONNREFUSED for a closed port', () => {
    const fd = sys.check(sys.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0), 'socket');
    try {
      sys.check(sys.bind(fd, '127.0.0.1', 0), 'bind');
      const { port } = sys.check(sys.getsockname(fd), 'getsockname');
      const result = runLoad({ host: '127.0.0.1', port, connections: 2, durationMs: 300 });
      expect(result.requests).toBe(0);
      expect(result.errors).toBeGreaterThanOrEqual(2);
      expect(Object.keys(result.errorCodes)).toEqual(['ECONNREFUSED']);
    } finally {
      sys.close(fd);
    }
  });

  it('counts an invalid response as EPROTO and replaces the connection', async () => {
    const server = await startCommand([process.execPath, GARBAGE]);
    try {
      const result = runLoad({ host: '127.0.0.1', port: server.port, connections: 2, durationMs: 500 });
      expect(result.requests).toBe(0);
      expect(result.errors).toBeGreaterThanOrEqual(2);
      expect(Object.keys(result.errorCodes)).toEqual(['EPROTO']);
      expect(result.connects).toBeGreaterThan(2); // each bad answer cost its connection, and the engine went on
    } finally {
      await server.stop();
    }
  });

  it('pipelines against the canned server without errors', async () => {
    const server = await startCommand([process.execPath, CANNED_SERVER, '--port', '0']);
    try {
      const result = runLoad({ host: '127.0.0.1', port: server.port, connections: 4, depth: 16, durationMs: 500 });
      expect(result.requests).toBeGreaterThan(0);
      expect(result.errors).toBe(0);
      expect(result.non2xx).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it('rejects bad options with a clear error', () => {
    expect(() => runLoad({ host: '127.0.0.1', port: 1, connections: 0, durationMs: 1 })).toThrow('connections must be a positive integer');
    expect(() => runLoad({ host: '127.0.0.1', port: 1, connections: 1, durationMs: 1, churn: true, depth: 2 })).toThrow('depth must be 1');
  });
});
