/**
 * `--accept main|reuseport|exclusive|shared` (balancer.ts): who calls accept4. Every mode serves
 * HTTP with two SubReactors and ends with exit 0 on SIGTERM; in the modes where the SubReactors
 * accept for themselves, every connection is counted by the reactor that accepted it, and the
 * counts add up. How the kernel spreads connections is not asserted (it depends on timing and
 * on the hash of the client's port): that is what the bench's accept-modes script measures.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import * as sys from '@course/syscalls';
import { fdCount, packageMain, request, startServer } from '@course/testkit';
import { createServer } from '../dist/index.js';
import { KeepAlive, PKG, pastTwoConnections } from './helpers.js';

const MODES = ['main', 'reuseport', 'exclusive', 'shared'] as const;

/** `n` requests, each on its own connection (Connection: close), `parallel` at a time; their statuses. */
async function shortConnections(port: number, n: number, parallel: number): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < n) {
      next++;
      const res = await request(port, '/bench.html', { headers: { Connection: 'close' }, timeoutMs: 20_000 });
      statuses.push(res.status);
    }
  }));
  return statuses;
}

describe.each(MODES)('--accept %s', (mode) => {
  it('serves HTTP with two reactors and exits 0 on SIGTERM', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1', '--accept', mode] });
    try {
      const res = await request(server.port, '/bench.html');
      expect(res.status).toBe(200);
      expect(res.body.toString()).toMatch(/<html/i);
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  });
});

describe.each(['reuseport', 'exclusive'] as const)('--accept %s: each SubReactor accepts for itself', (mode) => {
  it('serves 200 short connections and reports what each reactor accepted', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1', '--accept', mode] });
    try {
      const statuses = await shortConnections(server.port, 200, 8);
      expect(statuses.filter((s) => s === 200)).toHaveLength(200);
      const conn = await KeepAlive.open(server.port);
      const stats = await conn.stats();
      conn.close();
      // 200 short connections and the one asking: each accepted by one of the two reactors.
      expect(stats.reactors).toHaveLength(2);
      expect(stats.reactors.reduce((n, r) => n + r.accepted, 0)).toBe(201);
      expect(stats.totals.accepted).toBe(201);
      for (const r of stats.reactors) {
        // Edge-triggered: each wake-up accepts until EAGAIN, so every accepting reactor woke, and
        // every wake-up ended on one EAGAIN.
        if (r.accepted > 0) expect(r.listenerWakeups).toBeGreaterThan(0);
        expect(r.acceptEagain).toBe(r.listenerWakeups);
        expect(r.emptyWakeups).toBeLessThanOrEqual(r.listenerWakeups);
      }
      expect(stats.main).toMatchObject({ listenerWakeups: 0, acceptEagain: 0 }); // the main thread never accepted
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  }, 120_000);

  it('honours --max-connections: past it, a connection is answered 503 and counted', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1', '--accept', mode, '--max-connections', '2'] });
    try {
      const { held: [a, b], over } = await pastTwoConnections(server.port);
      expect(over.map((r) => [r.status, r.headers['retry-after']])).toEqual([[503, '1']]);
      const stats = await a.stats();
      expect(stats.totals).toMatchObject({ refusedConnections: 1, connections: 2 });
      expect(stats.main.refusedConnections).toBe(0); // refused by the SubReactor that accepted it
      a.close();
      b.close();
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  }, 60_000);
});

describe('--accept main', () => {
  it('accepts on the main thread only: its wake-ups are counted there, none on the reactors', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1'] });
    try {
      expect((await shortConnections(server.port, 20, 2)).every((s) => s === 200)).toBe(true);
      const conn = await KeepAlive.open(server.port);
      const stats = await conn.stats();
      conn.close();
      expect(stats.main.listenerWakeups).toBeGreaterThan(0);
      expect(stats.reactors.map((r) => r.listenerWakeups)).toEqual([0, 0]);
      expect(stats.reactors.reduce((n, r) => n + r.accepted, 0)).toBe(21);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe('a bad --accept', () => {
  it('exits 2 with one line naming the flag', () => {
    const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0', '--accept', 'sideways'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--accept/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('createServer throws a RangeError naming the option', async () => {
    // @ts-expect-error: not an AcceptMode
    await expect(createServer({ port: 0, accept: 'sideways' })).rejects.toThrow(/accept must be one of main\|reuseport\|exclusive\|shared/);
  });
});

describe.each(MODES)('server.close() with accept %s', (mode) => {
  it('frees every listener and fd: the same port can be bound again, without SO_REUSEPORT', async () => {
    const server = await createServer({ port: 0, reactors: 2, workers: 1, accept: mode });
    const serving = server.serve();
    expect((await request(server.listener.port, '/bench.html')).status).toBe(200);
    await server.close();
    expect(await serving).toBe(true);
    // A plain socket can take the port only if no listener of the server (reuseport: none of
    // the two) is left open.
    const again = sys.listenTcp({ host: '127.0.0.1', port: server.listener.port });
    sys.close(again.fd);
    const fds = fdCount(process.pid);
    const second = await createServer({ port: server.listener.port, reactors: 2, workers: 1, accept: mode });
    expect(second.listener.port).toBe(server.listener.port);
    const serving2 = second.serve();
    expect((await request(second.listener.port, '/bench.html')).status).toBe(200);
    await second.close();
    expect(await serving2).toBe(true);
    expect(fdCount(process.pid)).toBe(fds); // listeners, epoll fds, eventfds, each Acceptor's spare fd
  }, 60_000);
});
