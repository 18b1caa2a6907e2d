/**
 * Step 06's accept modes (`--accept main|reuseport|exclusive|shared`, 06's balancer.ts),
 * measured side by side for the 06 chapter:
 *
 *   pnpm --filter bench accept-modes [--reactors N]   (default 2; writes docs/bench/accept-modes.json,
 *                                                      or accept-modes-N.json)
 *
 * For each mode, on one 06 server with N SubReactors and one pool thread, running the app
 * src/apps/accept-app.ts (every answer given inline on the SubReactor):
 *
 *   short    1,000 connections, one request each (Connection: close), 10 at a time: how many
 *            each reactor accepted, and the accept latency — connect() called → first byte of
 *            the answer — p50 / p99.
 *   long     50 keep-alive connections opened together and held: how many each reactor holds.
 *   busy     one connection makes its reactor burn 2 s of CPU inline (/spin); meanwhile 20 new
 *            connections arrive 50 ms apart: how many land on the busy reactor (they wait for
 *            it), and their p99 latency.
 *   herd     during `short`: the listener wake-ups epoll reported per accepted connection, the
 *            wake-ups that found nothing to accept (another reactor was first), and the
 *            server's voluntary context switches (every thread, from /proc) per connection —
 *            the kernel-side wake-ups, including those epoll_wait swallowed when it re-checked
 *            the listener and found it empty again.
 *
 * A functional measurement, not a speed: it runs for about a minute in all. Distributions
 * depend on timing and on the kernel's hash of the client ports: run it on a quiet machine and
 * read the numbers as shapes, not constants. Bench main thread only.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { percentile, REPO_ROOT, startServer, type RunningServer } from '@course/testkit';
import { parseOrExit, UsageError } from './options.js';

const USAGE = 'usage: pnpm --filter bench accept-modes [--reactors N]\n';
const opts = parseOrExit('accept-modes', USAGE, (argv) => {
  const words = argv.filter((a) => a !== '--');
  if (words.includes('--help') || words.includes('-h')) return { help: true, reactors: 2 };
  let reactors = 2;
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== '--reactors') throw new UsageError(`unknown flag "${words[i]}" (only --reactors N)`);
    const n = words[++i] ?? '';
    if (!/^\d+$/.test(n) || Number(n) < 2 || Number(n) > 64) throw new UsageError(`--reactors expects an integer from 2 to 64, got "${n}"`);
    reactors = Number(n);
  }
  return { help: false, reactors };
});

const CONFIGS = [
  { mode: 'main (rr)', args: ['--accept', 'main', '--balance', 'rr'] },
  { mode: 'main (least)', args: ['--accept', 'main', '--balance', 'least'] },
  { mode: 'reuseport', args: ['--accept', 'reuseport'] },
  { mode: 'exclusive', args: ['--accept', 'exclusive'] },
  { mode: 'shared', args: ['--accept', 'shared'] },
] as const;
/** The load of each part (see the top of the file). */
const { SHORT, SHORT_PARALLEL, LONG, BUSY_MS, BUSY_PROBES, BUSY_GAP_MS } = { SHORT: 1000, SHORT_PARALLEL: 10, LONG: 50, BUSY_MS: 2000, BUSY_PROBES: 20, BUSY_GAP_MS: 50 };
const APP = fileURLToPath(new URL('./apps/accept-app.js', import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The part of 06's stats() this script reads. */
interface Stats {
  reactors: Array<{ accepted: number; connections: number; listenerWakeups: number; emptyWakeups: number }>;
  main: { listenerWakeups: number; emptyWakeups: number };
}

/** One HTTP request on a new connection (Connection: close): the body, and connect() → first byte in ms. */
function once(port: number, path: string): Promise<{ body: string; latencyMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    const chunks: Buffer[] = [];
    const s = connect({ port, host: '127.0.0.1' }, () => s.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`));
    s.setTimeout(30_000, () => s.destroy(new Error(`GET ${path}: no answer in 30 s`)));
    s.on('data', (d: Buffer) => {
      if (first === 0) first = performance.now();
      chunks.push(d);
    });
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const at = text.indexOf('\r\n\r\n');
      if (first === 0 || at < 0 || !text.startsWith('HTTP/1.1 200')) return reject(new Error(`GET ${path}: ${text.slice(0, 80) || 'no answer'}`));
      resolve({ body: text.slice(at + 4), latencyMs: first - t0 });
    });
  });
}

/** A held keep-alive connection: asks one request at a time, answers parsed by Content-Length. */
class Held {
  private buf = '';
  private waiting: (() => void) | null = null;

  private constructor(private readonly sock: import('node:net').Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.waiting?.();
    });
    sock.on('error', () => { /* the next ask fails */ });
  }

  static open(port: number): Promise<Held> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1' }, () => resolve(new Held(s)));
      s.once('error', reject);
    });
  }

  send(path: string): void {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  }

  /** The body of the next answer. */
  async next(): Promise<string> {
    for (;;) {
      const head = this.buf.indexOf('\r\n\r\n');
      const length = /content-length: *(\d+)/i.exec(this.buf.slice(0, head));
      if (head >= 0 && length !== null && this.buf.length >= head + 4 + Number(length[1])) {
        const body = this.buf.slice(head + 4, head + 4 + Number(length[1]));
        this.buf = this.buf.slice(head + 4 + Number(length[1]));
        return body;
      }
      if (this.sock.destroyed) throw new Error('connection closed');
      await new Promise<void>((r) => { this.waiting = r; });
    }
  }

  async ask(path: string): Promise<string> {
    this.send(path);
    return this.next();
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Voluntary context switches of every thread of `pid`, summed (/proc/PID/task/TID/status). */
function contextSwitches(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      if (m) n += Number(m[1]);
    } catch { /* the thread ended meanwhile */ }
  }
  return n;
}

const ms = (x: number | null) => (x === null ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(0));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

async function measure(server: RunningServer, reactors: number) {
  const port = server.port;
  const stats = await Held.open(port); // one connection for the counters, held throughout
  const snapshot = async () => JSON.parse(await stats.ask('/stats')) as Stats;

  // short: 1,000 one-request connections, 10 at a time.
  const before = await snapshot();
  const switchesBefore = contextSwitches(server.pid);
  const latencies: number[] = [];
  let started = 0;
  await Promise.all(Array.from({ length: SHORT_PARALLEL }, async () => {
    while (started < SHORT) {
      started++;
      latencies.push((await once(port, '/reactor')).latencyMs);
    }
  }));
  const switches = contextSwitches(server.pid) - switchesBefore;
  const after = await snapshot();
  const accepted = after.reactors.map((r, i) => r.accepted - before.reactors[i]!.accepted);
  const wake = (s: Stats) => s.main.listenerWakeups + s.reactors.reduce((n, r) => n + r.listenerWakeups, 0);
  const empty = (s: Stats) => s.main.emptyWakeups + s.reactors.reduce((n, r) => n + r.emptyWakeups, 0);
  const sortedLatency = sorted(latencies);

  // long: 50 keep-alive connections opened together, held, each asks which reactor it is on.
  const held = await Promise.all(Array.from({ length: LONG }, () => Held.open(port)));
  const homes = await Promise.all(held.map((h) => h.ask('/reactor')));
  const long = new Array<number>(reactors).fill(0);
  for (const h of homes) long[Number(h)]!++;
  for (const h of held) h.close();
  await sleep(200);

  // busy: one reactor burns 2 s inline; 20 new connections arrive meanwhile.
  const spinner = await Held.open(port);
  const busy = Number(await spinner.ask('/reactor'));
  spinner.send(`/spin?ms=${BUSY_MS}`);
  await sleep(100); // the spin has begun
  const probes: Array<Promise<{ body: string; latencyMs: number }>> = [];
  for (let i = 0; i < BUSY_PROBES; i++) {
    probes.push(once(port, '/reactor'));
    await sleep(BUSY_GAP_MS);
  }
  const answered = await Promise.all(probes);
  await spinner.next();
  spinner.close();
  stats.close();
  const onBusy = answered.filter((a) => Number(a.body) === busy).length;

  return {
    short: { perReactor: accepted, p50Ms: percentile(sortedLatency, 50), p99Ms: percentile(sortedLatency, 99) },
    long: { perReactor: long },
    busy: { busyReactor: busy, landedOnBusy: onBusy, probes: BUSY_PROBES, p99Ms: percentile(sorted(answered.map((a) => a.latencyMs)), 99) },
    herd: {
      accepted: accepted.reduce((a, b) => a + b, 0),
      wakeupsPerAccept: (wake(after) - wake(before)) / SHORT,
      emptyWakeups: empty(after) - empty(before),
      contextSwitchesPerConnection: switches / SHORT,
    },
  };
}

async function main(): Promise<void> {
  const reactors = opts.reactors;
  const results = [];
  for (const config of CONFIGS) {
    const server = await startServer('06-reactor-pool', { args: ['--reactors', String(reactors), '--workers', '1', '--app', APP, ...config.args] });
    try {
      results.push({ mode: config.mode, flags: config.args.join(' '), ...(await measure(server, reactors)) });
      console.error(`${config.mode}: done`);
    } finally {
      await server.stop(10_000);
    }
  }
  const command = `pnpm --filter bench accept-modes${reactors === 2 ? '' : ` --reactors ${reactors}`}`;
  const out = join(REPO_ROOT, 'docs', 'bench', `accept-modes${reactors === 2 ? '' : `-${reactors}`}.json`);
  const report = { command, date: new Date().toISOString(), cores: cpus().length, loadavg: loadavg(), reactors, results };
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');

  console.log(`${command} — ${reactors} SubReactors, 1 pool thread; ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
  console.log(`| mode | 1,000 short: accepted per reactor | accept latency p50 / p99 (ms) | 50 long: held per reactor | busy reactor: new connections on it (of ${BUSY_PROBES}) | busy: p99 (ms) | listener wake-ups per accept | empty wake-ups | context switches per connection |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.mode} | ${r.short.perReactor.join(' / ')} | ${ms(r.short.p50Ms)} / ${ms(r.short.p99Ms)} | ${r.long.perReactor.join(' / ')} | ${r.busy.landedOnBusy} | ${ms(r.busy.p99Ms)} | ${r.herd.wakeupsPerAccept.toFixed(2)} | ${r.herd.emptyWakeups} | ${r.herd.contextSwitchesPerConnection.toFixed(1)} |`);
  }
  console.log(`\nJSON: ${out}`);
}

await main();
