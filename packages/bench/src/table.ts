/**
 * Turning rows into tables: which columns each scenario shows, which value is best, the ratio to
 * node-http — shared by the terminal (chalk) and the Markdown report. Pure functions.
 */
import type { ChalkInstance } from 'chalk';
import { SCENARIO_SPECS, modeLabel } from './plan.js';
import type { Row, ScenarioName } from './types.js';
import { herdLegend, type Verdict } from './verdicts.js';

/** One column: how to read it from a row, print it, and which way is better (for highlighting). */
export interface Column {
  header: string;
  value(row: Row): number | null;
  format(n: number): string;
  better?: 'higher' | 'lower';
  /** A cell that is not one number (accept's "512 / 488"): shown as is, never marked best. */
  text?(row: Row): string | null;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const mib = (kb: number) => (kb / 1024).toFixed(kb < 10 * 1024 ? 1 : 0);
const kib = (n: number) => (n < 100 ? n.toFixed(1) : int(n));
const percent = (f: number) => `${Math.round(f * 100)} %`;
/** ×2.00, ×0.0041, ×776: two decimals where they matter, two significant digits below 0.1. */
export const ratioText = (n: number) => `×${n >= 100 ? int(n) : n >= 0.1 || n === 0 ? n.toFixed(2) : n.toPrecision(2)}`;

/** The number a scenario is judged by, before the client-bound rule: what its spec names. */
export function headline(row: Row): number | null {
  if (row.status !== 'ok') return null;
  switch (row.scenario) {
    case 'idle-1k':
    case 'idle-10k': return row.idle?.pssPerConnectionKb ?? row.idle?.rssPerConnectionKb ?? null;
    case 'cpu-task': return row.latencyP99Ms;
    case 'herd': return row.herd?.wakeupsPerConnection ?? null;
    case 'c10k':
    case 'accept':
    case 'framed-echo':
    case 'ws-echo': return row.requestsPerServerCpuSec;
    case 'ws-broadcast': return row.ws?.cpuMsPerBroadcast?.median ?? null;
    case 'ws-idle-10k': return row.ws?.rssPerConnectionKb ?? null;
    default: return row.requestsPerSec;
  }
}

/** Scenarios judged by requests per second, where a saturated load generator caps the figure. */
const THROUGHPUT: readonly ScenarioName[] = ['keepalive', 'pipelined', 'burst', 'churn', 'slow-client', 'accept'];

/** What a scenario's chart draws and its "vs node-http" column divides, for these rows. */
export interface Headline {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  value(row: Row): number | null;
  /** Rows whose load generator was saturated: when any is, req/s measured the client, so the headline is req/CPU-s. */
  clientBound: number;
}

/**
 * The headline of a scenario: its spec's number — unless a load generator was client-bound in any
 * of its rows. Then requests per second measure the client (equal bars for unequal servers), so
 * the chart and the ratio use requests per server-CPU-second for every row, and say so.
 */
export function headlineFor(scenario: ScenarioName, rows: readonly Row[]): Headline {
  const spec = SCENARIO_SPECS[scenario].headline;
  const clientBound = rows.filter((r) => r.status === 'ok' && r.clientBound).length;
  if (THROUGHPUT.includes(scenario) && clientBound > 0) {
    return {
      label: 'requests per server-CPU-second', unit: 'req/CPU-s', better: 'higher', clientBound,
      value: (r) => (r.status === 'ok' ? r.requestsPerServerCpuSec : null),
    };
  }
  return { ...spec, value: headline, clientBound };
}

/** The node-http row of a scenario, if it ran and was measured. */
export function baselineOf(rows: readonly Row[]): Row | undefined {
  return rows.find((r) => r.model === 'node-http' && r.status === 'ok');
}

/** Headline of `row` divided by node-http's: ×2.00 means twice node-http's requests/s (or req/CPU-s, memory, latency). */
export function ratioToBaseline(row: Row, rows: readonly Row[]): number | null {
  const h = headlineFor(row.scenario, rows);
  const base = baselineOf(rows);
  const a = h.value(row);
  const b = base ? h.value(base) : null;
  return a === null || b === null || b === 0 ? null : a / b;
}

/** Responses per system call, or null without a count. Pure. */
export function perCall(responses: number, calls: number | undefined): number | null {
  return calls === undefined || calls === 0 ? null : responses / calls;
}

/** The ratio column's header names what it divides: a p99 ratio is not a throughput ratio. */
function ratioHeader(h: Headline): string {
  switch (h.unit) {
    case 'req/CPU-s': return 'vs node-http (req/CPU-s)';
    case 'ms': return 'p99 vs node-http';
    case 'KiB': return 'PSS/conn vs node-http';
    case 'KiB RSS': return 'RSS/conn vs node-http';
    case 'wake-ups': return 'wake-ups vs node-http';
    case 'msg/CPU-s': return 'msg/CPU-s vs node-http';
    case 'CPU ms': return 'CPU/broadcast vs node-http';
    default: return 'vs node-http';
  }
}

export function columnsFor(scenario: ScenarioName, rows: readonly Row[]): Column[] {
  const h = headlineFor(scenario, rows);
  const ratio: Column = { header: ratioHeader(h), value: (r) => ratioToBaseline(r, rows), format: ratioText };
  const rss: Column = { header: 'peak RSS MiB', value: (r) => r.peakRssKb, format: mib, better: 'lower' };
  const errors: Column = { header: 'errors', value: (r) => (r.status === 'not built' || r.status === 'not available' || r.status === 'failed' ? null : r.errors), format: int, better: 'lower' };
  // Throughput and latency, named for what the scenario counts: requests, or messages.
  const perSec = (unit: string): Column => ({ header: `${unit}/s`, value: (r) => r.requestsPerSec, format: int, better: 'higher' });
  const perCpu = (unit: string): Column => ({ header: `${unit}/CPU-s`, value: (r) => r.requestsPerServerCpuSec, format: int, better: 'higher' });
  const p50: Column = { header: 'p50 ms', value: (r) => r.latencyP50Ms, format: ms, better: 'lower' };
  const p99: Column = { header: 'p99 ms', value: (r) => r.latencyP99Ms, format: ms, better: 'lower' };
  switch (scenario) {
    case 'idle-1k':
    case 'idle-10k':
      return [
        { header: 'held', value: (r) => r.idle?.held ?? null, format: int, better: 'higher' },
        { header: 'KiB/conn PSS', value: (r) => r.idle?.pssPerConnectionKb ?? null, format: kib, better: 'lower' },
        { header: 'KiB/conn RSS', value: (r) => r.idle?.rssPerConnectionKb ?? null, format: kib, better: 'lower' },
        { header: 'fresh ms', value: (r) => r.idle?.freshMs ?? null, format: ms, better: 'lower' },
        errors, rss, ratio,
      ];
    case 'herd':
      return [
        { header: 'members', value: (r) => r.herd?.members ?? null, format: int },
        { header: 'wake-ups/conn', value: (r) => r.herd?.wakeupsPerConnection ?? null, format: (n) => n.toFixed(2) },
        { header: 'served', value: (r) => (r.status === 'ok' || r.status === 'collapsed' ? r.totalRequests : null), format: int },
        errors,
      ];
    case 'c10k':
      // No node-http row: the curve compares the loops with themselves as N grows.
      return [
        { header: 'idle held', value: (r) => r.c10k?.held ?? null, format: int },
        perSec('req'), perCpu('req'), p99,
        errors, rss,
      ];
    case 'accept':
      // No node-http row: the modes compare with each other.
      return [
        perSec('req'), perCpu('req'), p99,
        errors,
        { header: 'accepted per reactor', value: () => null, format: int, text: (r) => r.accept?.perReactor.map(int).join(' / ') ?? null },
        { header: 'wake-ups/accept', value: (r) => r.accept?.wakeupsPerAccept ?? null, format: (n) => n.toFixed(2) },
        { header: 'empty wake-ups', value: (r) => r.accept?.emptyWakeups ?? null, format: int },
      ];
    case 'framed-echo':
      return [
        { header: 'connections', value: (r) => r.connections, format: int },
        perSec('msg'), perCpu('msg'),
        errors, rss, ratio,
      ];
    case 'ws-echo':
      return [
        { header: 'clients', value: (r) => r.ws?.clients ?? null, format: int },
        perSec('msg'), perCpu('msg'),
        errors, rss, ratio,
      ];
    case 'ws-broadcast':
      return [
        { header: 'clients', value: (r) => r.ws?.clients ?? null, format: int },
        { header: 'CPU ms median', value: (r) => r.ws?.cpuMsPerBroadcast?.median ?? null, format: ms, better: 'lower' },
        { header: 'CPU ms max', value: (r) => r.ws?.cpuMsPerBroadcast?.max ?? null, format: ms, better: 'lower' },
        { header: 'last client ms median', value: (r) => r.ws?.lastClientMs?.median ?? null, format: ms, better: 'lower' },
        { header: 'last client ms max', value: (r) => r.ws?.lastClientMs?.max ?? null, format: ms, better: 'lower' },
        { header: 'in kernel', value: (r) => r.ws?.kernelShare ?? null, format: percent },
        errors, ratio,
      ];
    case 'ws-idle-10k':
      return [
        { header: 'held', value: (r) => r.ws?.clients ?? null, format: int, better: 'higher' },
        { header: 'KiB/conn RSS', value: (r) => r.ws?.rssPerConnectionKb ?? null, format: kib, better: 'lower' },
        { header: 'KiB/conn PSS', value: (r) => r.ws?.pssPerConnectionKb ?? null, format: kib, better: 'lower' },
        errors, rss, ratio,
      ];
    case 'cpu-task':
      return [
        { header: 'static req/s', value: (r) => r.requestsPerSec, format: int, better: 'higher' },
        p50, p99,
        errors,
        { header: 'fib done', value: (r) => r.cpuTask?.fibResponses ?? null, format: int, better: 'higher' },
        ratio,
      ];
    default: {
      const cols: Column[] = [
        perSec('req'), perCpu('req'), p50, p99,
        errors, rss,
      ];
      // Pipelined loads: how many responses one read and one write of the server carried.
      if (scenario === 'pipelined' || scenario === 'burst') {
        cols.push(
          { header: 'resp/read', value: (r) => perCall(r.totalRequests, r.serverReads), format: (n) => n.toFixed(1) },
          { header: 'resp/write', value: (r) => perCall(r.totalRequests, r.serverWrites), format: (n) => n.toFixed(1) },
        );
      }
      return [...cols, ratio];
    }
  }
}

/** One table cell before styling. */
export interface Cell {
  text: string;
  best: boolean;
  /** A status word in place of a number ("collapsed", "not built"). */
  status: boolean;
}

/**
 * Rows that may hold a column's best value: measured, and without errors — a server that left
 * connections waiting has fast latencies only for the few it served.
 */
function eligible(row: Row): boolean {
  return row.status === 'ok' && row.errors === 0;
}

/**
 * The table as text cells: a header row and one row per Row. The best value of each column with a
 * `better` direction is marked, among eligible rows and only where they differ; a row that is not
 * ok shows its status in the first column and its numbers only when they were measured.
 */
export function tableCells(scenario: ScenarioName, rows: readonly Row[]): { header: string[]; body: Cell[][] } {
  const cols = columnsFor(scenario, rows);
  const best = cols.map((c) => {
    if (!c.better) return null;
    const vals = rows.filter(eligible).map((r) => c.value(r)).filter((v): v is number => v !== null);
    const top = c.better === 'higher' ? Math.max(...vals) : Math.min(...vals);
    if (vals.length < 2 || vals.every((v) => v === top)) return null; // nothing to tell apart
    return top;
  });
  const body = rows.map((row) => {
    const cells: Cell[] = [{ text: modeLabel(row.model, row.mode), best: false, status: false }];
    cols.forEach((c, i) => {
      const v = row.status === 'ok' || row.status === 'collapsed' ? c.value(row) : null;
      if (i === 0 && row.status !== 'ok') cells.push({ text: row.status, best: false, status: true });
      else if (c.text) cells.push({ text: (row.status === 'ok' ? c.text(row) : null) ?? '—', best: false, status: false });
      else cells.push({ text: v === null ? '—' : c.format(v), best: v !== null && eligible(row) && v === best[i], status: false });
    });
    return cells;
  });
  return { header: ['model', ...cols.map((c) => c.header)], body };
}

/** Footnotes under a table: each row's reason and notes. */
export function footnotes(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const r of rows) {
    const name = modeLabel(r.model, r.mode);
    if (r.reason) out.push(`${name}: ${r.status} — ${r.reason}`);
    for (const n of r.notes) out.push(`${name}: ${n}`);
  }
  return out;
}

