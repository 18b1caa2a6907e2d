/**
 * "Does step 06 meet its performance targets?" — the targets, the burst client that the pipelined
 * target needs, the verdicts and the tables. targets-cli.ts starts the servers and runs the loads;
 * everything it measures passes through here on its way to the screen and to disk.
 *
 * The targets, as the issue states them: with one reactor, the server pinned to one core,
 * keep-alive, the 540-byte /bench.html —
 *   1. at least 1.5× node:http's requests per server-CPU-second (a plain node:http static server,
 *      same file, same pinning, same run);
 *   2. at least 3× with 16-deep pipelining ("answer all the requests of one read with one write");
 *   3. 10,000 idle keep-alive connections at no more than 4 KB of resident memory each, while a
 *      fresh request is still answered at once.
 *
 * Bench main thread only. Everything is pure except `runBurst`, which talks to a server on
 * 127.0.0.1.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ChalkInstance } from 'chalk';
import { REQUEST_TIMEOUT_S, type LoadResult } from './load.js';
import { describePinning } from './machine.js';
import { parseDuration, readFlags } from './options.js';
import { LatencyRecorder } from './stats.js';
import { ratioText } from './table.js';
import type { Usage } from './target.js';
import type { Machine } from './types.js';

// ---------------------------------------------------------------------------------------------
// The targets and the load shapes that test them
// ---------------------------------------------------------------------------------------------

/** The thresholds, straight from the issue. "4 KB" is read as 4 KiB: /proc's "kB" is 1,024 bytes. */
export const TARGETS = {
  keepaliveRatio: 1.5,
  pipelinedRatio: 3,
  idleConnections: 10_000,
  idleKbPerConnection: 4,
  /** "Answered at once": a fresh connection's request answered within a second. */
  freshRequestMs: 1000,
} as const;

/** Keep-alive load: autocannon, as the bench's keepalive scenario runs it. */
export const KEEPALIVE_CONNECTIONS = 50;
/** Burst load: this many connections, each writing `BURST_DEPTH` requests at a time. */
export const BURST_CONNECTIONS = 10;
export const BURST_DEPTH = 16;
/** Idle connections are opened this many at a time, each served one request. */
export const IDLE_BATCH = 100;

/** 06 with one SubReactor and one worker: "one reactor", and all of it on the server's one core. */
export const REACTOR_ARGS: readonly string[] = ['--reactors', '1', '--workers', '1'];

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

export interface TargetsOptions {
  /** Seconds of load per run, after the warm-up. */
  durationS: number;
  /** The JSON report; the Markdown report goes next to it (same name, .md). */
  out: string;
  help: boolean;
}

export const TARGETS_USAGE = `usage: pnpm --filter bench exec node dist/targets-cli.js [flags]

  --duration S   seconds of load per run, after a 0.5 s warm-up; default 5
  --out FILE     JSON report; the Markdown report goes next to it (.md);
                 default packages/bench/results/targets.json
`;

