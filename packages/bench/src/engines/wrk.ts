/**
 * The wrk engine: the `wrk` binary (Debian package `wrk`, 4.x), one thread, in a child process that
 * inherits the bench's pinning to the client core. wrk is an epoll reactor in C: on one core it
 * outruns every server here, so its rows are not client-bound.
 *
 * A generated Lua script shapes the load: `depth` requests concatenated into one write (wrk's
 * pipeline.lua: the next write once all are answered), `Connection: close` for churn (wrk
 * reconnects when the server closes), and a `done` hook that prints the counts and percentiles on
 * one line. wrk takes whole seconds only, so a phase is rounded up to the next second. wrk's CPU
 * is read from the wrapping shell's /proc stat (cutime + cstime: its reaped child, wrk).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUEST_TIMEOUT_S } from '@course/testkit';
import type { EngineResult, LoadEngine, LoadShape } from '../engine.js';

const CLK_TCK = 100;
const RESULT = 'WRK-RESULT ';

/** The Lua script for `shape`. Pure. */
export function wrkScript(path: string, shape: LoadShape): string {
  const headers = shape.churn ? '{ ["Connection"] = "close" }' : '{}';
  return [
    `local depth, path = ${shape.depth}, ${JSON.stringify(path)}`,
    'init = function(args)',
    '  local r = {}',
    `  for i = 1, depth do r[i] = wrk.format("GET", path, ${headers}) end`,
    '  req = table.concat(r)',
    'end',
    'request = function() return req end',
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.stderr:write(string.format("${RESULT}%d %d %d %d %d %d %d %.3f %.3f\\n", summary.requests, summary.duration,`,
    '    e.connect, e.read, e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(99)))',
    'end',
    '',
  ].join('\n');
}

/** wrk's result line and the wrapper's stat line, from its stderr. Throws when the result line is missing. Pure. */
export function parseWrkOutput(stderr: string, durationS: number): EngineResult {
  const line = stderr.split('\n').find((l) => l.startsWith(RESULT));
  if (!line) throw new Error(`wrk printed no result: ${stderr.trim().split('\n').slice(-2).join(' / ') || 'no output'}`);
  const [requests, durationUs, connect, read, write, status, timeout, p50, p99] = line.slice(RESULT.length).trim().split(/\s+/).map(Number) as number[];
  // The wrapper's own /proc/PID/stat: "pid (sh) S ..." — fields after ')' : cutime=13 cstime=14.
  const stat = stderr.split('\n').find((l) => /^\d+ \(sh\) /.test(l));
  const f = stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : [];
  const cpu = f.length > 14 ? (Number(f[13]) + Number(f[14])) / CLK_TCK : 0;
  const responses = requests!;
  return {
    responses,
    errors: connect! + read! + write! + timeout!,
    timeouts: timeout!,
    non2xx: status!,
    durationS: durationUs! > 0 ? durationUs! / 1e6 : durationS,
    latency: responses > 0 ? { p50: p50! / 1000, p99: p99! / 1000 } : { p50: null, p99: null },
    engineCpuSeconds: cpu,
  };
}

let installed: boolean | undefined;

export const wrkEngine: LoadEngine = {
  name: 'wrk',
  description: 'wrk -t1 (C, epoll) in a child process on the client core',
  unavailable() {
    installed ??= spawnSync('wrk', ['-v'], { stdio: 'ignore' }).error === undefined;
    return installed ? null : 'wrk is not installed (Debian/Ubuntu: apt-get install wrk)';
  },
  cannot(shape) {
    if (shape.rateRps !== null) return 'wrk has no fixed rate (that is wrk2); use --engine reactor';
    if (shape.depth > 1 && shape.pipelining === 'in-flight') return 'wrk pipelines in bursts only, not with requests kept in flight';
    return null;
  },
  async run(url, shape) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-wrk-'));
    const script = join(dir, 'load.lua');
    const u = new URL(url);
    writeFileSync(script, wrkScript(u.pathname + u.search, shape));
    const seconds = Math.max(1, Math.ceil(shape.durationS));
    const args = ['-t1', `-c${shape.connections}`, `-d${seconds}s`, `--timeout`, `${REQUEST_TIMEOUT_S}s`, '-s', script, url];
    try {
      const stderr = await new Promise<string>((resolve, reject) => {
        // The shell waits for wrk, then prints its own stat, whose cutime/cstime are wrk's CPU.
        const child = spawn('sh', ['-c', '"$@"; rc=$?; cat /proc/$$/stat >&2; exit $rc', 'sh', 'wrk', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (d: string) => { err += d; });
        child.on('error', reject);
        child.on('close', () => resolve(err));
      });
      return parseWrkOutput(stderr, seconds);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
