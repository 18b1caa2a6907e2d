import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ceilingOf } from '../src/ceiling.js';
import { refreshText } from '../src/docs.js';
import { MODELS, planRuns } from '../src/plan.js';
import { courseTextFiles } from '../src/refresh.js';
import { SCENARIOS } from '../src/types.js';
import type { Report } from '../src/types.js';
import { keepaliveRows, reportOf, row } from './rows.js';

const report: Report = reportOf(
  [...keepaliveRows(), row('06-reactor-pool', 'keepalive', { requestsPerSec: 90000, requestsPerServerCpuSec: 120000 })],
  { command: 'pnpm bench --engine wrk', engine: { name: 'wrk', description: 'wrk -t1' } },
);

describe('refreshText', () => {
  it('rewrites a table block with the chosen models, a source block with the provenance line, and leaves the rest alone', () => {
    const doc = 'before\n<!-- bench:table keepalive models=node-http,05-epoll-native -->\nold table\n<!-- /bench:table -->\n' +
      '<!-- bench:source -->\nold line\n<!-- /bench:source -->\nafter\n';
    const r = refreshText(doc, report, 'bench/latest.md');
    expect(r.problems).toEqual([]);
    expect(r.blocks).toBe(2);
    expect(r.text).toMatch(/^before\n<!-- bench:table keepalive models=node-http,05-epoll-native -->\n\| model \| req\/s /);
    expect(r.text).toContain('| 05-epoll-native | **80,000** |');
    expect(r.text).not.toContain('06-reactor-pool');
    expect(r.text).not.toContain('old table');
    expect(r.text).toContain('<sub>Measured with `pnpm bench --engine wrk` (engine wrk) on 2026-01-01: 2 cores (Test CPU), Node v20.0.0, linux x64;');
    expect(r.text).toMatch(/Full report: \[bench\/latest\.md\]\(bench\/latest\.md\)\.<\/sub>\n<!-- \/bench:source -->\nafter\n$/);
    expect(refreshText(r.text, report, 'bench/latest.md').text).toBe(r.text); // idempotent
  });

  it('writes the verdicts and the whole report, its headings one level down and its links relative to the doc', () => {
    const v = refreshText('<!-- bench:verdicts -->\n<!-- /bench:verdicts -->', report, 'bench/latest.md').text;
    expect(v).toContain('| keep-alive: req per server-CPU-s vs node:http | ×2.00 (120,000 vs 60,000 req/CPU-s) | ≥ ×1.50 | PASS |');
    const all = refreshText('<!-- bench:report -->\n<!-- /bench:report -->', report, 'bench/latest.md').text;
    expect(all).toContain('\n### keepalive\n');
    expect(all).not.toContain('# Benchmark results');
    expect(all).toContain('](bench/latest-keepalive.svg)');
  });

  it('picks single modes with model:mode, spaces written as dashes', () => {
    const r = reportOf([
      row('02-fork', 'churn', { mode: 'per-connection', requestsPerSec: 200 }),
      row('02-fork', 'churn', { mode: 'prefork', requestsPerSec: 9000 }),
      row('06-reactor-pool', 'churn', { mode: 'fib inline', requestsPerSec: 10 }),
    ]);
    const text = refreshText('<!-- bench:table churn models=02-fork:per-connection,06-reactor-pool:fib-inline -->\n<!-- /bench:table -->', r, 'l.md').text;
    expect(text).toContain('| 02-fork (per-connection) |');
    expect(text).toContain('| 06-reactor-pool (fib inline) |');
    expect(text).not.toContain('prefork');
  });

  it('leaves markers shown in a fenced code block alone', () => {
    const doc = '```md\n<!-- bench:table keepalive -->\n<!-- /bench:table -->\n```\n';
    expect(refreshText(doc, report, 'l.md')).toEqual({ text: doc, blocks: 0, problems: [] });
  });

  it('names the line of a marker it cannot fill, and keeps that block as it was', () => {
    const doc = 'x\n<!-- bench:table nosuch -->\nkept\n<!-- /bench:table -->\n<!-- bench:table churn models=08-io-uring -->\n<!-- /bench:table -->';
    const r = refreshText(doc, report, 'l.md');
    expect(r.text).toBe(doc);
    expect(r.problems).toEqual([
      'line 2: bench:table needs a scenario (keepalive, pipelined, burst, churn, slow-client, idle-1k, idle-10k, herd, accept, cpu-task, c10k, framed-echo, ws-echo, ws-broadcast, ws-idle-10k), got "nosuch"',
      'line 5: bench:table churn: unknown model "08-io-uring"',
    ]);
  });
});

// What a full run with --engine reactor adds beside the rows: the engines' ceilings and the curve.
const fullRunExtras = {
  ceilings: [ceilingOf('autocannon', 70_000, 2, 1.9, 50), ceilingOf('reactor', 150_000, 2, 1.9, 50)],
  curve: [{ model: '05-epoll-native' as const, rate: 5000, achieved: 5000, p50Ms: 0.2, p99Ms: 0.9, errors: 0 }],
};

describe('the ceilings and curve blocks', () => {
  it('write every engine\'s ceiling and the curve\'s table with its chart', () => {
    const doc = '<!-- bench:ceilings -->\nold\n<!-- /bench:ceilings -->\n<!-- bench:curve -->\nold\n<!-- /bench:curve -->\n';
    const r = refreshText(doc, reportOf([], { ...fullRunExtras, engine: { name: 'reactor', description: 'd' } }), 'bench/latest.md');
    expect(r.problems).toEqual([]);
    expect(r.text).toContain('| **reactor** (this run) | 75,000 | 95% | ×2.14 |');
    expect(r.text).toContain('| 5,000 | 5,000 | 0.20 | 0.90 |');
    expect(r.text).toContain('](bench/latest-latency-curve.svg)');
  });

  it('say what is missing when the report has neither', () => {
    const doc = '<!-- bench:ceilings -->\nold\n<!-- /bench:ceilings -->\n<!-- bench:curve -->\nold\n<!-- /bench:curve -->\n';
    expect(refreshText(doc, reportOf([]), 'bench/latest.md').problems).toEqual([
      'line 1: the report has no engine ceilings (it ran with --ceiling 0)',
      'line 4: the report has no latency curve (run with --engine reactor)',
    ]);
  });
});

describe('the course text\'s bench blocks', () => {
  it('name only scenarios and rows the plan runs, so a full run fills every one of them', () => {
    const planned = planRuns([...SCENARIOS], [...MODELS], { pinned: true, connections: null })
      .map((r) => row(r.spec.model, r.scenario, { mode: r.spec.mode, requestsPerServerCpuSec: 1, herd: { members: 1, connections: 1, wakeupsPerConnection: 1 } }));
    const problems = courseTextFiles().flatMap((file) =>
      refreshText(readFileSync(file, 'utf8'), reportOf(planned, fullRunExtras), 'bench/latest.md').problems.map((p) => `${file} ${p}`));
    expect(problems).toEqual([]);
  });
});
