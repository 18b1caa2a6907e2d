import { describe, expect, it } from 'vitest';
import { refreshText } from '../src/docs.js';
import { C10K_ACTIVE, C10K_IDLE, planRuns } from '../src/plan.js';
import { c10kChart, chartSvg, markdownTable } from '../src/report.js';
import { lineChartSvg } from '../src/svg.js';
import { headlineFor } from '../src/table.js';
import type { Row } from '../src/types.js';
import { reportOf, row } from './rows.js';

/** A c10k row of `series` at N idle connections. */
const point = (model: string, mode: string, series: string, idle: number, reqPerCpuS: number | null, fields: Partial<Row> = {}): Row =>
  row(model, 'c10k', {
    mode, connections: C10K_ACTIVE, requestsPerSec: reqPerCpuS, requestsPerServerCpuSec: reqPerCpuS,
    c10k: { idle, held: idle, closedByServer: 0, series }, ...fields,
  });

describe('the c10k plan', () => {
  const runs = planRuns(['c10k'], ['04-nonblocking', '05-epoll-native', '06-reactor-pool'], { pinned: true, connections: null });

  it('runs both of 04\'s pollers, 05 and 06 once per idle count, each with 10 active connections', () => {
    expect(runs.map((r) => `${r.spec.model} (${r.spec.mode})`)).toEqual(
      ['04-nonblocking', '04-nonblocking (poll)', '05-epoll-native', '06-reactor-pool'].flatMap((s) => {
        const [model, mode] = s.split(' (');
        return C10K_IDLE.map((n) => `${model} (${mode ? `${mode.slice(0, -1)} ` : ''}${n} idle)`);
      }),
    );
    expect(runs.map((r) => r.spec.c10k!.idle)).toEqual([...C10K_IDLE, ...C10K_IDLE, ...C10K_IDLE, ...C10K_IDLE]);
    expect(new Set(runs.map((r) => r.spec.c10k!.series))).toEqual(new Set(['04-nonblocking', '04-nonblocking (poll)', '05-epoll-native', '06-reactor-pool']));
  });

  it('passes each mode its flags: --poller poll for the poll line, one reactor and one worker for 06 on one core', () => {
    expect(runs.find((r) => r.spec.mode === 'poll 100 idle')!.args).toEqual(['--poller', 'poll']);
    expect(runs.find((r) => r.spec.model === '06-reactor-pool')!.args).toEqual(['--reactors', '1', '--workers', '1', '--protocol', 'http']);
    expect(runs.find((r) => r.spec.model === '05-epoll-native')!.args).toEqual([]);
  });
});

describe('the c10k curve', () => {
  const rows = [
    point('04-nonblocking', 'poll 0 idle', '04-nonblocking (poll)', 0, 90000),
    point('04-nonblocking', 'poll 100 idle', '04-nonblocking (poll)', 100, 70000),
    point('04-nonblocking', 'poll 1000 idle', '04-nonblocking (poll)', 1000, 20000),
    point('04-nonblocking', 'poll 10000 idle', '04-nonblocking (poll)', 10000, null, { status: 'collapsed', reason: 'held 300 of 10000 idle connections' }),
    point('05-epoll-native', '0 idle', '05-epoll-native', 0, 100000),
    point('05-epoll-native', '10000 idle', '05-epoll-native', 10000, 98000),
  ];

  it('is judged by requests per server-CPU-second', () => {
    const h = headlineFor('c10k', rows);
    expect(h.unit).toBe('req/CPU-s');
    expect(h.value(rows[1]!)).toBe(70000);
  });

  it('has a line per series and a value per idle count, null where a point collapsed or did not run', () => {
    const c = c10kChart(rows);
    expect(c.xs).toEqual(['0', '100', '1,000', '10,000']);
    expect(c.series).toEqual([
      { label: '04-nonblocking (poll)', values: [90000, 70000, 20000, null] },
      { label: '05-epoll-native', values: [100000, null, null, 98000] },
    ]);
  });

  it('is drawn as lines: one path per series, a point per value, a new piece after a gap', () => {
    const svg = chartSvg('c10k', rows);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]!);
    expect(paths).toHaveLength(2);
    expect(paths[0]!.match(/[ML]/g)).toEqual(['M', 'L', 'L']);
    expect(paths[1]!.match(/[ML]/g)).toEqual(['M', 'M']);
    expect(svg.match(/<circle/g)).toHaveLength(5);
    expect(svg).toContain('05-epoll-native');
  });

  it('puts higher values higher on the chart', () => {
    const svg = lineChartSvg({ title: 't', subtitle: 's', xs: ['a', 'b'], xLabel: 'x', yLabel: 'y', format: String, series: [{ label: 'l', values: [10, 5] }] });
    const ys = [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(ys[0]).toBeLessThan(ys[1]!);
  });

  it('tabulates the idle connections held beside the load', () => {
    const md = markdownTable('c10k', rows);
    expect(md).toContain('| model | idle held | req/s | req/CPU-s | p99 ms | errors | peak RSS MiB |');
    expect(md).toContain('| 04-nonblocking (poll 1000 idle) | 1,000 | 20,000 | 20,000 |');
    expect(md).toContain('| 04-nonblocking (poll 10000 idle) | *collapsed* |');
  });

  it('is copied into the docs by a bench:chart block, linked next to the report', () => {
    const doc = '<!-- bench:chart c10k -->\nnot measured yet\n<!-- /bench:chart -->\n';
    const r = refreshText(doc, reportOf(rows), 'bench/latest.md');
    expect(r.problems).toEqual([]);
    expect(r.text).toBe('<!-- bench:chart c10k -->\n![c10k: requests per server-CPU-second](bench/latest-c10k.svg)\n<!-- /bench:chart -->\n');
    expect(refreshText(doc, reportOf([row('node-http', 'keepalive')]), 'bench/latest.md').problems).toEqual(['line 1: the report has no c10k rows']);
  });
});
