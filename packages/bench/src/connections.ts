/**
 * What a connection costs in steps 01-03 (Stevens, UNP ch. 30, measured again in TypeScript):
 *
 *  - rate:   connections per second when every request comes on a new connection
 *            (connect → GET → read to close), C clients at a time. This is what fork(),
 *            new Worker() or nothing at all costs per connection.
 *  - memory: resident memory per idle connection: open K connections, let the server take them,
 *            and divide the growth of the whole process tree's memory by K. Reported as RSS (what
 *            `ps` shows; counts pages shared copy-on-write by forked children once per child) and
 *            PSS (each shared page divided among its sharers: the honest figure for fork).
 *  - herd:   does a connection wake every process blocked in accept on the shared socket, or one?
 *            Voluntary context switches of the prefork children per connection, for N = 1..8.
 *
 * Run by connections-cli.ts. Main thread of the bench only; every server is started through the
 * CLI contract with @course/testkit and stopped with SIGTERM. Load only ever targets 127.0.0.1.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { childrenOf, processTree, startServer, threadCount, treeUsage, type RunningServer } from '@course/testkit';

/** One server configuration under test. */
export interface ModeSpec {
  /** Row label, e.g. "02 fork per connection". */
  label: string;
  pkg: '01-blocking' | '02-fork' | '03-threads';
  args: string[];
  /**
   * What one open connection makes the server hold: a process (02 per-connection), a thread
   * (03 per-connection), or nothing but a kernel queue entry until a pool member is free.
   */
  holds: 'process' | 'thread' | 'queue';
}

/** The modes of steps 01-03; `size` is the pool size (prefork workers, pool threads). */
export function modesOf(size: number): ModeSpec[] {
  return [
    { label: '01 iterative', pkg: '01-blocking', args: [], holds: 'queue' },
    { label: '02 fork per connection', pkg: '02-fork', args: ['--mode', 'per-connection'], holds: 'process' },
    { label: `02 prefork, ${size} processes`, pkg: '02-fork', args: ['--mode', 'prefork', '--workers', String(size)], holds: 'queue' },
    { label: '03 thread per connection', pkg: '03-threads', args: ['--mode', 'per-connection'], holds: 'thread' },
    { label: `03 thread pool, ${size} threads`, pkg: '03-threads', args: ['--mode', 'pool', '--threads', String(size)], holds: 'queue' },
  ];
}

/** The demo site's small benchmark page (≈540 bytes): the response is not what we measure. */
export const PATH = '/bench.html';
const REQUEST = `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
const KEEP_ALIVE_REQUEST = `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;

// ---- /proc ---------------------------------------------------------------------------------

/** Proportional set size of one process in KiB (shared pages divided among their sharers). */
export function pssKb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** RSS and PSS of a whole process tree, KiB. */
export function treeMemory(pid: number): { rssKb: number; pssKb: number; processes: number; threads: number } {
  const u = treeUsage(pid);
  let pss = 0;
  for (const p of processTree(pid)) pss += pssKb(p);
  return { rssKb: u.rssKb, pssKb: pss, processes: u.processes, threads: u.threads };
}

/** Voluntary context switches (times a task went to sleep) summed over every thread of `pids`. */
export function voluntarySwitches(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    let tids: string[];
    try { tids = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
        if (m) total += Number(m[1]);
      } catch { /* thread ended */ }
    }
  }
  return total;
}

/** The model's own pid: from the banner (02-fork's `node dist/main.js` is a wrapper around it). */
export function serverPid(s: RunningServer): number {
  const m = /pid=(\d+)/.exec(s.banner);
  return m ? Number(m[1]) : s.pid;
}

// ---- clients -------------------------------------------------------------------------------

/** One connection: connect, send one request, read until the server closes. Resolves true on a 200. */
function oneShot(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    let head = '';
    const done = (ok: boolean) => { clearTimeout(timer); sock.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write(REQUEST));
    sock.on('data', (d: Buffer) => { if (head.length < 16) head += d.toString('latin1', 0, 16); });
    sock.on('end', () => done(head.startsWith('HTTP/1.1 200')));
    sock.on('error', () => done(false));
  });
}

export interface RateResult {
  connections: number;
  failures: number;
  seconds: number;
  perSecond: number;
  /** Server CPU (whole tree, reaped children included) per connection, µs. */
  cpuUsPerConnection: number;
}

