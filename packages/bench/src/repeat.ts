/**
 * Repeated runs and merged reports: the two ways the bench fights a noisy machine.
 *
 * `--repeat N` runs every scenario N rounds, its modes interleaved (A B A B ..., not A A B B),
 * so that a slow minute of the machine falls on every mode alike, and keeps for each mode the
 * round with the median headline. The row says so, with the spread of all N.
 *
 * `--merge` re-runs some scenarios into an existing report: their rows replace the old ones (a
 * scenario's whole table), every other scenario stays, and the report lists each command that
 * wrote part of it.
 *
 * Pure functions; cli.ts does the running and the I/O.
 */
import { headline } from './table.js';
import type { Report, Row } from './types.js';

/** Which rows are the same measurement: model, mode and flags. */
export function modeKey(row: Row): string {
  return `${row.model}\u0000${row.mode}\u0000${row.args.join(' ')}`;
}

/**
 * One row per mode from N rounds of a scenario's rows: the round whose headline is the median
 * (the lower middle for an even N), among the rounds that measured something; the first round
 * when none did. Kept in the order of first appearance. The row records every round's
 * headline, sorted (`repeats`), and a note with their range.
 */
export function medianRows(rows: readonly Row[], unit: (row: Row) => string): Row[] {
  const byMode = new Map<string, Row[]>();
  for (const r of rows) {
    const k = modeKey(r);
    const list = byMode.get(k);
    if (list) list.push(r);
    else byMode.set(k, [r]);
  }
  const out: Row[] = [];
  for (const rounds of byMode.values()) {
    if (rounds.length === 1) {
      out.push(rounds[0]!);
      continue;
    }
    const measured = rounds.map((r) => ({ r, v: headline(r) })).filter((x): x is { r: Row; v: number } => x.v !== null).sort((a, b) => a.v - b.v);
    if (measured.length === 0) {
      out.push({ ...rounds[0]!, notes: [...rounds[0]!.notes, `none of ${rounds.length} rounds measured it`] });
      continue;
    }
    const mid = measured[(measured.length - 1) >> 1]!;
    const values = measured.map((x) => x.v);
    const failed = rounds.length - measured.length;
    const fmt = (n: number) => (Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));
    const note = `median of ${measured.length} rounds` + (failed > 0 ? ` (${failed} more measured nothing)` : '') +
      `: ${values.map(fmt).join(', ')} ${unit(mid.r)}`;
    out.push({ ...mid.r, repeats: values, notes: [...mid.r.notes, note] });
  }
  return out;
}

/** The command and scenarios of one part of a merged report. */
export interface ReportPart {
  command: string;
  date: string;
  scenarios: Report['scenarios'];
}

/** Why a run with this engine and duration cannot merge into `base`, or null. */
export function mergeProblem(base: Report, engine: string, durationS: number): string | null {
  if (base.engine.name !== engine) return `the report was written with --engine ${base.engine.name}; this run uses ${engine} (pass --engine ${base.engine.name})`;
  if (base.settings.durationS !== durationS) return `the report ran ${base.settings.durationS} s per run; this run ${durationS} s (pass --duration ${base.settings.durationS})`;
  return null;
}

/**
 * `base` with each scenario `update` ran replaced by `update`'s rows for it — whole: a table
 * never mixes rows of two runs, which the machine's drift would make incomparable (re-run with
 * fewer models, and the table has fewer rows) — and every other scenario kept. Throws when the
 * two cannot share a report: another load engine or another duration per run.
 */
export function mergeReports(base: Report, update: Report): Report {
  const problem = mergeProblem(base, update.engine.name, update.settings.durationS);
  if (problem) throw new Error(`--merge: ${problem}`);
  const rerun = new Set(update.scenarios);
  const scenarios = [...base.scenarios, ...update.scenarios.filter((s) => !base.scenarios.includes(s))];
  const rows = scenarios.flatMap((s) => (rerun.has(s) ? update : base).rows.filter((r) => r.scenario === s));
  // An earlier part keeps only the scenarios this run did not replace: it no longer made the rest.
  const earlier = (base.merged ?? []).map((p) => ({ ...p, scenarios: p.scenarios.filter((s) => !rerun.has(s)) })).filter((p) => p.scenarios.length > 0);
  const parts: ReportPart[] = [...earlier, { command: update.command, date: update.date, scenarios: update.scenarios }];
  return { ...base, scenarios, rows, merged: parts, ...(update.curve ? { curve: update.curve } : {}) };
}

/** `--merge`: which scenarios later commands re-ran, for the provenance lines. */
export function mergedText(report: Report): string {
  return (report.merged ?? []).map((p) => `; ${p.scenarios.join(', ')} re-run with \`${p.command}\` on ${p.date.slice(0, 10)}`).join('');
}