/** Parse argv (without node and the script); throws UsageError. Pure. */
export function parseTargetsOptions(argv: readonly string[], defaults: { out: string }): TargetsOptions {
  const opts: TargetsOptions = { durationS: 5, out: defaults.out, help: false };
  for (const [name, raw] of readFlags(argv, ['duration', 'out'])) {
    if (name === 'help') opts.help = true;
    else if (name === 'out') opts.out = raw;
    else opts.durationS = parseDuration(raw);
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// Can this machine hold 10,000 connections?
// ---------------------------------------------------------------------------------------------

/** File descriptors beyond the connections: stdio, epoll and eventfds, V8's and libuv's own. */
export const FD_HEADROOM = 200;

/** The soft "Max open files" limit from /proc/self/limits (Infinity for unlimited, null if absent). Pure. */
export function parseOpenFilesLimit(limits: string): number | null {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!m) return null;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** How many local ports /proc/sys/net/ipv4/ip_local_port_range offers ("32768\t60999"). Pure. */
export function parsePortRange(text: string): number | null {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return null;
  return Math.max(0, Number(m[2]) - Number(m[1]) + 1);
}

/**
 * Why `target` idle connections cannot be held from this process, or null if they can. Each one
 * is a file descriptor here and another in the server (which inherits this process's limits), and
 * each needs a local port of its own, since they all go to the same address and port. Pure.
 */
export function idleCapacityProblem(target: number, openFiles: number | null, ports: number | null): string | null {
  const fds = target + FD_HEADROOM;
  if (openFiles !== null && openFiles < fds) {
    return `holding ${int(target)} idle connections needs about ${int(fds)} open files in this process and in the server; ` +
      `the limit here is ${int(openFiles)}: raise it first (ulimit -n 20000)`;
  }
  if (ports !== null && ports < target + 100) {
    return `holding ${int(target)} connections to one address needs ${int(target)} local ports; ` +
      `net.ipv4.ip_local_port_range offers ${int(ports)}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Counting the server's system calls
// ---------------------------------------------------------------------------------------------

/**
 * `syscr` and `syscw` of /proc/PID/io: the read-like (read, readv, recv...) and write-like
 * (write, writev, send...) system calls a process has made, all its threads together. The kernel
 * counts them for free, so unlike strace they do not slow the server. null if absent. Pure.
 */
export function parseProcIo(text: string): { reads: number; writes: number } | null {
  const r = /^syscr:\s*(\d+)$/m.exec(text);
  const w = /^syscw:\s*(\d+)$/m.exec(text);
  return r && w ? { reads: Number(r[1]), writes: Number(w[1]) } : null;
}

// ---------------------------------------------------------------------------------------------
// Counting responses in a byte stream
// ---------------------------------------------------------------------------------------------

/** The bytes are not the HTTP/1.1 responses the burst client expects. */
export class ProtocolError extends Error {}

const EMPTY = Buffer.alloc(0);
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_200 = Buffer.from('HTTP/1.1 200 ', 'latin1');
/** A response head longer than this is not what a static server sends: stop rather than buffer forever. */
const MAX_HEAD = 64 * 1024;

/** Where a 200 response's framing lies, relative to its first byte: learnt from one, checked on the next. */
interface Shape {
  headLength: number;
  totalLength: number;
  /** Offset and bytes of its `\r\nContent-Length: 540\r\n` line. */
  lengthLineAt: number;
  lengthLine: Buffer;
}

/**
 * Counts complete HTTP/1.1 responses in a byte stream fed chunk by chunk, framed by Content-Length.
 * Owned by one connection of the burst client.
 *
 * Every response to GET /bench.html has the same shape: the same head length (Date, ETag and
 * Last-Modified are fixed-width) and the same Content-Length. So after one full parse the counter
 * recognises the next response with a few native comparisons — the status line starts
 * `HTTP/1.1 200 `, the first CRLFCRLF (found with Buffer.indexOf) ends the head where it ended
 * before, and the Content-Length line is the same bytes at the same place. Anything else is parsed
 * in full, so a 404, a different length or a malformed head is still seen. The client shares its
 * core with nothing, but a client that spent it building strings would measure itself.
 */
export class ResponseCounter {
  /** Complete responses with status 200 so far. */
  ok = 0;
  /** Complete responses with any other status so far. */
  notOk = 0;
  /** Bytes of a response not complete yet. */
  private pending: Buffer = EMPTY;
  private shape: Shape | null = null;

  /** Feed the next bytes; returns how many responses they completed. Throws ProtocolError. */
  push(chunk: Buffer): number {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    let n = 0;
    while (off < buf.length) {
      const length = this.sameShape(buf, off) ?? this.parse(buf, off);
      if (length === null) break; // incomplete: wait for more bytes
      off += length;
      n++;
    }
    // Copy the leftover: a view would keep the whole chunk alive.
    this.pending = off === buf.length ? EMPTY : Buffer.from(buf.subarray(off));
    return n;
  }

  /** The length of the response at `off` if it is complete and has the remembered shape; else null. */
  private sameShape(buf: Buffer, off: number): number | null {
    const s = this.shape;
    if (s === null || buf.length - off < s.totalLength) return null;
    if (buf.compare(STATUS_200, 0, STATUS_200.length, off, off + STATUS_200.length) !== 0) return null;
    if (buf.indexOf(CRLFCRLF, off) !== off + s.headLength - 4) return null;
    const at = off + s.lengthLineAt;
    if (buf.compare(s.lengthLine, 0, s.lengthLine.length, at, at + s.lengthLine.length) !== 0) return null;
    this.ok++;
    return s.totalLength;
  }

  /** Parse the response at `off` in full: its length if complete, null if more bytes are needed. */
  private parse(buf: Buffer, off: number): number | null {
    const end = buf.indexOf(CRLFCRLF, off);
    if (end === -1) {
      if (buf.length - off > MAX_HEAD) throw new ProtocolError(`no end of a response head within ${MAX_HEAD} bytes`);
      return null;
    }
    const head = buf.toString('latin1', off, end + 2); // keep the last CRLF: every header line ends with one
    const status = /^HTTP\/1\.[01] (\d{3})[ \r]/.exec(head);
    if (!status) throw new ProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(head.slice(0, 40))}`);
    if (/\r\ntransfer-encoding:/i.test(head)) throw new ProtocolError('a chunked response: the burst client frames by Content-Length only');
    const code = Number(status[1]);
    const length = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i.exec(head);
    const noBody = code === 204 || code === 304;
    if (!length && !noBody) throw new ProtocolError(`a ${code} response without Content-Length cannot be framed on a kept-alive connection`);
    const headLength = end + 4 - off;
    const totalLength = headLength + (noBody ? 0 : Number(length![1]));
    if (buf.length - off < totalLength) return null;
    if (code === 200) {
      this.ok++;
      if (length) {
        this.shape = {
          headLength,
          totalLength,
          lengthLineAt: length.index,
          lengthLine: Buffer.from(length[0], 'latin1'),
        };
      }
    } else {
      this.notOk++;
    }
    return totalLength;
  }
}

// ---------------------------------------------------------------------------------------------
// The burst client
// ---------------------------------------------------------------------------------------------

/** `depth` copies of one keep-alive GET, concatenated: the bytes one burst writes. Pure. */
export function burstRequests(path: string, host: string, depth: number): Buffer {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`depth must be a positive integer, got ${depth}`);
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`.repeat(depth), 'latin1');
}

export interface BurstLoad {
  port: number;
  host: string;
  path: string;
  connections: number;
  /** Requests per burst: 16 for the pipelined target. */
  depth: number;
  durationS: number;
}

/** One open connection of the burst client, as the timeout check sees it. */
interface BurstConnection {
  /** When the burst still unanswered was written (performance.now()), or null if none is. */
  waitingSince(): number | null;
  timeOut(): void;
  destroy(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pipelining as the target means it: `connections` clients each write `depth` requests in ONE
 * write, read until all `depth` responses have arrived, and only then write the next burst. The
 * server thus finds `depth` requests in one read, and can answer them all with one write.
 *
 * This is the load shape of wrk's pipeline script (pipeline.lua concatenates N requests into one
 * and wrk sends it again once all N responses are in) and of TechEmpower's plaintext test, which
 * uses it with 16 requests. autocannon's `pipelining: 16` is different: it keeps 16 requests in
 * flight and sends a new one each time a response arrives, so after the first round the server
 * mostly reads one or two requests at a time.
 *
 * Responses are counted while the run lasts; bursts in flight at the end are abandoned, as
 * autocannon does. Latency is per burst: from its write to its 16th response. A burst unanswered
 * after REQUEST_TIMEOUT_S counts as a timeout, and its connection is replaced.
 */
export async function runBurst(load: BurstLoad): Promise<LoadResult> {
  const burst = burstRequests(load.path, load.host, load.depth); // built once, written by every connection
  const latencies = new LatencyRecorder();
  const stats = { responses: 0, errors: 0, timeouts: 0, non2xx: 0 };
  const open = new Set<BurstConnection>();
  let over = false;

  /** One connection, from connect to close; resolves true if it ended because the run did. */
  const connection = () => new Promise<boolean>((resolve) => {
    const sock: Socket = connect({ port: load.port, host: load.host });
    const counter = new ResponseCounter();
    let outstanding = 0;
    let sentAt = 0;
    let failed = false;

    const fail = (timeout: boolean) => {
      if (!failed && !over) {
        stats.errors++;
        if (timeout) stats.timeouts++;
      }
      failed = true;
      sock.destroy();
    };
    const send = () => {
      outstanding = load.depth;
      sentAt = performance.now();
      sock.write(burst);
    };
    const self: BurstConnection = {
      waitingSince: () => (outstanding > 0 ? sentAt : null),
      timeOut: () => fail(true),
      destroy: () => sock.destroy(),
    };
    open.add(self);

    sock.setNoDelay(true);
    sock.on('connect', send);
    sock.on('data', (chunk: Buffer) => {
      if (over || failed) return;
      const notOkBefore = counter.notOk;
      let n: number;
      try {
        n = counter.push(chunk);
      } catch {
        fail(false); // not HTTP, or not framed: this connection's count can no longer be trusted
        return;
      }
      stats.responses += n;
      stats.non2xx += counter.notOk - notOkBefore;
      outstanding -= n;
      if (outstanding < 0) { fail(false); return; } // more answers than questions
      if (outstanding === 0) {
        latencies.record(performance.now() - sentAt);
        send();
      }
    });
    sock.on('error', () => fail(false));
    sock.on('close', () => {
      open.delete(self);
      if (!failed && !over) stats.errors++; // the server closed a connection it was asked to keep alive
      resolve(over);
    });
  });

  const loop = async () => {
    while (!over) {
      const ended = await connection();
      if (!ended && !over) await sleep(100); // a refused or broken connection: do not spin
    }
  };

  const started = performance.now();
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const c of open) {
      const since = c.waitingSince();
      if (since !== null && now - since > REQUEST_TIMEOUT_S * 1000) c.timeOut();
    }
  }, 250);
  const loops = Array.from({ length: load.connections }, loop);
  await sleep(load.durationS * 1000);
  over = true;
  const durationS = (performance.now() - started) / 1000;
  clearInterval(watchdog);
  for (const c of open) c.destroy();
  await Promise.all(loops);
  return { ...stats, durationS, latency: latencies.summary() };
}

// ---------------------------------------------------------------------------------------------
// What was measured
// ---------------------------------------------------------------------------------------------

export type ServerName = 'node-http' | '06-reactor-pool';
/**
 * keep-alive: autocannon, one request at a time per connection. burst-16: the burst client.
 * autocannon-16: autocannon with 16 requests in flight — the bench's pipelined scenario, run for
 * comparison only: it is not the load the pipelined target names (see runBurst).
 */
export type LoadName = 'keep-alive' | 'burst-16' | 'autocannon-16';

/** One load phase against one server. Plain data, written to the JSON report as is. */
export interface LoadRun {
  load: LoadName;
  server: ServerName;
  /** Server flags after `--port 0 --root DIR`. */
  args: string[];
  /** `ok`: measured; `failed`: the server did not start; `collapsed`: it died or answered nothing. */
  status: 'ok' | 'failed' | 'collapsed';
  reason?: string;
  connections: number;
  /** Requests written at a time per connection: 1 for keep-alive, 16 for a burst. */
  depth: number;
  durationS: number;
  responses: number;
  /** Connection errors, timeouts and non-2xx responses together. */
  errors: number;
  requestsPerSec: number | null;
  serverCpuSeconds: number | null;
  clientCpuSeconds: number | null;
  /** responses ÷ serverCpuSeconds: the figure the ratio targets compare. */
  requestsPerServerCpuSec: number | null;
  /** Per request for autocannon's loads, per burst for burst-16. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** Read-like and write-like system calls of the server during the run (/proc/PID/io), null if unreadable. */
  serverReads: number | null;
  serverWrites: number | null;
}

/** A run whose server did not start. Pure. */
export function unstartedRun(load: LoadName, server: ServerName, args: string[], connections: number, depth: number, reason: string): LoadRun {
  return {
    load, server, args, status: 'failed', reason, connections, depth, durationS: 0, responses: 0, errors: 0,
    requestsPerSec: null, serverCpuSeconds: null, clientCpuSeconds: null, requestsPerServerCpuSec: null,
    latencyP50Ms: null, latencyP99Ms: null, serverReads: null, serverWrites: null,
  };
}

/**
 * A run from what the load generator and /proc saw: `usage` from the sampler, `syscalls` the
 * server's read and write calls during the run (null if unreadable), `died` how the server
 * ended, if it did. Pure.
 */
export function measuredRun(
  load: LoadName, server: ServerName, args: string[], connections: number, depth: number,
  result: LoadResult, usage: Usage, syscalls: { reads: number; writes: number } | null, died: string | null,
): LoadRun {
  const run: LoadRun = {
    load, server, args, status: 'ok', connections, depth,
    durationS: result.durationS,
    responses: result.responses,
    errors: result.errors + result.non2xx,
    requestsPerSec: result.durationS > 0 ? result.responses / result.durationS : null,
    serverCpuSeconds: usage.serverCpuSeconds,
    clientCpuSeconds: usage.clientCpuSeconds,
    requestsPerServerCpuSec: usage.serverCpuSeconds > 0 ? result.responses / usage.serverCpuSeconds : null,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    serverReads: syscalls?.reads ?? null,
    serverWrites: syscalls?.writes ?? null,
  };
  if (died) return { ...run, status: 'collapsed', reason: `${died} during the run` };
  if (result.responses === 0) return { ...run, status: 'collapsed', reason: `0 responses in ${result.durationS.toFixed(1)} s` };
  return run;
}

/** The idle-connections phase. Plain data. */
export interface IdleRun {
  args: string[];
  status: 'ok' | 'failed' | 'collapsed';
  reason?: string;
  /** Connections the phase tried to open. */
  target: number;
  /** Connections opened and served one request each, then left idle. */
  held: number;
  failures: number;
  firstError?: string;
  /** Held connections the server closed before the end of the phase. */
  closedByServer: number;
  /** Seconds it took to open and serve all of them. */
  openS: number;
  /** The server tree's summed RSS and PSS before opening and while holding, KiB. */
  rssBeforeKb: number;
  rssAfterKb: number;
  pssBeforeKb: number;
  pssAfterKb: number;
  rssPerConnectionKb: number | null;
  pssPerConnectionKb: number | null;
  /** One GET on a new connection while all of them were held: how it went, connect to last byte. */
  fresh: { outcome: 'ok' | 'timed out' | 'failed'; ms: number };
}

/** Memory growth per held connection in KiB (never negative; null with nothing held). Pure. */
export function perConnectionKb(beforeKb: number, afterKb: number, held: number): number | null {
  return held > 0 ? Math.max(0, afterKb - beforeKb) / held : null;
}

// ---------------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------------

/** PASS or FAIL; UNMEASURED when a run needed for the comparison did not produce a number. */
export type VerdictWord = 'PASS' | 'FAIL' | 'UNMEASURED';

export interface Verdict {
  target: string;
  /** The measured value as shown, with what it was computed from. */
  measured: string;
  required: string;
  verdict: VerdictWord;
  /** The number compared with `threshold` (a ratio, KiB or ms), when there is one. */
  value: number | null;
  threshold: number;
  /** Why, when the verdict is not simply the comparison. */
  why?: string;
}

/**
 * 06's requests per server-CPU-second ÷ node:http's, against `min`. A baseline that failed or
 * had errors leaves the ratio unmeasured; 06 failing to start does too; 06 collapsing or
 * erring under the load is a FAIL. Pure.
 */
export function ratioVerdict(target: string, base: LoadRun | undefined, model: LoadRun | undefined, min: number): Verdict {
  const v: Verdict = { target, measured: '—', required: `≥ ${ratioText(min)}`, verdict: 'UNMEASURED', value: null, threshold: min };
  if (!base || !model) return { ...v, why: 'a run is missing' };
  if (model.status === 'failed') return { ...v, why: `06 did not start: ${model.reason ?? 'unknown reason'}` };
  if (model.status === 'collapsed') return { ...v, verdict: 'FAIL', why: `06 collapsed: ${model.reason ?? 'unknown reason'}` };
  if (model.errors > 0) return { ...v, verdict: 'FAIL', why: `06 had ${int(model.errors)} errors` };
  if (base.status !== 'ok') return { ...v, why: `node-http ${base.status}: ${base.reason ?? 'unknown reason'}` };
  if (base.errors > 0) return { ...v, why: `node-http had ${int(base.errors)} errors` };
  const a = model.requestsPerServerCpuSec;
  const b = base.requestsPerServerCpuSec;
  if (a === null || b === null || b === 0) return { ...v, why: 'no server CPU time was recorded' };
  const ratio = a / b;
  return {
    ...v,
    measured: `${ratioText(ratio)} (${int(a)} vs ${int(b)} req/CPU-s)`,
    verdict: ratio >= min ? 'PASS' : 'FAIL',
    value: ratio,
  };
}

/** Resident memory per idle connection, with all `TARGETS.idleConnections` of them held. Pure. */
export function idleMemoryVerdict(idle: IdleRun | null): Verdict {
  const max = TARGETS.idleKbPerConnection;
  const v: Verdict = {
    target: `${int(TARGETS.idleConnections)} idle keep-alive connections: RSS per connection`,
    measured: '—', required: `≤ ${max} KiB, all held`, verdict: 'UNMEASURED', value: null, threshold: max,
  };
  if (!idle) return { ...v, why: 'the idle phase did not run' };
  if (idle.status === 'failed') return { ...v, why: `06 did not start: ${idle.reason ?? 'unknown reason'}` };
  const per = idle.rssPerConnectionKb;
  const measured = per === null
    ? `${int(idle.held)} held`
    : `${kib(per)} KiB (PSS ${kib(idle.pssPerConnectionKb ?? 0)}), ${int(idle.held)} held`;
  const out = { ...v, measured, value: per };
  if (idle.status === 'collapsed') return { ...out, verdict: 'FAIL', why: idle.reason ?? 'collapsed' };
  if (idle.held < idle.target) return { ...out, verdict: 'FAIL', why: `held ${int(idle.held)} of ${int(idle.target)}${idle.firstError ? ` (${idle.firstError})` : ''}` };
  if (idle.closedByServer > 0) return { ...out, verdict: 'FAIL', why: `the server closed ${int(idle.closedByServer)} of them while they were held` };
  if (per === null) return { ...out, why: 'no memory figure' };
  return { ...out, verdict: per <= max ? 'PASS' : 'FAIL' };
}

/** A fresh request on a new connection while the idle ones are held. Pure. */
export function freshRequestVerdict(idle: IdleRun | null): Verdict {
  const max = TARGETS.freshRequestMs;
  const v: Verdict = {
    target: `a fresh request while ${int(TARGETS.idleConnections)} are held`,
    measured: '—', required: `answered ≤ ${int(max)} ms`, verdict: 'UNMEASURED', value: null, threshold: max,
  };
  if (!idle || idle.status === 'failed') return { ...v, why: idle?.reason ?? 'the idle phase did not run' };
  const { outcome, ms: took } = idle.fresh;
  if (outcome !== 'ok') return { ...v, measured: `${outcome} after ${ms(took)} ms`, verdict: 'FAIL', value: took };
  return { ...v, measured: `answered in ${ms(took)} ms`, verdict: took <= max ? 'PASS' : 'FAIL', value: took };
}

/** All four verdicts, in the order of the issue. Pure. */
export function judge(runs: readonly LoadRun[], idle: IdleRun | null): Verdict[] {
  const find = (load: LoadName, server: ServerName) => runs.find((r) => r.load === load && r.server === server);
  return [
    ratioVerdict('keep-alive: req per server-CPU-s vs node:http', find('keep-alive', 'node-http'), find('keep-alive', '06-reactor-pool'), TARGETS.keepaliveRatio),
    ratioVerdict(`pipelined ${BURST_DEPTH} deep: req per server-CPU-s vs node:http`, find('burst-16', 'node-http'), find('burst-16', '06-reactor-pool'), TARGETS.pipelinedRatio),
    idleMemoryVerdict(idle),
    freshRequestVerdict(idle),
  ];
}

// ---------------------------------------------------------------------------------------------
// The report and its tables
// ---------------------------------------------------------------------------------------------

/** The --out file. */
export interface TargetsReport {
  date: string;
  /** The command line, as typed from packages/bench. */
  command: string;
  machine: Machine;
  settings: {
    durationS: number;
    warmupS: number;
    benchFile: string;
    benchFileBytes: number;
    keepaliveConnections: number;
    burst: { connections: number; depth: number };
    idleConnections: number;
  };
  runs: LoadRun[];
  idle: IdleRun | null;
  verdicts: Verdict[];
}

function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
function ms(n: number): string {
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : int(n);
}
function kib(n: number): string {
  return n < 100 ? n.toFixed(1) : int(n);
}
function mib(kb: number): string {
  return (kb / 1024).toFixed(1);
}
const orDash = <T>(v: T | null, f: (v: T) => string) => (v === null ? '—' : f(v));

/** A table as text: header and rows of cells. */
export interface TextTable {
  header: string[];
  /** Columns aligned right (numbers). */
  right: boolean[];
  rows: string[][];
}

/** The verdict table: target, measured, required, verdict. Pure. */
export function verdictTable(verdicts: readonly Verdict[]): TextTable {
  return {
    header: ['target', 'measured', 'required', 'verdict'],
    right: [false, false, false, false],
    rows: verdicts.map((v) => [v.target, v.measured, v.required, v.verdict]),
  };
}

/** Responses per system call, or null without a count. Pure. */
export function perCall(responses: number, calls: number | null): number | null {
  return calls === null || calls === 0 ? null : responses / calls;
}

/** The load runs behind the two ratios. Pure. */
export function runsTable(runs: readonly LoadRun[]): TextTable {
  return {
    header: ['load', 'server', 'connections × depth', 'responses', 'req/s', 'server CPU-s', 'req/CPU-s', 'resp/read', 'resp/write', 'p50 ms', 'p99 ms', 'errors', 'client CPU-s'],
    right: [false, false, true, true, true, true, true, true, true, true, true, true, true],
    rows: runs.map((r) => [
      r.load, r.server, `${r.connections} × ${r.depth}`,
      r.status === 'failed' ? r.status : int(r.responses),
      orDash(r.requestsPerSec, int), orDash(r.serverCpuSeconds, (s) => s.toFixed(2)), orDash(r.requestsPerServerCpuSec, int),
      orDash(perCall(r.responses, r.serverReads), (n) => n.toFixed(1)), orDash(perCall(r.responses, r.serverWrites), (n) => n.toFixed(1)),
      orDash(r.latencyP50Ms, ms), orDash(r.latencyP99Ms, ms), int(r.errors), orDash(r.clientCpuSeconds, (s) => s.toFixed(2)),
    ]),
  };
}

/**
 * The autocannon-16 comparison in one line: the same ratio as the pipelined target, measured with
 * autocannon's load shape. Not a verdict. null when the runs are missing or unusable. Pure.
 */
export function comparisonLine(runs: readonly LoadRun[]): string | null {
  const find = (server: ServerName) => runs.find((r) => r.load === 'autocannon-16' && r.server === server);
  const v = ratioVerdict('', find('node-http'), find('06-reactor-pool'), TARGETS.pipelinedRatio);
  if (v.value === null) return null;
  return `for comparison, not a verdict: with autocannon's pipelining (16 in flight, one new request per response) ` +
    `the same ratio is ${v.measured}`;
}