/** `total` connections, `concurrency` at a time, each a fresh connection for one request. */
export async function measureRate(server: RunningServer, total: number, concurrency: number, timeoutMs = 10_000): Promise<RateResult> {
  let next = 0;
  let failures = 0;
  const cpu0 = treeUsage(server.pid).cpuSeconds;
  const t0 = performance.now();
  const client = async () => {
    while (next < total) {
      next++;
      if (!(await oneShot(server.port, timeoutMs))) failures++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = treeUsage(server.pid).cpuSeconds - cpu0;
  return { connections: total, failures, seconds, perSecond: total / seconds, cpuUsPerConnection: (cpu * 1e6) / total };
}

/**
 * Connect and, if `served`, get one keep-alive response; then hold the connection idle.
 * Resolves with the socket, or null if the connection failed (it is counted, not fatal).
 */
function openIdle(port: number, served: boolean, timeoutMs: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const sock = connect({ port, host: '127.0.0.1' });
    const fail = () => { clearTimeout(timer); sock.destroy(); resolve(null); };
    const timer = setTimeout(fail, timeoutMs);
    let got = '';
    sock.on('error', fail); // after success too: a later reset must not crash the bench
    sock.on('connect', () => {
      if (!served) { clearTimeout(timer); resolve(sock); return; }
      sock.write(KEEP_ALIVE_REQUEST);
    });
    sock.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      const len = /content-length:\s*(\d+)/i.exec(got);
      if (end !== -1 && len && got.length >= end + 4 + Number(len[1])) { clearTimeout(timer); resolve(sock); }
    });
  });
}

export interface MemoryResult {
  /** Idle connections held while measuring (the per-connection figures divide by this). */
  idle: number;
  /** Idle connections that could not be opened or served. */
  failed: number;
  /** Tree before and with the idle connections, KiB. */
  before: { rssKb: number; pssKb: number; processes: number; threads: number };
  after: { rssKb: number; pssKb: number; processes: number; threads: number };
  rssKbPerConnection: number;
  pssKbPerConnection: number;
}

/**
 * Memory per idle connection. Modes that give each connection a process or thread are sent one
 * request per connection first (so each is really served), then left idle. Pools and the
 * iterative server serve a few and leave the rest queued in the kernel (a keep-alive request
 * there would never be answered), so their connections only connect.
 */
export async function measureIdleMemory(server: RunningServer, mode: ModeSpec, idle: number): Promise<MemoryResult> {
  const pid = serverPid(server);
  const before = treeMemory(server.pid);
  const served = mode.holds !== 'queue';
  const sockets: Socket[] = [];
  let failed = 0;
  try {
    for (let i = 0; i < idle; i += 10) {
      const batch = await Promise.all(Array.from({ length: Math.min(10, idle - i) }, () => openIdle(server.port, served, 30_000)));
      for (const sock of batch) if (sock) sockets.push(sock); else failed++;
    }
    const held = sockets.length;
    const expected = () => mode.holds === 'process' ? childrenOf(pid).length >= held : mode.holds === 'thread' ? threadCount(pid) >= before.threads + held : true;
    const deadline = Date.now() + 60_000;
    while (!expected() && Date.now() < deadline) await sleep(50);
    await sleep(500); // let freshly started threads finish allocating
    const after = treeMemory(server.pid);
    return {
      idle: held,
      failed,
      before,
      after,
      rssKbPerConnection: (after.rssKb - before.rssKb) / held,
      pssKbPerConnection: (after.pssKb - before.pssKb) / held,
    };
  } finally {
    for (const s of sockets) s.destroy();
  }
}

export interface HerdResult {
  label: string;
  members: number;
  connections: number;
  /** Σ voluntary context switches of the pool members per connection (sequential connections). */
  wakeupsPerConnection: number;
}

/**
 * The thundering herd, measured: `connections` sequential connections (so every pool member but
 * the one serving is asleep in accept each time), counting how often the members went to sleep.
 * If each connection woke all N, this would grow with N; if it wakes one, it stays flat.
 */
