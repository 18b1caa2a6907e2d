/**
 * 02-fork, both modes, through the compiled server (`node dist/main.js`, which re-executes itself
 * under `node --single-threaded`: the process tree is wrapper → server → children).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  childrenOf, isRunning, processTree, request, sampleDuring, ServerFixture, until, zombieChildren,
  type RunningServer,
} from '@course/testkit';
import { describeModelContract } from '@course/testkit/contract';

const PKG = '02-fork';

// The contract in both modes. minProcesses: with a client stalled in a child, the tree is at least
// wrapper + server + that child, and SIGTERM must end every one of them.
describeModelContract(PKG, [
  { name: 'per-connection', args: ['--mode', 'per-connection'], bannerMatch: / model=process-per-connection /, minProcesses: 3 },
  { name: 'prefork', args: ['--mode', 'prefork', '--workers', '2'], bannerMatch: / model=prefork workers=2 /, minProcesses: 4 },
], {
  badFlags: [
    [['--mode', 'nope'], '--mode'],
    [['--mode', 'prefork', '--workers', '0'], '--workers'],
    [['--workers', 'many'], '--workers'],
    [['--forks', '2'], '--forks'],
  ],
});

const fixture = new ServerFixture(PKG);
afterEach(() => fixture.cleanup());

/** The real server's pid, from its banner (the spawned process is the wrapper). */
function serverPid(s: RunningServer): number {
  const m = /pid=(\d+)/.exec(s.banner);
  if (!m) throw new Error(`no pid in banner: ${s.banner}`);
  return Number(m[1]);
}

describe('02-fork --mode per-connection: one process per connection', () => {
  it('runs 8 processes for 8 open connections, and reaps them all once they close', { timeout: 30_000 }, async () => {
    const s = await fixture.start([]);
    const pid = serverPid(s);
    expect(childrenOf(pid)).toHaveLength(0);
    const socks = await fixture.openIdle(s.port, 8);
    await until(() => childrenOf(pid).length === 8, 10_000, '8 children');
    expect(processTree(s.pid)).toHaveLength(2 + 8);
    for (const sock of socks) sock.end();
    await until(() => childrenOf(pid).length === 0, 10_000, 'children to exit and be reaped');
    expect(zombieChildren(pid)).toEqual([]);
  });

  it('forks 300 times in a row with no hung, crashed or unreaped child', { timeout: 60_000 }, async () => {
    const s = await fixture.start([]);
    const pid = serverPid(s);
    for (let i = 0; i < 300; i++) {
      const res = await request(s.port, i % 2 ? '/' : '/style.css', { timeoutMs: 10_000 });
      expect(res.status).toBe(200);
    }
    await until(() => childrenOf(pid).length === 0, 10_000, 'every child to be reaped');
    expect(zombieChildren(pid)).toEqual([]);
    expect(s.stderr()).toBe(''); // a crashed child would have been logged by the parent
  });

  it('kills its children when it is killed itself (no orphans)', { timeout: 30_000 }, async () => {
    const s = await fixture.start([]);
    const pid = serverPid(s);
    await fixture.openIdle(s.port, 3);
    await until(() => childrenOf(pid).length === 3, 10_000, '3 children');
    const kids = childrenOf(pid);
    process.kill(pid, 'SIGKILL'); // no chance to stop them: PR_SET_PDEATHSIG must
    await until(() => kids.every((k) => !isRunning(k)), 10_000, 'orphaned children to die');
  });
});

describe('02-fork --mode prefork: a fixed pool of processes', () => {
  it('keeps exactly N children under 100 concurrent connections', { timeout: 60_000 }, async () => {
    const s = await fixture.start(['--mode', 'prefork', '--workers', '3']);
    const pid = serverPid(s);
    expect(s.banner).toContain('workers=3');
    expect(childrenOf(pid)).toHaveLength(3);
    const before = childrenOf(pid).sort();
    const hundred = Promise.all(Array.from({ length: 100 }, () => request(s.port, '/', { timeoutMs: 30_000 })));
    const { seen, result } = await sampleDuring(() => processTree(s.pid).length, hundred);
    expect(result.every((r) => r.status === 200)).toBe(true);
    expect(seen).toEqual([2 + 3]); // wrapper + parent + 3 children, never more or fewer
    expect(childrenOf(pid).sort()).toEqual(before); // the same 3 processes served all of it
  });

  it('replaces a child that dies', { timeout: 30_000 }, async () => {
    const s = await fixture.start(['--mode', 'prefork', '--workers', '2']);
    const pid = serverPid(s);
    const [victim] = childrenOf(pid);
    process.kill(victim!, 'SIGKILL');
    await until(() => { const c = childrenOf(pid); return c.length === 2 && !c.includes(victim!); }, 10_000, 'a replacement child');
    expect(zombieChildren(pid)).toEqual([]);
    expect((await request(s.port, '/')).status).toBe(200);
    expect(s.stderr()).toMatch(/child \d+ was killed by signal 9/);
  });

  it('dies with its wrapper, children included', { timeout: 30_000 }, async () => {
    const s = await fixture.start(['--mode', 'prefork', '--workers', '2']);
    const tree = processTree(s.pid);
    expect(tree).toHaveLength(4);
    s.proc.kill('SIGKILL'); // the wrapper cannot forward anything now
    await until(() => tree.every((p) => !isRunning(p)), 10_000, 'server and children to end');
  });
});