/** The idle phase in one line. Pure. */
export function idleLine(idle: IdleRun): string {
  if (idle.status === 'failed') return `idle: 06 did not start: ${idle.reason ?? 'unknown reason'}`;
  return `idle: ${int(idle.held)} of ${int(idle.target)} connections opened and served in ${idle.openS.toFixed(1)} s` +
    `${idle.failures ? ` (${int(idle.failures)} failed: ${idle.firstError ?? '?'})` : ''}; ` +
    `server RSS ${mib(idle.rssBeforeKb)} → ${mib(idle.rssAfterKb)} MiB, PSS ${mib(idle.pssBeforeKb)} → ${mib(idle.pssAfterKb)} MiB; ` +
    `${int(idle.closedByServer)} closed by the server; fresh request ${idle.fresh.outcome} in ${ms(idle.fresh.ms)} ms`;
}

/** Lines under the tables: why a verdict is not the plain comparison, and which runs were client-bound. Pure. */
export function notes(report: TargetsReport): string[] {
  const out: string[] = [];
  for (const v of report.verdicts) if (v.why) out.push(`${v.target}: ${v.verdict} — ${v.why}`);
  for (const r of report.runs) {
    if (r.reason) out.push(`${r.load} ${r.server}: ${r.status} — ${r.reason}`);
    if (r.clientCpuSeconds !== null && r.durationS > 0 && r.clientCpuSeconds >= 0.9 * r.durationS) {
      out.push(`${r.load} ${r.server}: the load generator used ${r.clientCpuSeconds.toFixed(1)} CPU-s in ${r.durationS.toFixed(1)} s — client-bound, so req/s understates the server; req/CPU-s does not`);
    }
  }
  return out;
}

