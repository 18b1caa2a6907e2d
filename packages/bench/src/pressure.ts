/**
 * Two counts for docs/appendix-under-pressure.md, measured instead of asserted:
 *
 *   pnpm --filter bench pressure time-wait   3 s of churn on step 05: whose port the TIME_WAIT entries carry
 *   pnpm --filter bench pressure backlog     step 01 stuck on a stalled client, 700 connects: the accept
 *                                            queue (ss) and TcpExt's ListenOverflows (/proc/net/netstat)
 *   pnpm --filter bench pressure thread-split  5 s of churn on step 06 (--reactors 2): each thread's CPU
 *                                            per connection, from /proc/PID/task — the main reactor's a
 *                                            and a SubReactor's s of Appendix G's model
 *
 * Functional counts, not speeds: each takes a few seconds and loads nothing for long. Exit 2 on a
 * bad argument. Bench main thread only.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { holdStalledRequest, REPO_ROOT, runChurn } from '@course/testkit';
import { parseOrExit, UsageError } from './options.js';
import { BENCH_PATH } from './plan.js';
import { startTarget } from './target.js';

const USAGE = `usage: pnpm --filter bench pressure time-wait|backlog|thread-split\n`;
const EXPERIMENTS = ['time-wait', 'backlog', 'thread-split'] as const;
/** More connections than the models' listen backlog (511): the rest cannot be queued. */
const BACKLOG_CONNECTS = 700;

const opts = parseOrExit('pressure', USAGE, (argv) => {
  const words = argv.filter((a) => a !== '--');
  if (words.includes('--help') || words.includes('-h')) return { help: true, experiment: 'time-wait' as const };
  const experiment = EXPERIMENTS.find((e) => e === words[0]);
  if (!experiment || words.length !== 1) throw new UsageError(`expected one of ${EXPERIMENTS.join(', ')}, got "${words.join(' ')}"`);
  return { help: false, experiment };
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = join(REPO_ROOT, 'site');

/** Sockets `ss` lists for a state and filter, without its header line. */
function ssCount(state: string, filter: string): number {
  return execFileSync('ss', ['-tan', 'state', state, filter], { encoding: 'utf8' }).trim().split('\n').length - 1;
}

/** The TcpExt counters of /proc/net/netstat (the whole network namespace), by name. */
function tcpExt(): Record<string, number> {
  const [names, values] = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:')).map((l) => l.split(/\s+/));
  return Object.fromEntries(names!.slice(1).map((n, i) => [n, Number(values![i + 1])]));
}

async function start(model: '01-blocking' | '05-epoll-native' | '06-reactor-pool', args: string[] = [], prefix: string[] = []) {
  const started = await startTarget(model, args, root, prefix);
  if (!started.ok) throw new Error(`${model}: ${started.status}: ${started.reason}`);
  return started.server;
}

async function timeWait(): Promise<void> {
  const server = await start('05-epoll-native');
  const port = server.port;
  try {
    // The bench's churn: connect, ask with Connection: close, read until the server closes.
    const r = await runChurn({ port, host: server.host, path: BENCH_PATH, concurrency: 10, durationS: 3 });
    console.log(`05-epoll-native on port ${port}: ${r.responses} connections in 3 s of churn (10 clients, Connection: close)`);
    console.log(`TIME_WAIT with the server's port as local port ( sport = :${port} ): ${ssCount('time-wait', `( sport = :${port} )`)}`);
    console.log(`TIME_WAIT with the server's port as remote port ( dport = :${port} ), the clients': ${ssCount('time-wait', `( dport = :${port} )`)}`);
  } finally {
    await server.stop(5000);
  }
}

async function backlog(): Promise<void> {
  const server = await start('01-blocking');
  const port = server.port;
  const sockets: Socket[] = [];
  const stalled = await holdStalledRequest(port, server.host, BENCH_PATH);
  try {
    await sleep(200); // 01 is now blocked reading the stalled request, and accepts nobody
    const before = tcpExt();
    let connected = 0;
    for (let i = 0; i < BACKLOG_CONNECTS; i++) {
      const s = connect({ port, host: server.host });
      s.on('connect', () => { connected++; });
      s.on('error', () => { /* counted as not connected */ });
      sockets.push(s);
    }
    await sleep(3000);
    const after = tcpExt();
    const listener = execFileSync('ss', ['-ltn', `( sport = :${port} )`], { encoding: 'utf8' }).trim().split('\n')[1]!.split(/\s+/);
    console.log(`01-blocking on port ${port}, stuck on a stalled client; ${BACKLOG_CONNECTS} connects, 3 s later:`);
    console.log(`listener: Recv-Q (queued, not accepted) ${listener[1]}, Send-Q (the queue's bound) ${listener[2]}`);
    console.log(`clients: ${connected} connected, ${ssCount('syn-sent', `( dport = :${port} )`)} still in SYN-SENT`);
    for (const name of ['ListenOverflows', 'ListenDrops', 'SyncookiesSent']) console.log(`${name}: +${(after[name] ?? 0) - (before[name] ?? 0)}`);
  } finally {
    for (const s of sockets) s.destroy();
    stalled.release();
    await server.stop(5000);
  }
}

/** Each thread's user+system CPU ticks, by kernel thread id (/proc/PID/task/TID/stat fields 14 and 15). */
function threadTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // after "pid (comm) "
      out.set(tid, Number(f[11]) + Number(f[12]));
    } catch { /* the thread ended */ }
  }
  return out;
}

