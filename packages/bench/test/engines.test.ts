/**
 * The engines: wrk's generated script and output parsing (pure), and each engine against a small
 * node:http server in this process — the counts it returns must match what the server saw.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadShape } from '../src/engine.js';
import { ENGINES } from '../src/engines/index.js';
import { parseWrkOutput, wrkScript } from '../src/engines/wrk.js';

const shape = (fields: Partial<LoadShape> = {}): LoadShape => ({
  connections: 2, depth: 1, pipelining: 'in-flight', churn: false, durationS: 1, rateRps: null, ...fields,
});

describe('wrk engine, pure parts', () => {
  it('writes depth requests per write, and Connection: close for churn', () => {
    expect(wrkScript('/bench.html', shape({ depth: 16, pipelining: 'burst' }))).toContain('local depth, path = 16, "/bench.html"');
    expect(wrkScript('/', shape({ churn: true }))).toContain('["Connection"] = "close"');
  });

  it('parses the result line and the wrapper\'s CPU', () => {
    const stat = '9966 (sh) S 9932 9932 3909 0 -1 4194304 87 321 0 0 0 0 3 15 20 0 1 0 46827';
    const r = parseWrkOutput(`noise\nWRK-RESULT 1644 1004711 1 2 3 4 5 887.000 8902.000\n${stat}\n`, 1);
    expect(r).toEqual({ responses: 1644, errors: 11, timeouts: 5, non2xx: 4, durationS: 1.004711, latency: { p50: 0.887, p99: 8.902 }, engineCpuSeconds: 0.18 });
    expect(() => parseWrkOutput('unable to connect', 1)).toThrow(/wrk printed no result: unable to connect/);
  });

  it('refuses the shapes it cannot produce, by name', () => {
    expect(ENGINES.wrk.cannot(shape({ rateRps: 1000 }))).toMatch(/wrk2/);
    expect(ENGINES.wrk.cannot(shape({ depth: 16, pipelining: 'in-flight' }))).toMatch(/bursts only/);
    expect(ENGINES.wrk.cannot(shape({ depth: 16, pipelining: 'burst' }))).toBeNull();
  });
});

describe.each(Object.values(ENGINES))('$name engine against node:http', (engine) => {
  let server: Server;
  let url = '';
  let served = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => { served++; res.end('hello'); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  // Without its binary an engine must say so by name; with it, it must measure.
  const missing = engine.unavailable();
  if (missing !== null) it('says why it cannot run', () => expect(missing).toMatch(/not installed/));
  else it.each([
    ['keep-alive', shape()],
    ['churn', shape({ churn: true })],
    ['bursts of 4', shape({ depth: 4, pipelining: 'burst' })],
  ])('counts the responses of a %s load, and its own CPU', async (_name, s) => {
    served = 0;
    const r = await engine.run(url, s);
    expect(r.responses).toBeGreaterThan(0);
    expect(r.responses).toBeLessThanOrEqual(served);
    expect(r.errors).toBe(0);
    expect(r.latency.p50).not.toBeNull();
    expect(r.engineCpuSeconds).toBeGreaterThan(0);
  }, 20_000);
});
