/**
 * Writing the results: the JSON file (--out), a Markdown report next to it (same name, .md) and
 * one SVG bar chart per scenario (<name>-<scenario>.svg in the same folder, named after the report
 * so that two reports in one folder keep their own charts; linked from the Markdown so that
 * GitHub and the docs render it). Rendering is pure; `writeReport` does the I/O.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { describePinning } from './machine.js';
import { SCENARIO_SPECS, modeLabel } from './plan.js';
import { barChartSvg, type Chart } from './svg.js';
import { flagsLine, footnotes, headline, tableCells } from './table.js';
import type { Report, Row, ScenarioName } from './types.js';

/** The rows of one scenario, in run order. */
export function rowsOf(report: Report, scenario: ScenarioName): Row[] {
  return report.rows.filter((r) => r.scenario === scenario);
}

export function chartFor(scenario: ScenarioName, rows: readonly Row[]): Chart {
  const spec = SCENARIO_SPECS[scenario];
  const unit = spec.headline.unit;
  return {
    title: `${scenario}: ${spec.headline.label} (${spec.headline.better} is better)`,
    subtitle: spec.title,
    better: spec.headline.better,
    format: (n) => (unit === 'req/s' ? `${Math.round(n).toLocaleString('en-US')} ${unit}` : `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ${unit}`),
    bars: rows.map((r) => ({
      label: modeLabel(r.model, r.mode),
      value: headline(r),
      note: r.status === 'ok' ? 'no value' : r.status,
      baseline: r.model === 'node-http',
    })),
  };
}

/** File name of a scenario's chart, relative to the report named `report` (e.g. `latest`). */
export function chartFileName(report: string, scenario: ScenarioName): string {
  return `${report}-${scenario}.svg`;
}

function markdownTable(scenario: ScenarioName, rows: readonly Row[]): string {
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
    `Run on ${report.date}: ${m.cores} cores (${m.cpuModel}), Node ${m.node}, ${m.platform}.`,
    `${describePinning(m)}.`,
    `Each run: ${s.warmupS} s warm-up, then ${s.durationS} s of load on \`${s.benchFile}\` (${s.benchFileBytes} bytes). ` +
      'Server CPU is the whole process tree (threads and children) from /proc; requests per CPU-second = responses ÷ server CPU seconds. ' +
      'Best values in **bold**; "vs node-http" divides each row\'s headline number by node:http\'s. ' +
      'Peak RSS sums the processes of the tree, so pages forked children share count once per process; idle-1k\'s PSS column splits them fairly.',
    '',
  ];
  for (const scenario of report.scenarios) {
    const rows = rowsOf(report, scenario);
    if (rows.length === 0) continue;
    out.push(`## ${scenario}`, '', SCENARIO_SPECS[scenario].title + '.', '', markdownTable(scenario, rows), '');
    const notes = footnotes(rows);
    if (notes.length) out.push(...notes.map((n) => `- ${n}`), '');
    out.push(`${flagsLine(rows)}`, '', `![${scenario}: ${SCENARIO_SPECS[scenario].headline.label}](${chartFileName(name, scenario)})`, '');
  }
  return out.join('\n');
}

/** Write JSON, Markdown and charts; returns the paths written. */
export function writeReport(report: Report, outPath: string): { json: string; markdown: string; charts: string[] } {
  const dir = dirname(outPath);
  mkdirSync(dir, { recursive: true });
  writeFileSync(outPath, JSON.stringify(report, null, 2) + '\n');
  const name = basename(outPath, extname(outPath));
  let markdown = join(dir, name + '.md');
  if (markdown === join(dir, basename(outPath))) markdown = outPath + '.md'; // --out x.md must not overwrite itself
  writeFileSync(markdown, renderMarkdown(report, name));
  const charts: string[] = [];
  for (const scenario of report.scenarios) {
    const rows = rowsOf(report, scenario);
    if (rows.length === 0) continue;
    const file = join(dir, chartFileName(name, scenario));
    writeFileSync(file, barChartSvg(chartFor(scenario, rows)));
    charts.push(file);
  }
  return { json: outPath, markdown, charts };
}