/** The run's setting in two lines: machine and pinning, then date and load. Pure. */
export function headerLines(report: TargetsReport): string[] {
  const m = report.machine;
  const s = report.settings;
  return [
    `${m.cores} cores (${m.cpuModel}), Node ${m.node}, ${m.platform}; ${describePinning(m)}.`,
    `Run on ${report.date}: ${s.warmupS} s warm-up, then ${s.durationS} s of load per run on ${s.benchFile} (${s.benchFileBytes} bytes); ` +
      `06 ran with ${REACTOR_ARGS.join(' ')}. Server CPU is the server's whole process tree from /proc; ` +
      'resp/read and resp/write divide responses by the server\'s read-like and write-like system calls (/proc/PID/io).',
  ];
}

/** A table for the terminal: aligned columns, the verdict coloured. */
function terminalTable(t: TextTable, c: ChalkInstance, verdictColumn: number | null): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i]!.length)));
  const pad = (s: string, i: number) => (t.right[i] ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const colour = (s: string, i: number) => {
    if (i !== verdictColumn) return s;
    const word = s.trim();
    return word === 'PASS' ? c.bold.green(s) : word === 'FAIL' ? c.bold.red(s) : c.yellow(s);
  };
  return [
    t.header.map((h, i) => c.underline(pad(h, i))).join('  '),
    ...t.rows.map((r) => r.map((cell, i) => colour(pad(cell, i), i)).join('  ')),
  ].join('\n');
}

