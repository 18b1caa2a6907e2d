/** 03-threads, both modes, through the compiled server (`node dist/main.js`). */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  echoRoundTrip, openSocket, packageMain, randomPayload, request, startServer, threadCount, until,
  type RunningServer,
} from '@course/testkit';

const PKG = '03-threads';
const running: RunningServer[] = [];
const sockets: Socket[] = [];

async function start(args: string[]): Promise<RunningServer> {
  const s = await startServer(PKG, { args });
  running.push(s);
  return s;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function openIdle(port: number, n: number): Promise<Socket[]> {
  const opened = await Promise.all(Array.from({ length: n }, () => openSocket(port)));
  sockets.push(...opened);
  return opened;
}

/**
 * Memory mappings of a process. Each thread's stack is one (plus a guard page) until the thread is
 * *joined*: a finished Worker's OS thread is gone from /proc/<pid>/task at once, but its stack
 * stays mapped until Node joins it from the main thread's event loop.
 */
function mappingCount(pid: number): number {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').trimEnd().split('\n').length;
}

/** Half a request, then silence: the client a blocking server must not wait for. */
async function stall(port: number): Promise<Socket> {
  const [sock] = await openIdle(port, 1);
  sock!.write('GET / HTTP/1.1\r\nHost: local');
  return sock!;
}

const MODES = [
  { name: 'per-connection', args: ['--mode', 'per-connection'], model: 'model=thread-per-connection' },
  { name: 'pool', args: ['--mode', 'pool', '--threads', '2'], model: 'model=prethreaded' },
];

describe.each(MODES)('03-threads --mode $name', ({ args, model }) => {
  it('serves the demo site', { timeout: 30_000 }, async () => {
    const s = await start(args);
    expect(s.banner).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ 03-threads /);
    expect(s.banner).toContain(model);
    const res = await request(s.port, '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body.toString('utf8')).toMatch(/<html/i);
    expect((await request(s.port, '/no-such-page')).status).toBe(404);
  });

  it('echoes 1 MB byte for byte with --protocol echo', { timeout: 30_000 }, async () => {
    const s = await start([...args, '--protocol', 'echo']);
    expect(s.banner).toMatch(/^listening on tcp:\/\//);
    const data = randomPayload(1024 * 1024);
    const back = await echoRoundTrip(s.port, data);
    expect(back.equals(data)).toBe(true);
  });

  it('serves a second client while the first one stalls mid-request', { timeout: 30_000 }, async () => {
    const s = await start(args);
    await stall(s.port);
    const res = await request(s.port, '/');
    expect(res.status).toBe(200);
  });

  it('exits 0 on SIGTERM, even with a thread blocked in read', { timeout: 30_000 }, async () => {
    const s = await start(args);
    await stall(s.port);
    await request(s.port, '/');
    expect(await s.stop()).toEqual({ code: 0, signal: null });
  });
});

describe('03-threads --mode per-connection: one thread per connection', () => {
  it('runs 8 extra threads for 8 open connections, and they end once the connections close', { timeout: 30_000 }, async () => {
    const s = await start([]);
    const base = threadCount(s.pid);
    const socks = await openIdle(s.port, 8);
    await until(() => threadCount(s.pid) === base + 8, 15_000, `${base} + 8 threads (have ${threadCount(s.pid)})`);
    for (const sock of socks) sock.end();
    await until(() => threadCount(s.pid) === base, 15_000, `back to ${base} threads`);
  });

  it('leaks no thread over 200 connections in a row: each one ends and is joined', { timeout: 60_000 }, async () => {
    const s = await start([]);
    const base = threadCount(s.pid);
    const maps = mappingCount(s.pid);
    for (let i = 0; i < 200; i++) {
      const res = await request(s.port, i % 2 ? '/' : '/style.css', { timeoutMs: 15_000 });
      expect(res.status).toBe(200);
    }
    await until(() => threadCount(s.pid) === base, 15_000, `back to ${base} threads (have ${threadCount(s.pid)})`);
    // Joined too, not just ended: 200 unjoined threads would leave 400 more mappings (stack + guard
    // page each); glibc may cache a few freed stacks, hence the slack.
    await until(() => mappingCount(s.pid) <= maps + 30, 15_000, `threads joined (${mappingCount(s.pid)} mappings, ${maps} at start)`);
    expect(s.stderr()).toBe('');
  });
});

describe('03-threads --mode pool: a fixed pool of threads', () => {
  it('runs N pool threads besides Node\'s own', { timeout: 30_000 }, async () => {
    const one = await start(['--mode', 'pool', '--threads', '1']);
    const four = await start(['--mode', 'pool', '--threads', '4']);
    expect(four.banner).toContain('threads=4');
    expect(threadCount(four.pid) - threadCount(one.pid)).toBe(3);
  });

  it('keeps the thread count fixed under 100 concurrent connections', { timeout: 60_000 }, async () => {
    const s = await start(['--mode', 'pool', '--threads', '3']);
    const base = threadCount(s.pid);
    const counts = new Set<number>();
    let done = false;
    const sampler = (async () => {
      while (!done) {
        counts.add(threadCount(s.pid));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const results = await Promise.all(Array.from({ length: 100 }, () => request(s.port, '/', { timeoutMs: 30_000 })));
    done = true;
    await sampler;
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect([...counts]).toEqual([base]);
  });
});

describe('03-threads command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [packageMain(PKG), ...args], { encoding: 'utf8', timeout: 20_000 });

  it.each([
    [['--mode', 'nope'], '--mode'],
    [['--mode', 'pool', '--threads', '0'], '--threads'],
    [['--threads', '-1'], '--threads'],
    [['--workers', '2'], '--workers'],
  ])('rejects %j with exit 2 and one line naming %s', (args, flag) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(flag);
  });
});
