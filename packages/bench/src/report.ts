/**
 * Writing the results: the JSON file (--out), a Markdown report next to it (same name, .md) and
 * one SVG bar chart per scenario (<name>-<scenario>.svg in the same folder, named after the report
 * so that two reports in one folder keep their own charts; linked from the Markdown so that
 * GitHub and the docs render it). Rendering is pure; `writeReport` does the I/O.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { ceilingTable } from './ceiling.js';
import { CURVE_TITLE, curveTable, latencyCurveSvg } from './latency-curve.js';
import { describePinning } from './machine.js';
import { C10K_IDLE, SCENARIO_SPECS, modeLabel } from './plan.js';
import { barChartSvg, lineChartSvg, type Chart, type LineChart } from './svg.js';
import { flagsLine, footnotes, headlineFor, tableCells } from './table.js';
import { mergedText } from './repeat.js';
import { herdLegend, targetVerdicts, type Verdict } from './verdicts.js';
import type { Report, Row, ScenarioName } from './types.js';

/** The rows of one scenario, in run order. */
export function rowsOf(report: Report, scenario: ScenarioName): Row[] {
  return report.rows.filter((r) => r.scenario === scenario);
}

export function chartFor(scenario: ScenarioName, rows: readonly Row[]): Chart {
  const spec = SCENARIO_SPECS[scenario];
  const h = headlineFor(scenario, rows);
  const why = h.unit === 'req/CPU-s' ? ` — the load generator was saturated in ${h.clientBound} row${h.clientBound === 1 ? '' : 's'}, so not req/s` : '';
  return {
    title: `${scenario}: ${h.label} (${h.better} is better)${why}`,
    subtitle: spec.title,
    better: h.better,
    format: (n) => (h.unit.startsWith('req/') ? `${Math.round(n).toLocaleString('en-US')} ${h.unit}` : `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ${h.unit}`),
    bars: rows.map((r) => ({
      label: modeLabel(r.model, r.mode),
      value: h.value(r),
      note: r.status === 'ok' ? 'no value' : r.status,
      baseline: r.model === 'node-http',
    })),
  };
}

/**
 * The C10K curve: requests per server-CPU-second against the idle connections held, one line per
 * loop (its series), a gap where a point was not measured.
 */
export function c10kChart(rows: readonly Row[]): LineChart {
  const series = [...new Set(rows.map((r) => r.c10k?.series).filter((s): s is string => s !== undefined))];
  return {
    title: 'c10k: requests per server-CPU-second against idle connections held (higher is better)',
    subtitle: SCENARIO_SPECS.c10k.title,
    xs: C10K_IDLE.map((n) => n.toLocaleString('en-US')),
    xLabel: 'idle keep-alive connections held (N)',
    yLabel: 'req/CPU-s',
    format: (n) => Math.round(n).toLocaleString('en-US'),
    series: series.map((label) => ({
      label,
      values: C10K_IDLE.map((n) => {
        const r = rows.find((row) => row.c10k?.series === label && row.c10k.idle === n);
        return r && r.status === 'ok' ? r.requestsPerServerCpuSec : null;
      }),
    })),
  };
}

/** A scenario's chart: c10k's curve, every other scenario's bars. */
export function chartSvg(scenario: ScenarioName, rows: readonly Row[]): string {
  return scenario === 'c10k' ? lineChartSvg(c10kChart(rows)) : barChartSvg(chartFor(scenario, rows));
}

/** File name of a scenario's chart, relative to the report named `report` (e.g. `latest`). */
export function chartFileName(report: string, scenario: ScenarioName): string {
  return `${report}-${scenario}.svg`;
}

/** The verdicts as a table: target, measured, required, verdict. Pure. */
export function verdictCells(verdicts: readonly Verdict[]): { header: string[]; rows: string[][] } {
  return { header: ['target', 'measured', 'required', 'verdict'], rows: verdicts.map((v) => [v.target, v.measured, v.required, v.verdict]) };
}

/** A scenario's table as Markdown: best values bold, status words italic. Pure. */
export function markdownTable(scenario: ScenarioName, rows: readonly Row[]): string {
  const { header, body } = tableCells(scenario, rows);
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.map((cells) => `| ${cells.map((c) => (c.best ? `**${esc(c.text)}**` : c.status ? `*${esc(c.text)}*` : esc(c.text))).join(' | ')} |`),
  ];
  return lines.join('\n');
}

