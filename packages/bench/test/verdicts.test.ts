import { describe, expect, it } from 'vitest';
import type { IdleFacts } from '../src/types.js';
import { FD_HEADROOM, herdLegend, idleCapacityProblem, ratioVerdict, targetVerdicts } from '../src/verdicts.js';
import { row } from './rows.js';

const idle = (fields: Partial<IdleFacts> = {}): IdleFacts => ({
  target: 10000, capped: false, held: 10000, rssPerConnectionKb: 2, pssPerConnectionKb: 1.9, freshRequest: 'ok', freshMs: 1.5, closedByServer: 0, ...fields,
});

describe('can this machine hold the idle connections?', () => {
  it('asks for ulimit -n when the fd limit is too low, and for ports when the range is too small', () => {
    expect(idleCapacityProblem(10000, { openFiles: 20000, ports: 28232 })).toBeNull();
    expect(idleCapacityProblem(10000, { openFiles: 10000 + FD_HEADROOM, ports: 28232 })).toBeNull();
    expect(idleCapacityProblem(10000, { openFiles: 1024, ports: 28232 })).toMatch(/the limit is 1,024: raise it first \(ulimit -n 20000\)/);
    expect(idleCapacityProblem(10000, { openFiles: 20000, ports: 5000 })).toMatch(/offers 5,000/);
    expect(idleCapacityProblem(10000, { openFiles: null, ports: null })).toBeNull(); // not readable: the connections will tell
  });
});

describe('step 06 target verdicts', () => {
  const base = row('node-http', 'keepalive', { requestsPerServerCpuSec: 60000 });
  const r06 = (fields = {}) => row('06-reactor-pool', 'keepalive', { requestsPerServerCpuSec: 90000, ...fields });

  it('passes a ratio at or above the threshold and fails one below', () => {
    expect(ratioVerdict([base, r06()], 'keepalive', 1.5, 't')).toMatchObject({ verdict: 'PASS', measured: '×1.50 (90,000 vs 60,000 req/CPU-s)' });
    expect(ratioVerdict([base, r06({ requestsPerServerCpuSec: 88000 })], 'keepalive', 1.5, 't').verdict).toBe('FAIL');
  });

  it('fails 06 for errors or a collapse, but leaves the ratio unmeasured when the baseline or the start failed', () => {
    expect(ratioVerdict([base, r06({ errors: 3 })], 'keepalive', 1.5, 't')).toMatchObject({ verdict: 'FAIL', why: '06 had 3 errors' });
    expect(ratioVerdict([base, r06({ status: 'collapsed', reason: 'died' })], 'keepalive', 1.5, 't').verdict).toBe('FAIL');
    expect(ratioVerdict([base, r06({ status: 'not built', reason: 'x' })], 'keepalive', 1.5, 't').verdict).toBe('UNMEASURED');
    expect(ratioVerdict([{ ...base, errors: 9 }, r06()], 'keepalive', 1.5, 't')).toMatchObject({ verdict: 'UNMEASURED', why: 'node-http had 9 errors' });
  });

  it('judges idle memory only with every connection held, and wants the fresh request within a second', () => {
    const at = (facts: IdleFacts) => targetVerdicts([row('06-reactor-pool', 'idle-10k', { idle: facts })]);
    expect(at(idle()).map((v) => v.verdict)).toEqual(['UNMEASURED', 'UNMEASURED', 'PASS', 'PASS']);
    expect(at(idle({ rssPerConnectionKb: 4.5 }))[2]!.verdict).toBe('FAIL');
    expect(at(idle({ held: 9000 }))[2]).toMatchObject({ verdict: 'FAIL', why: 'held 9,000 of 10,000' });
    expect(at(idle({ closedByServer: 12 }))[2]!.verdict).toBe('FAIL');
    expect(at(idle({ freshMs: 1800 }))[3]!.verdict).toBe('FAIL');
    expect(at(idle({ freshRequest: 'timed out', freshMs: 2000 }))[3]).toMatchObject({ verdict: 'FAIL', measured: 'timed out after 2000.0 ms' });
  });

  it('judges the WebSocket targets against the ws package: echo ratio, broadcast CPU ratio, idle memory', () => {
    const rows = (echo06: number, cpu06: number, kb: number) => [
      row('node-http', 'ws-echo', { requestsPerServerCpuSec: 40_000 }), row('06-reactor-pool', 'ws-echo', { requestsPerServerCpuSec: echo06 }),
      row('node-http', 'ws-broadcast', { ws: { clients: 10_000, cpuMsPerBroadcast: { median: 200, max: 300 } } }),
      row('06-reactor-pool', 'ws-broadcast', { ws: { clients: 10_000, cpuMsPerBroadcast: { median: cpu06, max: cpu06 } } }),
      row('06-reactor-pool', 'ws-idle-10k', { ws: { clients: 10_000, rssPerConnectionKb: kb } }),
    ];
    const pass = targetVerdicts(rows(60_000, 130, 1.7));
    expect(pass.map((v) => v.verdict)).toEqual(['PASS', 'PASS', 'PASS']);
    expect(pass[0]!.measured).toBe('×1.50 (60,000 vs 40,000 msg/CPU-s)');
    expect(pass[1]!.measured).toBe('×0.65 (130 vs 200 ms median)');
    expect(targetVerdicts(rows(50_000, 150, 3.2)).map((v) => v.verdict)).toEqual(['FAIL', 'FAIL', 'FAIL']);
    expect(targetVerdicts([row('06-reactor-pool', 'ws-idle-10k', { errors: 4, ws: { clients: 9996, rssPerConnectionKb: 1 } })])[2]).toMatchObject({ verdict: 'FAIL' });
    expect(targetVerdicts([row('06-reactor-pool', 'ws-echo', { requestsPerServerCpuSec: 1 })]).map((v) => v.verdict)).toEqual(['UNMEASURED', 'UNMEASURED', 'UNMEASURED']);
  });

  it('says nothing when 06 ran in none of the target scenarios', () => {
    expect(targetVerdicts([row('05-epoll-native', 'keepalive')])).toEqual([]);
  });
});

describe('herdLegend', () => {
  const herd = (model: string, members: number, wakeupsPerConnection: number) =>
    row(model, 'herd', { mode: `pool ×${members}`, herd: { members, connections: 500, wakeupsPerConnection } });

  it('calls flat wake-ups no herd, from the numbers', () => {
    const [line] = herdLegend([herd('02-fork', 1, 1.31), herd('02-fork', 2, 1.01), herd('02-fork', 8, 1.63)]);
    expect(line).toBe('02-fork: wake-ups per connection stay flat as the pool grows (1.31 at N=1, 1.01 at N=2, 1.63 at N=8; a herd would add about 7 from N=1 to N=8): one member woken per connection, no herd');
  });

  it('calls wake-ups that grow with N a herd', () => {
    const [line] = herdLegend([herd('03-threads', 1, 1), herd('03-threads', 4, 4.2), herd('03-threads', 8, 7.9)]);
    expect(line).toMatch(/^03-threads: wake-ups per connection grow with the pool .*a thundering herd$/);
  });

  it('gives no verdict from a single pool size', () => {
    expect(herdLegend([herd('02-fork', 4, 1)])).toEqual(['02-fork: fewer than two pool sizes measured: no herd verdict']);
  });
});
