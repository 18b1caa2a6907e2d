/**
 * The MainReactor's balancing policies, observed through per-reactor counts in /api/stats.
 * Every client here connects to 127.0.0.1; the hash test also binds its own end to other
 * loopback addresses (127.0.0.0/8 is all loopback on Linux) to vary the source address.
 */
import { describe, expect, it } from 'vitest';
import { startServer, until } from '@course/testkit';
import { sourceHash } from '../src/balancer.js';
import { KeepAlive, PKG } from './helpers.js';

describe('--balance least', () => {
  it('sends a new connection to the reactor with the fewest open connections', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1', '--balance', 'least'] });
    const open: KeepAlive[] = [];
    try {
      // Loads start 0/0. Ties go to the lower index: S→0, A→1, B→0, C→1.
      const s = await KeepAlive.open(server.port);
      const [a, b, c] = [await KeepAlive.open(server.port), await KeepAlive.open(server.port), await KeepAlive.open(server.port)];
      open.push(s, a!, b!, c!);
      for (const k of open) expect((await k.get('/')).status).toBe(200);
      expect((await s.stats()).reactors.map((r) => r.connections)).toEqual([2, 2]);
      // Close both connections of reactor 1; once it has noticed, it is the least loaded.
      a!.close();
      c!.close();
      await until(async () => (await s.stats()).reactors[1]!.connections === 0, 20000, 'reactor 1 to see its connections close');
      // Loads 2/0: D→1, E→1 (round-robin would have given one to each).
      const [d, e] = [await KeepAlive.open(server.port), await KeepAlive.open(server.port)];
      open.push(d!, e!);
      for (const k of [d!, e!]) expect((await k.get('/')).status).toBe(200);
      const stats = await s.stats();
      expect(stats.reactors.map((r) => r.accepted)).toEqual([2, 4]);
      expect(stats.reactors.map((r) => r.connections)).toEqual([2, 2]);
    } finally {
      for (const k of open) k.close();
      await server.stop();
    }
  });
});

describe('--balance hash', () => {
  it('sends every connection from one source address to the same reactor', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1', '--balance', 'hash'] });
    const open: KeepAlive[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const k = await KeepAlive.open(server.port);
        open.push(k);
        expect((await k.get('/')).status).toBe(200);
      }
      // All from 127.0.0.1: one reactor takes all six, the other none.
      const home = sourceHash('127.0.0.1') % 2;
      const stats = await open[0]!.stats();
      expect(stats.reactors[home]!.accepted).toBe(6);
      expect(stats.reactors[1 - home]!.accepted).toBe(0);
    } finally {
      for (const k of open) k.close();
      await server.stop();
    }
  });

  it('sends other source addresses where their hash says', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1', '--balance', 'hash'] });
    const open: KeepAlive[] = [];
    try {
      // Two loopback source addresses that hash to different reactors.
      const candidates = Array.from({ length: 30 }, (_, i) => `127.0.0.${i + 2}`);
      const toZero = candidates.find((a) => sourceHash(a) % 2 === 0)!;
      const toOne = candidates.find((a) => sourceHash(a) % 2 === 1)!;
      for (const [address, count] of [[toZero, 3], [toOne, 2]] as const) {
        for (let i = 0; i < count; i++) {
          const k = await KeepAlive.open(server.port, address);
          open.push(k);
          expect((await k.get('/')).status).toBe(200);
        }
      }
      const stats = await open[0]!.stats();
      expect(stats.reactors.map((r) => r.accepted)).toEqual([3, 2]);
    } finally {
      for (const k of open) k.close();
      await server.stop();
    }
  });
});