export function renderMarkdown(report: Report, name = 'latest'): string {
  const m = report.machine;
  const s = report.settings;
  const out = [
    '# Benchmark results',
    '',
    `\`${report.command}\` on ${report.date}${mergedText(report)}: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, ${m.platform}.`,
    `${describePinning(m)}. Load generator: ${report.engine.name} (${report.engine.description}).`,
    ...(report.ceilings?.length ? ['', 'Engine ceilings, measured first (each engine against the canned server, keep-alive, on the client core): a row near its engine\'s figure measured the engine, not the server.', '', ceilingTable(report.ceilings, report.engine.name), ''] : []),
    ...(s.rateRps ? [`Open loop: ${s.rateRps} requests/s offered in all, each timed from when it was due (wrk2 style).`] : []),
    `Each run: ${s.warmupS} s warm-up, then ${s.durationS} s of load on \`${s.benchFile}\` (${s.benchFileBytes} bytes). ` +
      'Server CPU is the whole process tree (threads and children) from /proc; requests per CPU-second = responses ÷ server CPU seconds. ' +
      'Best values in **bold**; "vs node-http" divides each row\'s headline number by node:http\'s — requests per server-CPU-second ' +
      'instead of requests per second in a scenario where the load generator saturated its core in any row (the column header says so). ' +
      'Peak RSS sums the processes of the tree, so pages forked children share count once per process; idle-1k\'s PSS column splits them fairly.',
    '',
  ];
  for (const scenario of report.scenarios) {
    const rows = rowsOf(report, scenario);
    if (rows.length === 0) continue;
    out.push(`## ${scenario}`, '', SCENARIO_SPECS[scenario].title + '.', '', markdownTable(scenario, rows), '');
    const notes = footnotes(rows);
    if (notes.length) out.push(...notes.map((n) => `- ${n}`), '');
    if (scenario === 'herd') out.push(...herdLegend(rows).map((n) => `- ${n}`), '');
    out.push(`${flagsLine(rows)}`, '', `![${scenario}: ${headlineFor(scenario, rows).label}](${chartFileName(name, scenario)})`, '');
  }
  if (report.curve && report.curve.length > 0) {
    out.push('## latency-curve', '', CURVE_TITLE + '.', '', curveTable(report.curve), '', `![latency vs offered load](${name}-latency-curve.svg)`, '');
  }
  const verdicts = targetVerdicts(report.rows);
  if (verdicts.length > 0) {
    const t = verdictCells(verdicts);
    out.push("## Step 06's targets", '', `| ${t.header.join(' | ')} |`, `| ${t.header.map(() => '---').join(' | ')} |`, ...t.rows.map((r) => `| ${r.join(' | ')} |`), '');
    for (const v of verdicts) if (v.why) out.push(`- ${v.target}: ${v.verdict} — ${v.why}`);
    out.push('');
  }
  return out.join('\n');
}

/** Write JSON, Markdown and charts; returns the paths written. */
export function writeReport(report: Report, outPath: string): { json: string; markdown: string; charts: string[] } {
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, JSON.stringify(report, null, 2) + '\n');
  return { json: outPath, ...renderReportFiles(report, outPath) };
}

/**
 * The Markdown report and the SVG charts of the JSON report at `outPath`, written next to it:
 * also after the fact (refresh-docs), so that they follow the renderer, not only the run.
 */
export function renderReportFiles(report: Report, outPath: string): { markdown: string; charts: string[] } {
  const dir = dirname(outPath);
  const name = basename(outPath, extname(outPath));
  let markdown = join(dir, name + '.md');
  if (markdown === join(dir, basename(outPath))) markdown = outPath + '.md'; // --out x.md must not overwrite itself
  writeFileSync(markdown, renderMarkdown(report, name));
  const charts: string[] = [];
  for (const scenario of report.scenarios) {
    const rows = rowsOf(report, scenario);
    if (rows.length === 0) continue;
    const file = join(dir, chartFileName(name, scenario));
    writeFileSync(file, chartSvg(scenario, rows));
    charts.push(file);
  }
  if (report.curve && report.curve.length > 0) {
    const file = join(dir, `${name}-latency-curve.svg`);
    writeFileSync(file, latencyCurveSvg(report.curve));
    charts.push(file);
  }
  return { markdown, charts };
}
