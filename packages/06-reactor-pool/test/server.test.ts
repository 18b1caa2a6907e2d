/**
 * Step 06 as a reader runs it: `node dist/main.js` with the demo app, spoken to over TCP on
 * 127.0.0.1. Covers the site, the demo API, the spread of connections over SubReactors, and the
 * WorkerPool keeping reactors free.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, request, startServer, threadCount, until, type RunningServer } from '@course/testkit';
import { describeModelContract } from '@course/testkit/contract';
import { KeepAlive, PKG, type Stats } from './helpers.js';

// On SIGTERM a request still arriving counts as in flight: the drain waits for it up to
// --drain-timeout-ms (10 s by default). 200 ms keeps the contract's stalled-client SIGTERM test short.
describeModelContract(PKG, [
  { name: 'reactors=2 workers=2', args: ['--reactors', '2', '--workers', '2', '--drain-timeout-ms', '200'], bannerMatch: / model=reactor-pool reactors=2 workers=2 balance=rr mode=lt / },
], {
  badFlags: [
    [['--balance', 'random'], '--balance'],
    [['--reactors', '0'], '--reactors'],
    [['--workers', 'many'], '--workers'],
    [['--max-requests', '-1'], '--max-requests'],
    [['--max-queued-tasks', '-1'], '--max-queued-tasks'],
    [['--task-timeout', 'soon'], '--task-timeout'],
    [['--mode', 'et-nodrain'], '--mode'],
    [['--app', '/no/such/app.js'], '--app'],
  ],
});

function fib(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

describe('06-reactor-pool with the demo app', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '2'] }); });
  afterAll(async () => { await server?.stop(); });

  it('runs one thread per SubReactor and per WorkerPool thread', () => {
    // main + 2 SubReactors + 2 WorkerPool threads, plus Node's own (V8 platform, libuv pool).
    expect(threadCount(server.pid)).toBeGreaterThanOrEqual(5);
  });

  it('answers pipelined requests, static and computed, in order', async () => {
    const paths = ['/', '/api/fib?n=25', '/style.css', '/api/fib?n=bad', '/api/fib?n=10'];
    const burst = paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    const r = await exchange(server.port, burst);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200, 200, 400, 200]);
    expect(r.responses[1]!.body.toString()).toBe(`${fib(25)}\n`);
    expect(r.responses[2]!.headers['content-type']).toMatch(/^text\/css/);
    expect(r.responses[4]!.body.toString()).toBe(`${fib(10)}\n`);
  });

  it('computes /api/fib in the WorkerPool', async () => {
    for (const n of [0, 1, 2, 20, 30]) {
      const res = await request(server.port, `/api/fib?n=${n}`);
      expect(res.status, `n=${n}`).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body.toString(), `n=${n}`).toBe(`${fib(n)}\n`);
    }
  });

  it('answers 400 to a bad or too large n', async () => {
    for (const q of ['', 'n=', 'n=-1', 'n=41', 'n=1000', 'n=abc', 'n=1.5', 'n=1e1', 'n=+3', 'n=%2035', 'm=3']) {
      const res = await request(server.port, `/api/fib?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.toString(), q).toMatch(/n must be an integer from 0 to 40/);
    }
    const post = await request(server.port, '/api/fib?n=3', { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('does not offer the crash hook without COURSE_ALLOW_CRASH=1', async () => {
    expect((await request(server.port, '/api/crash?thread=worker')).status).toBe(404);
    expect((await request(server.port, '/api/crash?thread=reactor')).status).toBe(404);
    expect((await request(server.port, '/')).status).toBe(200);
  });

  it('reports stats as JSON, per reactor and for the pool', async () => {
    const before = JSON.parse((await request(server.port, '/api/stats')).body.toString()) as Stats;
    expect(before.reactors).toHaveLength(2);
    for (const r of before.reactors) {
      expect(Object.keys(r).sort()).toEqual(['acceptEagain', 'accepted', 'bytesIn', 'bytesOut', 'connections', 'dropped', 'emptyWakeups', 'index', 'listenerWakeups', 'messagesIn', 'messagesOut', 'refused', 'refusedConnections', 'requests', 'slowClosed', 'tasks', 'timedOut', 'websockets']);
    }
    expect(Object.keys(before.workers).sort()).toEqual(['done', 'failed', 'queued', 'recycled', 'refused', 'restarts', 'running', 'threads', 'timedOut']);
    expect(before.workers.threads).toBe(2);
    expect((await request(server.port, '/api/fib?n=15')).status).toBe(200);
    const res = await request(server.port, '/api/stats');
    expect(res.headers['content-type']).toBe('application/json');
    const after = JSON.parse(res.body.toString()) as Stats;
    expect(after.workers.done).toBe(before.workers.done + 1);
    expect(after.totals.requests).toBeGreaterThanOrEqual(before.totals.requests + 2);
    expect(after.totals.bytesOut).toBeGreaterThan(before.totals.bytesOut);
    expect(after.reactors.reduce((sum, r) => sum + r.tasks, 0)).toBe(before.reactors.reduce((sum, r) => sum + r.tasks, 0) + 1);
  });
});

describe('connections spread over SubReactors', () => {
  it('round-robin gives each reactor its share, and stats() shows it per reactor', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1'] });
    const conns: KeepAlive[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const c = await KeepAlive.open(server.port);
        expect((await c.get('/')).status).toBe(200);
        conns.push(c);
      }
      const stats = await conns[0]!.stats();
      expect(stats.reactors.map((r) => r.accepted)).toEqual([4, 4]);
      expect(stats.reactors.map((r) => r.connections)).toEqual([4, 4]);
      // Each connection made one request, and the first also asked for the stats.
      expect(stats.reactors.map((r) => r.requests)).toEqual([5, 4]);
    } finally {
      for (const c of conns) c.close();
      await server.stop();
    }
  });
});

describe('the WorkerPool keeps reactors free', () => {
  it('answers static requests while three long /api/fib tasks run', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '2'] });
    try {
      const events: string[] = [];
      const fibs = [0, 1, 2].map(() => request(server.port, '/api/fib?n=38', { timeoutMs: 60000 }).then((res) => {
        events.push('fib');
        return res;
      }));
      const watcher = await KeepAlive.open(server.port);
      // All three are in the pool: two running, one queued.
      await until(async () => {
        const s = await watcher.stats();
        return s.workers.running === 2 && s.workers.queued === 1;
      }, 20000, 'three tasks in the pool');
      for (let i = 0; i < 10; i++) {
        const res = await request(server.port, i % 2 === 0 ? '/' : '/style.css');
        expect(res.status).toBe(200);
        events.push('static');
      }
      const during = await watcher.stats();
      const results = await Promise.all(fibs);
      watcher.close();
      // The one reactor served every static file before any task finished: it never waited for one.
      expect(events).toEqual([...Array(10).fill('static'), 'fib', 'fib', 'fib']);
      expect(during.workers.running + during.workers.queued).toBeGreaterThan(0);
      for (const res of results) expect(res.body.toString()).toBe(`${fib(38)}\n`);
    } finally {
      await server.stop();
    }
  });

  it('recycles a worker thread after --max-requests tasks', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--max-requests', '2'] });
    try {
      for (let n = 10; n < 15; n++) {
        const res = await request(server.port, `/api/fib?n=${n}`);
        expect(res.body.toString()).toBe(`${fib(n)}\n`);
      }
      const stats = JSON.parse((await request(server.port, '/api/stats')).body.toString()) as Stats;
      expect(stats.workers).toMatchObject({ threads: 1, done: 5, failed: 0, recycled: 2, restarts: 0 });
    } finally {
      await server.stop();
    }
  });
});
