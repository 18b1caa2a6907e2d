/** 03-threads, both modes, through the compiled server (`node dist/main.js`). */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { request, sampleDuring, ServerFixture, threadCount, until } from '@course/testkit';
import { describeModelContract } from '@course/testkit/contract';

const PKG = '03-threads';

describeModelContract(PKG, [
  { name: 'per-connection', args: ['--mode', 'per-connection'], bannerMatch: / model=thread-per-connection / },
  { name: 'pool', args: ['--mode', 'pool', '--threads', '2'], bannerMatch: / model=prethreaded threads=2 / },
], {
  badFlags: [
    [['--mode', 'nope'], '--mode'],
    [['--mode', 'pool', '--threads', '0'], '--threads'],
    [['--threads', '-1'], '--threads'],
    [['--workers', '2'], '--workers'],
  ],
});

const fixture = new ServerFixture(PKG);
afterEach(() => fixture.cleanup());

/**
 * Memory mappings of a process. Each thread's stack is one (plus a guard page) until the thread is
 * *joined*: a finished Worker's OS thread is gone from /proc/<pid>/task at once, but its stack
 * stays mapped until Node joins it from the main thread's event loop.
 */
function mappingCount(pid: number): number {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').trimEnd().split('\n').length;
}

describe('03-threads --mode per-connection: one thread per connection', () => {
  it('runs 8 extra threads for 8 open connections, and they end once the connections close', { timeout: 30_000 }, async () => {
    const s = await fixture.start([]);
    const base = threadCount(s.pid);
    const socks = await fixture.openIdle(s.port, 8);
    await until(() => threadCount(s.pid) === base + 8, 15_000, `${base} + 8 threads (have ${threadCount(s.pid)})`);
    for (const sock of socks) sock.end();
    await until(() => threadCount(s.pid) === base, 15_000, `back to ${base} threads`);
  });

  it('leaks no thread over 200 connections in a row: each one ends and is joined', { timeout: 60_000 }, async () => {
    const s = await fixture.start([]);
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
    const one = await fixture.start(['--mode', 'pool', '--threads', '1']);
    const four = await fixture.start(['--mode', 'pool', '--threads', '4']);
    expect(four.banner).toContain('threads=4');
    expect(threadCount(four.pid) - threadCount(one.pid)).toBe(3);
  });

  it('keeps the thread count fixed under 100 concurrent connections', { timeout: 60_000 }, async () => {
    const s = await fixture.start(['--mode', 'pool', '--threads', '3']);
    const base = threadCount(s.pid);
    const hundred = Promise.all(Array.from({ length: 100 }, () => request(s.port, '/', { timeoutMs: 30_000 })));
    const { seen, result } = await sampleDuring(() => threadCount(s.pid), hundred);
    expect(result.every((r) => r.status === 200)).toBe(true);
    expect(seen).toEqual([base]);
  });
});