/** The flags each mode ran with, for the record. */
export function flagsLine(rows: readonly Row[]): string {
  // Absolute paths (06's --app) are shown from packages/ on: the rest is this machine's checkout.
  const show = (arg: string) => arg.replace(/^\/.*\/(packages\/)/, '$1');
  const parts = rows.filter((r) => r.args.length > 0).map((r) => `${modeLabel(r.model, r.mode)} ${r.args.map(show).join(' ')}`);
  return parts.length ? `flags: ${parts.join('; ')}` : 'flags: defaults';
}

/** The terminal table: title, aligned columns, best values bold green, footnotes dimmed. */
export function renderTable(scenario: ScenarioName, rows: readonly Row[], c: ChalkInstance): string {
  const { header, body } = tableCells(scenario, rows);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.text.length)));
  const pad = (text: string, i: number) => (i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!));
  const lines = [
    c.bold(SCENARIO_SPECS[scenario].title),
    header.map((h, i) => c.underline(pad(h, i))).join('  '),
    ...body.map((cells) => cells.map((cell, i) => {
      const text = pad(cell.text, i);
      return cell.best ? c.bold.green(text) : cell.status ? c.yellow(text) : text;
    }).join('  ')),
  ];
  const notes = [...footnotes(rows), ...(scenario === 'herd' ? herdLegend(rows) : [])];
  if (notes.length) lines.push(...notes.map((n) => c.dim(`  ${n}`)));
  lines.push(c.dim(`  ${flagsLine(rows)}`));
  return lines.join('\n');
}

/** Step 06's verdicts for the terminal: one line each, the word coloured. */
export function renderVerdicts(verdicts: readonly Verdict[], c: ChalkInstance): string {
  const w = Math.max(...verdicts.map((v) => v.target.length));
  const word = (v: Verdict) => (v.verdict === 'PASS' ? c.bold.green(v.verdict) : v.verdict === 'FAIL' ? c.bold.red(v.verdict) : c.yellow(v.verdict));
  return [
    c.bold("Step 06's targets"),
    ...verdicts.map((v) => `${v.target.padEnd(w)}  ${word(v)}  ${v.measured} (required ${v.required})${v.why ? c.dim(` — ${v.why}`) : ''}`),
  ].join('\n');
}
