#!/usr/bin/env node
/**
 * The load engine's command line:
 *
 *   pnpm --filter @course/client start --port 8080 [--path /] [--connections 50] [--depth 1]
 *       [--duration 5] [--rate 0] [--mode keepalive|churn] [--ceiling 2] [--cpu N] [--server-cpu N]
 *   pnpm --filter @course/client start --run ceiling --ceiling 5 [--connections 50] [--depth 1]
 *   pnpm --filter @course/client start --run curve --port 8080 --rates 5000,10000,20000 [--duration 5]
 *
 * Prints a report: a header with the engine's ceiling (measured first, for `--ceiling` seconds,
 * against the canned server with the same connections and depth), then requests, errors, latency
 * percentiles from the HdrHistogram, and the engine's own CPU time. Only load local addresses.
 * Exit 0 when the run got responses, 1 when it got none (the first error's errno name says why),
 * 2 for a bad flag.
 */
import { execFileSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { UsageError, exitNow, normaliseHost, parseFlagsOrExit } from '@course/server-kit';
import { measureCeiling, type Ceiling } from './ceiling.js';
import { latencyCurve } from './engine/curve.js';
import { runLoad, type LoadOptions, type LoadResult } from './engine/loop.js';

const PKG = '@course/client';
const flags = parseFlagsOrExit(PKG, {
  host: { kind: 'string', default: '127.0.0.1', help: 'address to load: an IPv4 or IPv6 literal of this machine' },
  port: { kind: 'int', default: 8080, min: 1, max: 65535, help: 'port to load' },
  path: { kind: 'string', default: '/', help: 'request-target to load' },
  connections: { kind: 'int', default: 50, min: 1, max: 100_000, help: 'connections at once' },
  depth: { kind: 'int', default: 1, min: 1, max: 1024, help: 'requests in flight per connection (a pipelined burst)' },
  duration: { kind: 'int', default: 5, min: 1, max: 3600, help: 'seconds of load' },
  rate: { kind: 'int', default: 0, min: 0, max: 10_000_000, help: 'open loop: requests per second over all connections (0: closed loop)' },
  mode: { kind: 'enum', default: 'keepalive', values: ['keepalive', 'churn'], help: 'keep-alive connections, or a new connection per request' },
  run: { kind: 'enum', default: 'load', values: ['load', 'ceiling', 'curve'], help: 'load the target; only measure the engine ceiling; or a latency curve at each of --rates' },
  rates: { kind: 'string', default: '1000,2000,5000,10000,20000,50000', help: 'with --run curve: offered rates (req/s), comma-separated, one --duration run each' },
  'timeout-ms': { kind: 'int', default: 2000, min: 1, max: 600_000, help: 'a request unanswered this long is a timeout' },
  ceiling: { kind: 'int', default: 2, min: 0, max: 60, help: 'seconds spent first measuring the engine against the canned server (0: skip)' },
  cpu: { kind: 'int', default: -1, min: -1, max: 4096, help: 'pin this process to this CPU (taskset; -1: do not pin)' },
  'server-cpu': { kind: 'int', default: -1, min: -1, max: 4096, help: 'pin the canned server of the ceiling run to this CPU (-1: do not pin)' },
});

const opts = { ...flags, host: hostOrExit(flags.host) };
if (opts.cpu >= 0) pin(opts.cpu);
const load: LoadOptions = {
  host: opts.host,
  port: opts.port,
  path: opts.path,
  connections: opts.connections,
  depth: opts.mode === 'churn' ? 1 : opts.depth,
  durationMs: opts.duration * 1000,
  churn: opts.mode === 'churn',
  rate: opts.rate,
  timeoutMs: opts['timeout-ms'],
};
if (opts.mode === 'churn' && opts.depth !== 1) fail('--depth: churn sends one request per connection; leave --depth at 1', 2);

if (opts.run === 'ceiling' && opts.ceiling === 0) fail('--ceiling: --run ceiling needs a duration of at least 1 s', 2);
const rates = opts.rates.split(',').map((r) => Number(r.trim()));
if (rates.some((r) => !Number.isInteger(r) || r <= 0)) fail(`--rates expects positive integers separated by commas, got "${opts.rates}"`, 2);
const loop = opts.run === 'curve' ? `open loop at ${rates.map(fmt).join(', ')} req/s` : opts.rate > 0 ? `open loop at ${fmt(opts.rate)} req/s` : 'closed loop';
const target = opts.run === 'ceiling' ? 'the canned server' : `http://${hostPort()}${opts.path}`;
out(`course-load: reactor engine → ${target}  ${opts.connections} connections × depth ${load.depth}, ${loop}, ${opts.mode}, ${opts.run === 'ceiling' ? opts.ceiling : opts.duration} s`);
let ceiling: Ceiling | null = null;
if (opts.ceiling > 0) {
  const { path: _path, host: _host, port: _port, ...shape } = load;
  ceiling = await measureCeiling({ ...shape, rate: 0, durationMs: opts.ceiling * 1000, ...(opts['server-cpu'] >= 0 ? { serverCpu: opts['server-cpu'] } : {}) });
  out(`engine ceiling: ${fmt(ceiling.requestsPerS)} req/s against the canned server (same connections and depth, ${opts.ceiling} s), ${fmt(ceiling.requestsPerCpuS)} req per engine-CPU-s`);
} else {
  out('engine ceiling: not measured (--ceiling 0)');
}

if (opts.run === 'ceiling') exitNow(0);
if (opts.run === 'curve') {
  out('offered req/s | achieved req/s | p50 ms | p99 ms | errors | engine CPU');
  const ms = (v: number | null) => (v === null ? '—' : v.toFixed(2));
  for (const p of latencyCurve(load, rates)) {
    out(`${fmt(p.rate)} | ${fmt(p.achieved)} | ${ms(p.p50)} | ${ms(p.p99)} | ${fmt(p.errors)} | ${Math.round(p.clientCpuShare * 100)} %`);
  }
  exitNow(0);
}
const result = runLoad(load);
report(result);
if (result.requests === 0) fail(`no response from ${hostPort()}: ${describeErrors(result) || 'nothing answered'}`, 1);
exitNow(0);

function report(r: LoadResult): void {
  const seconds = r.durationMs / 1000;
  const h = r.histogram;
  const us = (p: number) => fmt(h.getValueAtPercentile(p));
  out(`requests      ${fmt(r.requests)} in ${seconds.toFixed(2)} s = ${fmt(r.requests / seconds)} req/s${r.offeredRate === null ? '' : ` (offered ${fmt(r.offeredRate)} req/s)`}`);
  out(`errors        ${fmt(r.errors)}${r.errors > 0 ? ` (${describeErrors(r)})` : ''}; timeouts ${fmt(r.timeouts)}; non-2xx ${fmt(r.non2xx)}; connects ${fmt(r.connects)}`);
  if (h.totalCount > 0) out(`latency µs    p50 ${us(50)}  p90 ${us(90)}  p99 ${us(99)}  p99.9 ${us(99.9)}  max ${fmt(h.maxValue)}${r.offeredRate === null ? '' : '  (from each request\'s intended send time)'}`);
  const share = r.cpuMs / r.durationMs;
  out(`engine CPU    ${(r.cpuMs / 1000).toFixed(2)} s (${Math.round(share * 100)} % of one core), ${fmt(r.cpuMs > 0 ? r.requests / (r.cpuMs / 1000) : 0)} req per engine-CPU-s${share > 0.9 ? ' — the engine was busy: this run may measure the engine' : ''}`);
  if (ceiling !== null && r.requests / seconds > 0.8 * ceiling.requestsPerS) out('note: within 20 % of the engine ceiling: the client may be the limit');
}

/** The report goes to stdout, written at once (the engine blocks the thread: nothing async would flush). */
function out(line: string): void {
  writeSync(1, line + '\n');
}

function describeErrors(r: LoadResult): string {
  return Object.entries(r.errorCodes).map(([code, n]) => `${code} ${fmt(n)}`).join(', ');
}

function hostPort(): string {
  return opts.host.includes(':') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function hostOrExit(host: string): string {
  try {
    return normaliseHost(host);
  } catch (err) {
    if (err instanceof UsageError) fail(err.message, 2);
    throw err;
  }
}

/** taskset(1) on our own pid: the engine then runs on that core only. */
function pin(cpu: number): void {
  try {
    execFileSync('taskset', ['-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
  } catch (err) {
    fail(`--cpu: cannot pin to CPU ${cpu} with taskset: ${(err as Error).message.split('\n')[0]}`, 2);
  }
}

function fail(message: string, code: number): never {
  writeSync(2, `${PKG}: ${message}\n`);
  exitNow(code);
}
