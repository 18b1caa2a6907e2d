/**
 * Verdicts drawn from the rows of one run, in the one plan: step 06's performance targets, and
 * whether 02's and 03's pools suffer a thundering herd. Pure functions over Rows; the report
 * prints what they say under the tables.
 *
 * Step 06's targets: with one reactor and the server pinned to one core, on the 540-byte
 * /bench.html —
 *   1. at least 1.5× node:http's requests per server-CPU-second with keep-alive (keepalive);
 *   2. at least 3× with 16-deep pipelining, written as bursts (burst);
 *   3. 10,000 idle keep-alive connections at no more than 4 KiB of resident memory each (idle-10k),
 *   4. while a fresh request is still answered within a second;
 * and as a long-connection server, against the `ws` package on node:http (issue 13's targets) —
 *   5. at least 1.4× its messages per server-CPU-second echoing 64-byte messages (ws-echo);
 *   6. at most 0.7× its server CPU per broadcast to 10,000 clients (ws-broadcast);
 *   7. 10,000 idle WebSockets at no more than 3 KiB of resident memory each (ws-idle-10k).
 */
import type { Row, ScenarioName } from './types.js';

/** The thresholds. "4 KB" is read as 4 KiB: /proc's "kB" is 1,024 bytes. */
export const TARGETS = {
  keepaliveRatio: 1.5,
  burstRatio: 3,
  idleKbPerConnection: 4,
  freshRequestMs: 1000,
  wsEchoRatio: 1.4,
  wsBroadcastCpuRatio: 0.7,
  wsIdleKbPerConnection: 3,
} as const;

/** File descriptors beyond the connections: stdio, epoll and eventfds, V8's and libuv's own. */
export const FD_HEADROOM = 200;

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (n: number) => `×${n.toFixed(2)}`;

/**
 * Why `target` idle connections cannot be held from this process, or null if they can. Each one
 * is a file descriptor here and another in the server (which inherits this process's limits), and
 * each needs a local port of its own, since they all go to the same address and port. Pure.
 */
export function idleCapacityProblem(target: number, limits: { openFiles: number | null; ports: number | null }): string | null {
  const fds = target + FD_HEADROOM;
  if (limits.openFiles !== null && limits.openFiles < fds) {
    return `holding ${int(target)} idle connections needs about ${int(fds)} open files here and in the server; ` +
      `the limit is ${int(limits.openFiles)}: raise it first (ulimit -n ${int(2 * target).replace(/,/g, '')})`;
  }
  if (limits.ports !== null && limits.ports < target + 100) {
    return `holding ${int(target)} connections to one address needs ${int(target)} local ports; ` +
      `net.ipv4.ip_local_port_range offers ${int(limits.ports)}`;
  }
  return null;
}

/** PASS or FAIL; UNMEASURED when a row needed for the comparison has no number. */
export type VerdictWord = 'PASS' | 'FAIL' | 'UNMEASURED';

export interface Verdict {
  target: string;
  /** The measured value as shown, with what it was computed from. */
  measured: string;
  required: string;
  verdict: VerdictWord;
  /** Why, when the verdict is not simply the comparison. */
  why?: string;
}

const find = (rows: readonly Row[], scenario: ScenarioName, model: string) =>
  rows.find((r) => r.scenario === scenario && r.model === model && r.mode === '');

/**
 * 06's requests per server-CPU-second ÷ node:http's in `scenario`, against `min`. A baseline that
 * failed or had errors leaves the ratio unmeasured; 06 not starting does too; 06 collapsing or
 * erring under the load is a FAIL. Pure.
 */