export async function measureHerd(server: RunningServer, label: string, members: number, connections: number): Promise<HerdResult> {
  const pid = serverPid(server);
  const pool = () => (label.startsWith('02') ? childrenOf(pid) : [pid]);
  const before = voluntarySwitches(pool());
  for (let i = 0; i < connections; i++) await oneShot(server.port, 10_000);
  await sleep(100);
  const after = voluntarySwitches(pool());
  return { label, members, connections, wakeupsPerConnection: (after - before) / connections };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- the whole run -------------------------------------------------------------------------

export interface ConnectionsOptions {
  /** Connections per mode for the rate. */
  connections: number;
  concurrency: number;
  /** Idle connections for the memory figure. */
  idle: number;
  /** Pool size for prefork and the thread pool. */
  poolSize: number;
  /** Sequential connections per herd measurement. */
  herdConnections: number;
  /** Only the modes whose label contains one of these (empty: all). */
  only: string[];
  /** Progress lines go here. */
  log: (line: string) => void;
}

export interface ModeRow {
  label: string;
  banner: string;
  rate: RateResult | null;
  memory: MemoryResult | null;
  /** Why the mode could not be measured (the server did not start, say). */
  error?: string;
  /** Lines the server wrote to stderr during the run (a crashed child is logged there). */
  stderr: string;
}

export interface ConnectionsReport {
  date: string;
  node: string;
  cpus: number;
  options: Omit<ConnectionsOptions, 'log' | 'only'>;
  modes: ModeRow[];
  herd: HerdResult[];
}

export async function runConnectionsBench(opts: ConnectionsOptions, cpus: number): Promise<ConnectionsReport> {
  const wanted = (label: string) => opts.only.length === 0 || opts.only.some((o) => label.includes(o));
  const modes: ModeRow[] = [];
  for (const mode of modesOf(opts.poolSize).filter((m) => wanted(m.label))) {
    opts.log(`${mode.label}: ${opts.connections} connections, ${opts.concurrency} at a time…`);
    let server: RunningServer;
    try {
      server = await startServer(mode.pkg, { args: mode.args });
    } catch (err) {
      modes.push({ label: mode.label, banner: '', rate: null, memory: null, error: (err as Error).message.split('\n')[0]!, stderr: '' });
      continue;
    }
    try {
      await measureRate(server, 50, opts.concurrency); // warm-up: JIT, page cache
      const rate = await measureRate(server, opts.connections, opts.concurrency);
      opts.log(`  ${rate.perSecond.toFixed(0)} connections/s, ${rate.failures} failed`);
      opts.log(`${mode.label}: ${opts.idle} idle connections…`);
      const memory = await measureIdleMemory(server, mode, opts.idle);
      modes.push({ label: mode.label, banner: server.banner, rate, memory, stderr: server.stderr() });
    } finally {
      await server.stop();
    }
  }

  const herd: HerdResult[] = [];
  for (const [pkg, flag, name] of [['02-fork', '--workers', '02 prefork'], ['03-threads', '--threads', '03 thread pool']] as const) {
    if (!wanted(name)) continue;
    for (const n of [1, 2, 4, 8]) {
      opts.log(`herd: ${name}, ${n} members…`);
      const mode = pkg === '02-fork' ? 'prefork' : 'pool';
      const server = await startServer(pkg, { args: ['--mode', mode, flag, String(n)] });
      try {
        await measureRate(server, 20, 1);
        herd.push(await measureHerd(server, `${name}, ${n}`, n, opts.herdConnections));
      } finally {
        await server.stop();
      }
    }
  }

  const { log: _log, only: _only, ...options } = opts;
  return { date: new Date().toISOString(), node: process.version, cpus, options, modes, herd };
}

// ---- output --------------------------------------------------------------------------------

/** Plain-text tables of a report, for the terminal and for the chapters. */
export function formatReport(r: ConnectionsReport): string {
  const rows = r.modes.map((m) => !m.rate || !m.memory ? [m.label, `not measured: ${m.error ?? '?'}`, '', '', '', '', '', ''] : [
    m.label,
    m.rate.perSecond.toFixed(0),
    String(m.rate.failures + m.memory.failed),
    m.rate.cpuUsPerConnection.toFixed(0),
    (m.memory.before.rssKb / 1024).toFixed(1),
    m.memory.rssKbPerConnection.toFixed(0),
    m.memory.pssKbPerConnection.toFixed(0),
    `${m.memory.after.processes}/${m.memory.after.threads}`,
  ]);
  const out = [
    `connections: ${r.options.connections} per mode, ${r.options.concurrency} at a time, one request each (GET ${PATH}); ` +
      `memory: ${r.options.idle} idle connections; ${r.cpus} CPUs, node ${r.node}`,
    `RSS idle = the whole tree before the idle connections (02's includes the --single-threaded relaunch wrapper); ` +
      `procs/threads = with them open; failed = rate + idle connections that failed`,
    '',
    table(['mode', 'conn/s', 'failed', 'CPU µs/conn', 'RSS idle MB', 'RSS KB/idle conn', 'PSS KB/idle conn', 'procs/threads'], rows),
  ];
  if (r.herd.length > 0) {
    out.push('', `thundering herd: ${r.options.herdConnections} sequential connections; times the pool members went to sleep, per connection ` +
      '(02: the children; 03: every thread of the process). Flat as N grows: one wake-up per connection, no herd');
    out.push(table(['pool', 'members', 'wake-ups/conn'], r.herd.map((h) => [h.label, String(h.members), h.wakeupsPerConnection.toFixed(2)])));
  }
  return out.join('\n');
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
