/**
 * 02-fork, both modes, through the compiled server (`node dist/main.js`, which re-executes itself
 * under `node --single-threaded`: the process tree is wrapper → server → children).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  childrenOf, echoRoundTrip, openSocket, packageMain, processTree, randomPayload, request, startServer, until, zombieChildren,
  type RunningServer,
} from '@course/testkit';

const PKG = '02-fork';
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

/** The real server's pid, from its banner (the spawned process is the wrapper). */
function serverPid(s: RunningServer): number {
  const m = /pid=(\d+)/.exec(s.banner);
  if (!m) throw new Error(`no pid in banner: ${s.banner}`);
  return Number(m[1]);
}

/** A process that still runs (exists and is not a zombie). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function openIdle(port: number, n: number): Promise<Socket[]> {
  const opened = await Promise.all(Array.from({ length: n }, () => openSocket(port)));
  sockets.push(...opened);
  return opened;
}

/** Half a request, then silence: the client a blocking server must not wait for. */
async function stall(port: number): Promise<Socket> {
  const [sock] = await openIdle(port, 1);
  sock!.write('GET / HTTP/1.1\r\nHost: local');
  return sock!;
}

const MODES = [
  { name: 'per-connection', args: ['--mode', 'per-connection'] },
  { name: 'prefork', args: ['--mode', 'prefork', '--workers', '2'] },
];

describe.each(MODES)('02-fork --mode $name', ({ name, args }) => {
  it('serves the demo site', { timeout: 30_000 }, async () => {
    const s = await start(args);
    expect(s.banner).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ 02-fork /);
    expect(s.banner).toContain(name === 'prefork' ? 'model=prefork' : 'model=process-per-connection');
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

  it('exits 0 on SIGTERM, leaving no process behind', { timeout: 30_000 }, async () => {
    const s = await start(args);
    await stall(s.port); // a child blocked in read must not hold up the shutdown
    await request(s.port, '/');
    const tree = processTree(s.pid);
    expect(tree.length).toBeGreaterThanOrEqual(3); // wrapper, server, at least one child
    expect(await s.stop()).toEqual({ code: 0, signal: null });
    await until(() => tree.every((p) => !alive(p)), 10_000, 'every process of the tree to end');
  });
});

describe('02-fork --mode per-connection: one process per connection', () => {
  it('runs 8 processes for 8 open connections, and reaps them all once they close', { timeout: 30_000 }, async () => {
    const s = await start([]);
    const pid = serverPid(s);
    expect(childrenOf(pid)).toHaveLength(0);
    const socks = await openIdle(s.port, 8);
    await until(() => childrenOf(pid).length === 8, 10_000, '8 children');
    expect(processTree(s.pid)).toHaveLength(2 + 8);
    for (const sock of socks) sock.end();
    await until(() => childrenOf(pid).length === 0, 10_000, 'children to exit and be reaped');
    expect(zombieChildren(pid)).toEqual([]);
  });

  it('forks 300 times in a row with no hung, crashed or unreaped child', { timeout: 60_000 }, async () => {
    const s = await start([]);
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
    const s = await start([]);
    const pid = serverPid(s);
    await openIdle(s.port, 3);
    await until(() => childrenOf(pid).length === 3, 10_000, '3 children');
    const kids = childrenOf(pid);
    process.kill(pid, 'SIGKILL'); // no chance to stop them: PR_SET_PDEATHSIG must
    await until(() => kids.every((k) => !alive(k)), 10_000, 'orphaned children to die');
  });
});

describe('02-fork --mode prefork: a fixed pool of processes', () => {
  it('keeps exactly N children under 100 concurrent connections', { timeout: 60_000 }, async () => {
    const s = await start(['--mode', 'prefork', '--workers', '3']);
    const pid = serverPid(s);
    expect(s.banner).toContain('workers=3');
    expect(childrenOf(pid)).toHaveLength(3);
    const before = childrenOf(pid).sort();
    const counts = new Set<number>();
    let done = false;
    const sampler = (async () => {
      while (!done) {
        counts.add(processTree(s.pid).length);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const results = await Promise.all(Array.from({ length: 100 }, () => request(s.port, '/', { timeoutMs: 30_000 })));
    done = true;
    await sampler;
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect([...counts]).toEqual([2 + 3]); // wrapper + parent + 3 children, never more or fewer
    expect(childrenOf(pid).sort()).toEqual(before); // the same 3 processes served all of it
  });

  it('replaces a child that dies', { timeout: 30_000 }, async () => {
    const s = await start(['--mode', 'prefork', '--workers', '2']);
    const pid = serverPid(s);
    const [victim] = childrenOf(pid);
    process.kill(victim!, 'SIGKILL');
    await until(() => { const c = childrenOf(pid); return c.length === 2 && !c.includes(victim!); }, 10_000, 'a replacement child');
    expect(zombieChildren(pid)).toEqual([]);
    expect((await request(s.port, '/')).status).toBe(200);
    expect(s.stderr()).toMatch(/child \d+ was killed by signal 9/);
  });

  it('dies with its wrapper, children included', { timeout: 30_000 }, async () => {
    const s = await start(['--mode', 'prefork', '--workers', '2']);
    const tree = processTree(s.pid);
    expect(tree).toHaveLength(4);
    s.proc.kill('SIGKILL'); // the wrapper cannot forward anything now
    await until(() => tree.every((p) => !alive(p)), 10_000, 'server and children to end');
  });
});

describe('02-fork command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [packageMain(PKG), ...args], { encoding: 'utf8', timeout: 20_000 });

  it.each([
    [['--mode', 'nope'], '--mode'],
    [['--mode', 'prefork', '--workers', '0'], '--workers'],
    [['--workers', 'many'], '--workers'],
    [['--forks', '2'], '--forks'],
  ])('rejects %j with exit 2 and one line naming %s', (args, flag) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(flag);
  });
});