export function ratioVerdict(rows: readonly Row[], scenario: ScenarioName, min: number, target: string, unit = 'req/CPU-s'): Verdict {
  const v: Verdict = { target, measured: '—', required: `≥ ${ratio(min)}`, verdict: 'UNMEASURED' };
  const base = find(rows, scenario, 'node-http');
  const model = find(rows, scenario, '06-reactor-pool');
  if (!base || !model) return { ...v, why: `the ${scenario} scenario did not run both node-http and 06` };
  if (model.status === 'collapsed') return { ...v, verdict: 'FAIL', why: `06 collapsed: ${model.reason ?? 'unknown reason'}` };
  if (model.status !== 'ok') return { ...v, why: `06 ${model.status}: ${model.reason ?? 'unknown reason'}` };
  if (model.errors > 0) return { ...v, verdict: 'FAIL', why: `06 had ${int(model.errors)} errors` };
  if (base.status !== 'ok') return { ...v, why: `node-http ${base.status}: ${base.reason ?? 'unknown reason'}` };
  if (base.errors > 0) return { ...v, why: `node-http had ${int(base.errors)} errors` };
  const a = model.requestsPerServerCpuSec;
  const b = base.requestsPerServerCpuSec;
  if (a === null || b === null || b === 0) return { ...v, why: 'no server CPU time was recorded' };
  return { ...v, measured: `${ratio(a / b)} (${int(a)} vs ${int(b)} ${unit})`, verdict: a / b >= min ? 'PASS' : 'FAIL' };
}

/** 06's median server CPU per broadcast ÷ node:http's (the `ws` package), against `max`. Pure. */
export function broadcastVerdict(rows: readonly Row[]): Verdict {
  const max = TARGETS.wsBroadcastCpuRatio;
  const v: Verdict = { target: 'broadcast to 10,000 WebSockets: server CPU vs ws', measured: '—', required: `≤ ${ratio(max)}`, verdict: 'UNMEASURED' };
  const base = find(rows, 'ws-broadcast', 'node-http');
  const model = find(rows, 'ws-broadcast', '06-reactor-pool');
  if (!base || !model) return { ...v, why: 'the ws-broadcast scenario did not run both node-http and 06' };
  if (model.status === 'collapsed' || model.errors > 0) return { ...v, verdict: 'FAIL', why: model.reason ?? `06 had ${int(model.errors)} errors` };
  const a = model.ws?.cpuMsPerBroadcast?.median;
  const b = base.ws?.cpuMsPerBroadcast?.median;
  if (model.status !== 'ok' || base.status !== 'ok' || a === undefined || b === undefined || b === 0) return { ...v, why: 'no CPU per broadcast for both servers' };
  return { ...v, measured: `${ratio(a / b)} (${a.toFixed(0)} vs ${b.toFixed(0)} ms median)`, verdict: a / b <= max ? 'PASS' : 'FAIL' };
}

/** Resident memory per idle WebSocket of 06 in ws-idle-10k, every one opened. Pure. */
export function wsIdleVerdict(rows: readonly Row[]): Verdict {
  const max = TARGETS.wsIdleKbPerConnection;
  const v: Verdict = { target: '10,000 idle WebSockets: RSS per connection', measured: '—', required: `≤ ${max} KiB, all open`, verdict: 'UNMEASURED' };
  const row = find(rows, 'ws-idle-10k', '06-reactor-pool');
  if (!row) return { ...v, why: 'the ws-idle-10k scenario did not run 06' };
  if (row.status === 'collapsed' || row.errors > 0) return { ...v, verdict: 'FAIL', why: row.reason ?? `${int(row.errors)} WebSockets failed to open` };
  const per = row.ws?.rssPerConnectionKb;
  if (row.status !== 'ok' || per === undefined || per === null) return { ...v, why: `06 ${row.status}: ${row.reason ?? 'no memory figure'}` };
  return { ...v, measured: `${per.toFixed(1)} KiB, ${int(row.ws!.clients)} open`, verdict: per <= max ? 'PASS' : 'FAIL' };
}

/** Resident memory per idle connection of 06 in idle-10k, all of them held. Pure. */
export function idleMemoryVerdict(rows: readonly Row[]): Verdict {
  const max = TARGETS.idleKbPerConnection;
  const v: Verdict = { target: '10,000 idle keep-alive connections: RSS per connection', measured: '—', required: `≤ ${max} KiB, all held`, verdict: 'UNMEASURED' };
  const row = find(rows, 'idle-10k', '06-reactor-pool');
  if (!row) return { ...v, why: 'the idle-10k scenario did not run 06' };
  const idle = row.idle;
  if (!idle) return { ...v, why: `06 ${row.status}: ${row.reason ?? 'unknown reason'}` };
  const per = idle.rssPerConnectionKb;
  const measured = per === null ? `${int(idle.held)} held` : `${per.toFixed(1)} KiB (PSS ${(idle.pssPerConnectionKb ?? 0).toFixed(1)}), ${int(idle.held)} held`;
  const out = { ...v, measured };
  if (row.status === 'collapsed') return { ...out, verdict: 'FAIL', why: row.reason ?? 'collapsed' };
  if (idle.held < idle.target) return { ...out, verdict: 'FAIL', why: `held ${int(idle.held)} of ${int(idle.target)}` };
  if (idle.closedByServer > 0) return { ...out, verdict: 'FAIL', why: `the server closed ${int(idle.closedByServer)} of them while they were held` };
  if (per === null) return { ...out, why: 'no memory figure' };
  return { ...out, verdict: per <= max ? 'PASS' : 'FAIL' };
}

