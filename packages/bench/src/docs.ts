/**
 * The docs' copies of the results, refreshed from a report instead of by hand. A Markdown file
 * marks what the bench owns with comment pairs, and everything between them is rewritten:
 *
 *   <!-- bench:table SCENARIO [models=a,b:mode] -->   a scenario's table, optionally some rows only:
 *   <!-- /bench:table -->                             a model (every mode of it) or model:mode
 *   <!-- bench:chart SCENARIO -->                     the scenario's SVG chart, as an image
 *   <!-- /bench:chart -->                             next to the report
 *   <!-- bench:verdicts -->                           step 06's targets
 *   <!-- /bench:verdicts -->
 *   <!-- bench:source -->                             the line naming command, date, machine and
 *   <!-- /bench:source -->                            engine, linking the full report
 *   <!-- bench:report -->                             the whole report, headings one level down
 *   <!-- /bench:report -->
 *   <!-- bench:ceilings -->                           every engine's ceiling against the canned server
 *   <!-- /bench:ceilings -->
 *   <!-- bench:curve -->                              the latency-vs-offered-load table and chart
 *   <!-- /bench:curve -->
 *
 * In a mode, spaces are written as dashes (`06-reactor-pool:fib-inline`). Markers inside fenced
 * code are examples and stay as they are. Pure: `refreshText` maps text to text; refresh.ts does
 * the I/O.
 */
import { ceilingTable } from './ceiling.js';
import { curveTable } from './latency-curve.js';
import { describePinning } from './machine.js';
import { mergedText } from './repeat.js';
import { MODELS } from './plan.js';
import { chartFileName, markdownTable, renderMarkdown, rowsOf, verdictCells } from './report.js';
import { headlineFor } from './table.js';
import { SCENARIOS, type Report, type ScenarioName } from './types.js';
import { herdLegend, targetVerdicts } from './verdicts.js';

const BLOCK = /<!-- bench:(table|chart|verdicts|source|report|ceilings|curve)((?: [^>]*?)?) -->\n[\s\S]*?<!-- \/bench:\1 -->/g;

/** The provenance line under a copied block. `reportLink` is the Markdown report, relative to the doc. */
export function provenance(report: Report, reportLink: string): string {
  const m = report.machine;
  const s = report.settings;
  return `<sub>Measured with \`${report.command}\` (engine ${report.engine.name}) on ${report.date.slice(0, 10)}${mergedText(report)}: ${m.cores} cores (${m.cpuModel}), ` +
    `Node ${m.node}, ${m.platform}; ${describePinning(m)}; ${s.warmupS} s warm-up, then ${s.durationS} s of load per run on \`${s.benchFile}\` ` +
    `(${s.benchFileBytes} bytes). Repeated runs on a shared machine differ: compare rows of one table. ` +
    `Full report: [${reportLink.replace(/^(\.\.\/)+/, '')}](${reportLink}).</sub>`;
}

/** Whether a row is named by a `models=` list: `model` takes every mode, `model:mode` one. */
function named(list: readonly string[], model: string, mode: string): boolean {
  return list.some((w) => w === model || w === `${model}:${mode.replace(/ /g, '-')}`);
}

/** One block's new body, or an error message naming what is wrong with its marker. */
function render(kind: string, args: string, report: Report, reportLink: string): string {
  const words = args.trim().split(/\s+/).filter(Boolean);
  if (kind === 'report') {
    // The report's own H1 is dropped and its headings moved one level down; its links are relative to the report.
    const dir = reportLink.includes('/') ? reportLink.slice(0, reportLink.lastIndexOf('/') + 1) : '';
    return renderMarkdown(report, 'latest').split('\n').slice(1).join('\n').trim()
      .replace(/^(#+) /gm, '$1# ')
      .replace(/\]\(((?!https?:|\/|#)[^)]+)\)/g, `](${dir}$1)`);
  }
  if (kind === 'source') return provenance(report, reportLink);
  if (kind === 'ceilings') {
    if (!report.ceilings?.length) throw new Error('the report has no engine ceilings (it ran with --ceiling 0)');
    return ceilingTable(report.ceilings, report.engine.name);
  }
  if (kind === 'curve') {
    if (!report.curve?.length) throw new Error('the report has no latency curve (run with --engine reactor)');
    const dir = reportLink.includes('/') ? reportLink.slice(0, reportLink.lastIndexOf('/') + 1) : '';
    const name = reportLink.slice(dir.length).replace(/\.md$/, '');
    return [curveTable(report.curve), '', `![latency vs offered load, open loop](${dir}${name}-latency-curve.svg)`].join('\n');
  }
  if (kind === 'verdicts') {
    const v = targetVerdicts(report.rows);
    if (v.length === 0) throw new Error('the report has no step 06 targets (run keepalive, burst or idle-10k with 06)');
    const t = verdictCells(v);
    return [`| ${t.header.join(' | ')} |`, `| ${t.header.map(() => '---').join(' | ')} |`, ...t.rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  }
  const scenario = SCENARIOS.find((s) => s === words[0]) as ScenarioName | undefined;
  if (!scenario) throw new Error(`bench:${kind} needs a scenario (${SCENARIOS.join(', ')}), got "${words[0] ?? ''}"`);
  if (kind === 'chart') {
    // The chart is written next to the report under the report's name (report.ts).
    const all = rowsOf(report, scenario);
    if (all.length === 0) throw new Error(`the report has no ${scenario} rows`);
    const dir = reportLink.includes('/') ? reportLink.slice(0, reportLink.lastIndexOf('/') + 1) : '';
    const name = reportLink.slice(dir.length).replace(/\.md$/, '');
    return `![${scenario}: ${headlineFor(scenario, all).label}](${dir}${chartFileName(name, scenario)})`;
  }
  const models = words.find((w) => w.startsWith('models='))?.slice('models='.length).split(',');
  for (const m of models ?? []) if (!(MODELS as readonly string[]).includes(m.split(':')[0]!)) throw new Error(`bench:table ${scenario}: unknown model "${m}"`);
  const rows = report.rows.filter((r) => r.scenario === scenario && (!models || named(models, r.model, r.mode)));
  if (rows.length === 0) throw new Error(`the report has no ${scenario} rows${models ? ` for ${models.join(', ')}` : ''}`);
  const notes = scenario === 'herd' ? herdLegend(rows) : [];
  return [markdownTable(scenario, rows), ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : [])].join('\n');
}

/** Whether `offset` lies inside a fenced code block (``` or ~~~): markers shown as examples there stay as they are. */
function insideFence(text: string, offset: number): boolean {
  return text.slice(0, offset).split('\n').filter((l) => /^\s{0,3}(```|~~~)/.test(l)).length % 2 === 1;
}

/** `text` with every bench block rewritten from `report`; problems name the line of a bad marker. Pure. */
export function refreshText(text: string, report: Report, reportLink: string): { text: string; blocks: number; problems: string[] } {
  let blocks = 0;
  const problems: string[] = [];
  const out = text.replace(BLOCK, (whole, kind: string, args: string, offset: number) => {
    if (insideFence(text, offset)) return whole;
    try {
      const body = render(kind, args, report, reportLink);
      blocks++;
      return `<!-- bench:${kind}${args} -->\n${body}\n<!-- /bench:${kind} -->`;
    } catch (err) {
      problems.push(`line ${text.slice(0, offset).split('\n').length}: ${(err as Error).message}`);
      return whole;
    }
  });
  return { text: out, blocks, problems };
}
