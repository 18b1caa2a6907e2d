/**
 * Overload sheds instead of queueing: a bounded WorkerPool queue (--max-queued-tasks) answers
 * 503 + Retry-After at once when full, and --task-timeout answers 503 for a task not done in time
 * and drops its late result. Behaviour only — which requests get 200 and which 503 depends on the
 * machine's speed, so no assertion counts them beyond "some of each" where that cannot fail.
 */
import { describe, expect, it } from 'vitest';
import { openSocket, request, rssKb, startServer, waitForClose } from '@course/testkit';
import { KeepAlive, PKG, pastTwoConnections } from './helpers.js';

describe('a flood of CPU-heavy requests', () => {
  it('gets 200 or 503 + Retry-After for every one of 2,000, while static files stay served and memory stays bounded', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--max-queued-tasks', '8'] });
    try {
      const baseline = rssKb(server.pid);
      let peak = baseline;
      const sampler = setInterval(() => { peak = Math.max(peak, rssKb(server.pid)); }, 100);
      const flood = Promise.all(Array.from({ length: 2000 }, () =>
        request(server.port, '/api/fib?n=35', { timeoutMs: 180_000 }).then((r) => r, (e: Error) => e)));
      // Static requests meanwhile, one after another: the reactor never waits for the pool.
      const statics: number[] = [];
      for (let i = 0; i < 20; i++) statics.push((await request(server.port, '/bench.html', { timeoutMs: 60_000 })).status);
      const answers = await flood;
      clearInterval(sampler);

      const errors = answers.filter((a): a is Error => a instanceof Error);
      expect(errors.map((e) => e.message)).toEqual([]); // nothing hung, nothing was reset
      const responses = answers.filter((a) => !(a instanceof Error)) as Exclude<(typeof answers)[number], Error>[];
      expect(new Set(responses.map((r) => r.status))).toEqual(new Set([200, 503]));
      for (const r of responses) {
        if (r.status === 200) expect(r.body.toString()).toBe('9227465\n');
        else expect(r.headers['retry-after']).toBe('1');
      }
      expect(statics).toEqual(Array(20).fill(200));
      // 2,000 requests, at most 1 running + 8 queued at any time: memory does not grow with the flood.
      expect(peak - baseline).toBeLessThan(256 * 1024);

      const stats = await (await KeepAlive.open(server.port)).stats();
      const refused = responses.filter((r) => r.status === 503).length;
      expect(stats.workers.refused).toBe(refused);
      expect(stats.workers.done).toBe(2000 - refused);
      expect(stats.workers).toMatchObject({ queued: 0, running: 0, timedOut: 0 });
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  }, 240_000);
});

describe('--max-queued-tasks 0', () => {
  it('refuses a task whenever every pool thread is busy, and takes the next one once a thread is free', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--max-queued-tasks', '0'] });
    try {
      const busy = await KeepAlive.open(server.port);
      const busyAnswer = busy.get('/api/fib?n=38', 120_000); // holds the only worker for a while
      const probe = await KeepAlive.open(server.port);
      let refusedWhileBusy = false;
      for (let i = 0; i < 600 && !refusedWhileBusy; i++) {
        const stats = await probe.stats();
        if (stats.workers.running === 1) {
          const r = await probe.get('/api/fib?n=1');
          refusedWhileBusy = r.status === 503 && r.headers['retry-after'] === '1';
        } else {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      expect(refusedWhileBusy).toBe(true);
      const held = await busyAnswer;
      expect(held.status).toBe(200);
      expect(held.body.toString()).toBe('39088169\n');
      const after = await probe.get('/api/fib?n=10', 60_000);
      expect(after.status).toBe(200);
      expect(after.body.toString()).toBe('55\n');
    } finally {
      await server.stop();
    }
  }, 180_000);
});

describe('--task-timeout', () => {
  it('answers 503 for a task not done in time, drops its late result, and keeps the connection usable', async () => {
    // fib(40) takes seconds: a 50 ms timeout cannot be met, however fast the machine.
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--task-timeout', '50'] });
    try {
      const conn = await KeepAlive.open(server.port);
      const slow = await conn.get('/api/fib?n=40', 60_000);
      expect(slow.status).toBe(503);
      expect(slow.headers['retry-after']).toBe('1');
      expect(slow.body.toString()).toMatch(/timed out/);
      // Wait for the late result to come back and be dropped; then the same connection answers the
      // next request with its own answer (a late 200 delivered here would be read instead). The pool
      // thread counts the task done before its reply reaches the SubReactor, which only then drops
      // it from the queued count: wait for both.
      let stats = await conn.stats();
      for (let i = 0; i < 600 && (stats.workers.done < 1 || stats.workers.running > 0 || stats.workers.queued > 0); i++) {
        await new Promise((r) => setTimeout(r, 100));
        stats = await conn.stats();
      }
      expect(stats.workers).toMatchObject({ done: 1, queued: 0, running: 0, timedOut: 1 });
      const next = await conn.get('/bench.html');
      expect(next.status).toBe(200);
      expect(next.body.toString()).toMatch(/<html/i);
    } finally {
      await server.stop();
    }
  }, 120_000);
});

describe('--max-connections', () => {
  it('answers a connection past the limit 503 and closes it, counts it, and serves again once one is free', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--max-connections', '2'] });
    try {
      const { held: [a, b], over } = await pastTwoConnections(server.port);
      expect(over.map((r) => [r.status, r.headers['retry-after'], r.headers.connection])).toEqual([[503, '1', 'close']]);
      const stats = await a.stats(); // the two held connections are still served meanwhile
      expect(stats.totals).toMatchObject({ refusedConnections: 1, connections: 2 });
      b.sock.destroy();
      let served = 0;
      for (let i = 0; i < 200 && served === 0; i++) { // until the SubReactor has seen b go
        const r = await request(server.port, '/bench.html', { timeoutMs: 20_000 });
        if (r.status === 200) served++;
        else await new Promise((res) => setTimeout(res, 50));
      }
      expect(served).toBe(1);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('closes an echo connection past the limit at once, and keeps serving the one held', async () => {
    const server = await startServer(PKG, { args: ['--protocol', 'echo', '--reactors', '1', '--workers', '1', '--max-connections', '1'] });
    try {
      const held = await openSocket(server.port);
      held.on('error', () => { /* reported by the expectations */ });
      expect((await new Promise<Buffer>((res) => { held.once('data', res); held.write('one'); })).toString()).toBe('one');
      const over = await openSocket(server.port);
      let got = 0;
      over.on('data', (d: Buffer) => { got += d.length; });
      over.on('error', () => { /* a reset would do too: the point is that it ends */ });
      over.write('two');
      await waitForClose(over, 20_000);
      expect(got).toBe(0);
      // The held connection is still served.
      expect((await new Promise<Buffer>((res) => { held.once('data', res); held.write('three'); })).toString()).toBe('three');
      held.destroy();
    } finally {
      await server.stop();
    }
  }, 120_000);
});