/** A fresh request on a new connection while 06 holds the 10,000. Pure. */
export function freshRequestVerdict(rows: readonly Row[]): Verdict {
  const max = TARGETS.freshRequestMs;
  const v: Verdict = { target: 'a fresh request while 10,000 are held', measured: '—', required: `answered ≤ ${int(max)} ms`, verdict: 'UNMEASURED' };
  const idle = find(rows, 'idle-10k', '06-reactor-pool')?.idle;
  if (!idle) return { ...v, why: 'the idle-10k scenario did not measure 06' };
  const took = `${idle.freshMs.toFixed(1)} ms`;
  if (idle.freshRequest !== 'ok') return { ...v, measured: `${idle.freshRequest} after ${took}`, verdict: 'FAIL' };
  return { ...v, measured: `answered in ${took}`, verdict: idle.freshMs <= max ? 'PASS' : 'FAIL' };
}

/**
 * Step 06's targets: the four HTTP ones when the run measured any of their scenarios, the three
 * WebSocket ones when it measured any of theirs; [] when neither. Pure.
 */
export function targetVerdicts(rows: readonly Row[]): Verdict[] {
  const ran = (...ss: ScenarioName[]) => rows.some((r) => ss.includes(r.scenario) && r.model === '06-reactor-pool');
  return [
    ...(ran('keepalive', 'burst', 'idle-10k') ? [
      ratioVerdict(rows, 'keepalive', TARGETS.keepaliveRatio, 'keep-alive: req per server-CPU-s vs node:http'),
      ratioVerdict(rows, 'burst', TARGETS.burstRatio, 'pipelined 16 deep (bursts): req per server-CPU-s vs node:http'),
      idleMemoryVerdict(rows),
      freshRequestVerdict(rows),
    ] : []),
    ...(ran('ws-echo', 'ws-broadcast', 'ws-idle-10k') ? [
      ratioVerdict(rows, 'ws-echo', TARGETS.wsEchoRatio, 'WebSocket echo: messages per server-CPU-s vs ws', 'msg/CPU-s'),
      broadcastVerdict(rows),
      wsIdleVerdict(rows),
    ] : []),
  ];
}

/**
 * What the herd rows say, one line per pool, derived from the numbers: if one connection woke all
 * N members, wake-ups per connection would grow by about one per extra member; the line says
 * whether the measured growth from the smallest to the largest pool is at least half of that (a
 * herd) or not (one member woken per connection). Pure.
 */
export function herdLegend(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const model of [...new Set(rows.filter((r) => r.scenario === 'herd').map((r) => r.model))]) {
    const pts = rows
      .filter((r) => r.scenario === 'herd' && r.model === model && r.status === 'ok' && r.herd)
      .map((r) => r.herd!)
      .sort((a, b) => a.members - b.members);
    if (pts.length < 2) { out.push(`${model}: fewer than two pool sizes measured: no herd verdict`); continue; }
    const lo = pts[0]!;
    const hi = pts[pts.length - 1]!;
    const growth = hi.wakeupsPerConnection - lo.wakeupsPerConnection;
    const herdGrowth = hi.members - lo.members;
    const values = pts.map((p) => `${p.wakeupsPerConnection.toFixed(2)} at N=${p.members}`).join(', ');
    out.push(growth >= herdGrowth / 2
      ? `${model}: wake-ups per connection grow with the pool (${values}): a connection wakes several members — a thundering herd`
      : `${model}: wake-ups per connection stay flat as the pool grows (${values}; a herd would add about ${herdGrowth} from N=${lo.members} to N=${hi.members}): one member woken per connection, no herd`);
  }
  return out;
}

