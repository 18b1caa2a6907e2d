/** Row fixtures for the presentation tests. */
import type { Report, Row, ScenarioName } from '../src/types.js';

export function row(model: string, scenario: ScenarioName, fields: Partial<Row> = {}): Row {
  return {
    model, mode: '', scenario, status: 'ok', args: [], connections: 50, pipelining: 1, durationS: 5, wallS: 6,
    totalRequests: 0, requestsPerSec: null, requestsPerServerCpuSec: null, latencyP50Ms: null, latencyP99Ms: null,
    errors: 0, timeouts: 0, serverCpuSeconds: null, clientCpuSeconds: null, engine: 'autocannon', clientBound: false, peakRssKb: null, notes: [],
    ...fields,
  };
}

/** A keepalive scenario: node-http, a faster model, a collapsed one and one not built. */
export function keepaliveRows(): Row[] {
  return [
    row('node-http', 'keepalive', { requestsPerSec: 40000, requestsPerServerCpuSec: 60000, latencyP50Ms: 0.7, latencyP99Ms: 12, peakRssKb: 60 * 1024, totalRequests: 200000 }),
    row('05-epoll-native', 'keepalive', { requestsPerSec: 80000, requestsPerServerCpuSec: 150000, latencyP50Ms: 0.5, latencyP99Ms: 3, peakRssKb: 55 * 1024, totalRequests: 400000, args: ['--mode', 'lt'] }),
    row('01-blocking', 'keepalive', { status: 'collapsed', reason: '0 responses in 5 s', errors: 50, timeouts: 50, requestsPerSec: 0, peakRssKb: 50 * 1024 }),
    row('02-fork', 'keepalive', { mode: 'prefork', status: 'not built', reason: 'no dist/main.js' }),
  ];
}

/** A report around `rows`: a two-core pinned test machine, 5 s runs. */
export function reportOf(rows: Row[], fields: Partial<Report> = {}): Report {
  return {
    date: '2026-01-01T00:00:00.000Z',
    command: 'pnpm bench --scenario keepalive,churn',
    engine: { name: 'autocannon', description: 'autocannon in the bench process' },
    machine: { cores: 2, cpuModel: 'Test CPU', node: 'v20.0.0', platform: 'linux x64', pinning: { server: 0, client: 1, tool: 'taskset' } },
    settings: { durationS: 5, warmupS: 1, connections: null, benchFile: '/bench.html', benchFileBytes: 540, root: '/site' },
    scenarios: [...new Set(rows.map((r) => r.scenario))],
    rows,
    ...fields,
  };
}