/** What targets-cli prints on stdout. */
export function renderTerminal(report: TargetsReport, c: ChalkInstance): string {
  const [machine, run] = headerLines(report);
  const lines = [
    c.bold('Does step 06 meet its targets?'),
    c.dim(machine!),
    c.dim(run!),
    '',
    terminalTable(verdictTable(report.verdicts), c, 3),
    '',
    c.bold('The load runs behind the ratios'),
    terminalTable(runsTable(report.runs), c, null),
  ];
  const comparison = comparisonLine(report.runs);
  if (comparison) lines.push('', comparison);
  if (report.idle) lines.push('', idleLine(report.idle));
  const n = notes(report);
  if (n.length) lines.push('', ...n.map((x) => c.dim(`  ${x}`)));
  return lines.join('\n');
}

function markdownTable(t: TextTable): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${t.header.map(esc).join(' | ')} |`,
    `| ${t.right.map((r) => (r ? '---:' : '---')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** The Markdown report written next to the JSON. Pure. */
export function renderMarkdown(report: TargetsReport): string {
  const [machine, run] = headerLines(report);
  const out = [
    '# Step 06 targets',
    '',
    `\`${report.command}\``,
    '',
    machine!,
    run!,
    '',
    markdownTable(verdictTable(report.verdicts)),
    '',
    '## The load runs behind the ratios',
    '',
    markdownTable(runsTable(report.runs)),
    '',
  ];
  const comparison = comparisonLine(report.runs);
  if (comparison) out.push(comparison.charAt(0).toUpperCase() + comparison.slice(1) + '.', '');
  if (report.idle) out.push(idleLine(report.idle) + '.', '');
  const n = notes(report);
  if (n.length) out.push(...n.map((x) => `- ${x}`), '');
  return out.join('\n');
}