/**
 * Appendix G's a and s: 06 with two SubReactors, pinned to one core (the bench's pinning when
 * there are two), under 5 s of churn from this process. The main reactor is the thread whose id
 * is the pid; the SubReactors are the two busiest of the others (the pool thread and Node's
 * helpers do almost nothing under static churn). Ticks are 10 ms: 5 s of churn gives each
 * figure hundreds of ticks.
 */
async function threadSplit(): Promise<void> {
  const cores = availableParallelism();
  const prefix = cores >= 2 && hasTaskset() ? ['taskset', '-c', '0'] : [];
  if (prefix.length) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  const server = await start('06-reactor-pool', ['--reactors', '2', '--workers', '1'], prefix);
  try {
    await runChurn({ port: server.port, host: server.host, path: BENCH_PATH, concurrency: 10, durationS: 0.5 }); // warm-up
    const before = threadTicks(server.pid);
    const r = await runChurn({ port: server.port, host: server.host, path: BENCH_PATH, concurrency: 10, durationS: 5 });
    const after = threadTicks(server.pid);
    const tick = 1_000_000 / 100; // µs per clock tick (USER_HZ = 100 on Linux)
    const delta = [...after].map(([tid, t]) => ({ tid, us: (t - (before.get(tid) ?? 0)) * tick }));
    const main = delta.find((d) => d.tid === server.pid)!;
    const others = delta.filter((d) => d.tid !== server.pid).sort((x, y) => y.us - x.us);
    const subs = others.slice(0, 2);
    const rest = others.slice(2).reduce((n, d) => n + d.us, 0);
    const n = r.responses;
    console.log(`06-reactor-pool --reactors 2 --workers 1${prefix.length ? ', pinned to core 0 (load on core 1)' : ' (not pinned)'}: ${n} connections in ${r.durationS.toFixed(1)} s of churn (10 clients, Connection: close)`);
    console.log(`main reactor (tid ${main.tid}): ${(main.us / 1000).toFixed(0)} ms CPU, a = ${(main.us / n).toFixed(1)} µs per connection`);
    for (const [i, d] of subs.entries()) console.log(`SubReactor ${i} (tid ${d.tid}): ${(d.us / 1000).toFixed(0)} ms CPU`);
    const s = subs.reduce((m, d) => m + d.us, 0) / n;
    console.log(`SubReactors together: s = ${s.toFixed(1)} µs per connection; s / a = ${(s / (main.us / n)).toFixed(1)}`);
    console.log(`every other thread together (pool thread, Node's helpers): ${(rest / 1000).toFixed(0)} ms CPU`);
  } finally {
    await server.stop(5000);
  }
}

function hasTaskset(): boolean {
  try { execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }); return true; } catch { return false; }
}

await (opts.experiment === 'time-wait' ? timeWait() : opts.experiment === 'backlog' ? backlog() : threadSplit());
process.exit(0);
