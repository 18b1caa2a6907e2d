import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chartFor, renderMarkdown, writeReport } from '../src/report.js';
import type { Report } from '../src/types.js';
import { keepaliveRows, reportOf, row } from './rows.js';

const report: Report = reportOf([...keepaliveRows(), row('node-http', 'churn', { requestsPerSec: 3000 })]);

describe('renderMarkdown', () => {
  const md = renderMarkdown(report);

  it('states the machine, the pinning and the method', () => {
    expect(md).toContain('2 cores (Test CPU), Node v20.0.0');
    expect(md).toContain('server pinned to core 0, load generator (this process) to core 1');
    expect(md).toContain('`/bench.html` (540 bytes)');
  });

  it('has a table per scenario with the best value in bold, and a linked chart', () => {
    expect(md).toContain('## keepalive');
    expect(md).toContain('| model | req/s | req/CPU-s | p50 ms | p99 ms | errors | peak RSS MiB | vs node-http |');
    expect(md).toContain('| --- | ---: |');
    expect(md).toContain('| 05-epoll-native | **80,000** |');
    expect(md).toContain('| 01-blocking | *collapsed* |');
    expect(md).toContain('- 01-blocking: collapsed — 0 responses in 5 s');
    expect(md).toContain('](latest-keepalive.svg)');
    expect(md).toContain('## churn');
    expect(md).toContain('](latest-churn.svg)');
  });
});

describe('chartFor', () => {
  it('has a bar per row, values only for rows that are ok', () => {
    const c = chartFor('keepalive', keepaliveRows());
    expect(c.bars.map((b) => [b.label, b.value, b.value === null ? b.note : undefined])).toEqual([
      ['node-http', 40000, undefined], ['05-epoll-native', 80000, undefined], ['01-blocking', null, 'collapsed'], ['02-fork (prefork)', null, 'not built'],
    ]);
    expect(c.bars[0]!.baseline).toBe(true);
    expect(c.format(1234.4)).toBe('1,234 req/s');
  });
});

describe('the client-bound rule', () => {
  it('charts requests per server-CPU-second, and says why, when a load generator was saturated', () => {
    const rows = keepaliveRows();
    rows[1] = { ...rows[1]!, clientBound: true };
    const chart = chartFor('keepalive', rows);
    expect(chart.title).toBe('keepalive: requests per server-CPU-second (higher is better) — the load generator was saturated in 1 row, so not req/s');
    expect(chart.bars.map((b) => b.value)).toEqual([60000, 150000, null, null]);
    expect(chartFor('keepalive', keepaliveRows()).bars.map((b) => b.value)).toEqual([40000, 80000, null, null]);
  });
});

describe('step 06 targets and the herd in the report', () => {
  it('adds the verdict table when 06 ran in a target scenario', () => {
    const md = renderMarkdown({
      ...report, scenarios: ['keepalive'],
      rows: [row('node-http', 'keepalive', { requestsPerServerCpuSec: 60000 }), row('06-reactor-pool', 'keepalive', { requestsPerServerCpuSec: 120000 })],
    });
    expect(md).toContain("## Step 06's targets");
    expect(md).toContain('| keep-alive: req per server-CPU-s vs node:http | ×2.00 (120,000 vs 60,000 req/CPU-s) | ≥ ×1.50 | PASS |');
    expect(md).toMatch(/pipelined 16 deep .* \| UNMEASURED \|/);
    expect(renderMarkdown(report)).not.toContain("Step 06's targets");
  });
});

describe('writeReport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the JSON, the Markdown next to it, and one SVG per scenario', () => {
    const out = join(dir, 'nested', 'r.json');
    const written = writeReport(report, out);
    expect(written.markdown).toBe(join(dir, 'nested', 'r.md'));
    expect(written.charts).toEqual([join(dir, 'nested', 'r-keepalive.svg'), join(dir, 'nested', 'r-churn.svg')]);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
    expect(readFileSync(written.markdown, 'utf8')).toBe(renderMarkdown(report, 'r'));
    expect(readFileSync(written.markdown, 'utf8')).toContain('](r-keepalive.svg)');
    expect(readFileSync(written.charts[0]!, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  });

  it('names charts after the report, so two reports in one folder keep their own', () => {
    const a = writeReport(report, join(dir, 'a.json'));
    const b = writeReport(report, join(dir, 'b.json'));
    expect(new Set([...a.charts, ...b.charts]).size).toBe(a.charts.length + b.charts.length);
  });

  it('never lets the Markdown overwrite an --out that ends in .md', () => {
    const written = writeReport(report, join(dir, 'r.md'));
    expect(written.markdown).toBe(join(dir, 'r.md.md'));
    expect(JSON.parse(readFileSync(join(dir, 'r.md'), 'utf8')).date).toBe(report.date);
  });
});
