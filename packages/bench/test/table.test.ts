import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { flagsLine, footnotes, headline, headlineFor, ratioText, ratioToBaseline, renderTable, tableCells } from '../src/table.js';
import { keepaliveRows, row } from './rows.js';

describe('tableCells', () => {
  const rows = keepaliveRows();
  const { header, body } = tableCells('keepalive', rows);
  const col = (name: string) => header.indexOf(name);

  it('has a header and one line per row, labelled by model and mode', () => {
    expect(header).toEqual(['model', 'req/s', 'req/CPU-s', 'p50 ms', 'p99 ms', 'errors', 'peak RSS MiB', 'vs node-http']);
    expect(body.map((r) => r[0]!.text)).toEqual(['node-http', '05-epoll-native', '01-blocking', '02-fork (prefork)']);
  });

  it('marks the best value of each column among rows that are ok', () => {
    const epoll = body[1]!;
    expect(epoll[col('req/s')]).toMatchObject({ text: '80,000', best: true });
    expect(epoll[col('p99 ms')]).toMatchObject({ text: '3.00', best: true });
    expect(epoll[col('peak RSS MiB')]).toMatchObject({ text: '55', best: true });
    expect(body[0]![col('req/s')]!.best).toBe(false);
    // 01 collapsed with 50 MiB: smaller, but a collapsed row is never "best"
    expect(body[2]![col('peak RSS MiB')]).toMatchObject({ text: '50', best: false });
    // every row has 0 errors: a tie everywhere is not highlighted
    expect(body.some((r) => r[col('errors')]!.best)).toBe(false);
  });

  it('never calls a row with errors best: its latencies cover only the requests it served', () => {
    const starved = row('01-blocking', 'keepalive', { requestsPerSec: 8000, latencyP50Ms: 0.04, latencyP99Ms: 1, errors: 98, timeouts: 98 });
    const cells = tableCells('keepalive', [...rows, starved]).body[4]!;
    expect(cells[col('p50 ms')]).toMatchObject({ text: '0.04', best: false });
    expect(tableCells('keepalive', [...rows, starved]).body[1]![col('p50 ms')]).toMatchObject({ text: '0.50', best: true });
  });

  it('shows a status word instead of numbers for rows that did not run', () => {
    expect(body[2]![1]).toMatchObject({ text: 'collapsed', status: true });
    expect(body[2]![col('errors')]!.text).toBe('50'); // what a collapse looked like is kept
    expect(body[3]![1]).toMatchObject({ text: 'not built', status: true });
    expect(body[3]!.slice(2).every((c) => c.text === '—')).toBe(true);
  });

  it('divides each headline by node-http\'s', () => {
    expect(body[1]![col('vs node-http')]!.text).toBe('×2.00');
    expect(body[0]![col('vs node-http')]!.text).toBe('×1.00');
    expect(ratioToBaseline(rows[2]!, rows)).toBeNull();
  });
});

describe('ratioText', () => {
  it('keeps two decimals, or two significant digits for tiny ratios, and no decimals for huge ones', () => {
    expect(ratioText(2)).toBe('×2.00');
    expect(ratioText(0.123)).toBe('×0.12');
    expect(ratioText(0.0041)).toBe('×0.0041');
    expect(ratioText(776.26)).toBe('×776');
    expect(ratioText(1234)).toBe('×1,234');
  });
});

describe('headline', () => {
  it('is requests/s, PSS per idle connection, or static p99 depending on the scenario', () => {
    expect(headline(row('x', 'churn', { requestsPerSec: 5 }))).toBe(5);
    expect(headline(row('x', 'idle-1k', { idle: { target: 1000, capped: false, held: 1000, rssPerConnectionKb: 9, pssPerConnectionKb: 4, freshRequest: 'ok', freshMs: 1, closedByServer: 0 } }))).toBe(4);
    expect(headline(row('x', 'cpu-task', { latencyP99Ms: 13, requestsPerSec: 100 }))).toBe(13);
    expect(headline(row('x', 'churn', { status: 'collapsed', requestsPerSec: 0 }))).toBeNull();
  });
});

describe('renderTable', () => {
  it('prints title, aligned columns, footnotes and flags; plain without colour', () => {
    const text = renderTable('keepalive', keepaliveRows(), new Chalk({ level: 0 }));
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^keep-alive: 50 connections/);
    expect(lines[1]).toMatch(/^model\s+req\/s\s+req\/CPU-s/);
    expect(lines[3]).toMatch(/^05-epoll-native\s+80,000\s+150,000\s+0\.50\s+3\.00\s+0\s+55\s+×2\.00$/);
    // every data line is as wide as the header: columns line up
    expect(new Set(lines.slice(1, 6).map((l) => l.length)).size).toBe(1);
    expect(text).toContain('01-blocking: collapsed — 0 responses in 5 s');
    expect(text).toContain('flags: 05-epoll-native --mode lt');
  });

  it('highlights the best values in colour', () => {
    const text = renderTable('keepalive', keepaliveRows(), new Chalk({ level: 1 }));
    expect(text).toContain('\u001b[32m'); // green
    expect(text).toMatch(/\u001b\[1m\u001b\[32m\s*80,000/);
  });
});

describe('footnotes and flags', () => {
  it('lists reasons and notes per row', () => {
    const rows = [row('a', 'churn', { notes: ['one', 'two'] }), row('b', 'churn', { status: 'failed', reason: 'no banner' })];
    expect(footnotes(rows)).toEqual(['a: one', 'a: two', 'b: failed — no banner']);
  });

  it('shortens absolute paths to the repository part', () => {
    const rows = [row('06-reactor-pool', 'cpu-task', { mode: 'fib inline', args: ['--app', '/home/me/course/packages/bench/dist/apps/fib-inline.js'] })];
    expect(flagsLine(rows)).toBe('flags: 06-reactor-pool (fib inline) --app packages/bench/dist/apps/fib-inline.js');
    expect(flagsLine([row('node-http', 'churn')])).toBe('flags: defaults');
  });
});

describe('the ratio column', () => {
  it('names what it divides: a p99 ratio, a memory ratio, or a throughput ratio', () => {
    expect(tableCells('cpu-task', [row('node-http', 'cpu-task')]).header.at(-1)).toBe('p99 vs node-http');
    expect(tableCells('idle-1k', [row('node-http', 'idle-1k')]).header.at(-1)).toBe('PSS/conn vs node-http');
    expect(tableCells('churn', [row('node-http', 'churn')]).header.at(-1)).toBe('vs node-http');
  });
});

describe('headlineFor (the client-bound rule)', () => {
  it('keeps req/s while no load generator was saturated', () => {
    const h = headlineFor('keepalive', keepaliveRows());
    expect([h.unit, h.clientBound]).toEqual(['req/s', 0]);
    expect(tableCells('keepalive', keepaliveRows()).header.at(-1)).toBe('vs node-http');
  });

  it('switches the ratio of every row to req/CPU-s when one row was client-bound, and names it in the header', () => {
    const rows = keepaliveRows();
    rows[0] = { ...rows[0]!, clientBound: true };
    expect(headlineFor('keepalive', rows).unit).toBe('req/CPU-s');
    expect(ratioToBaseline(rows[1]!, rows)).toBe(2.5); // 150,000 / 60,000, not 80,000 / 40,000
    expect(tableCells('keepalive', rows).header.at(-1)).toBe('vs node-http (req/CPU-s)');
  });

  it('never applies to scenarios not judged by throughput', () => {
    const rows = [row('node-http', 'cpu-task', { clientBound: true, latencyP99Ms: 10 })];
    expect(headlineFor('cpu-task', rows).unit).toBe('ms');
  });
});

describe('the accept table', () => {
  it('shows each mode\'s connections per reactor as "a / b", its wake-ups per accept and the herd\'s empty wake-ups', () => {
    const rows = [
      row('06-reactor-pool', 'accept', { mode: 'exclusive', requestsPerSec: 9000, requestsPerServerCpuSec: 11000, accept: { perReactor: [600, 401], wakeupsPerAccept: 0.62, emptyWakeups: 5 } }),
      row('06-reactor-pool', 'accept', { mode: 'shared', requestsPerSec: 8800, requestsPerServerCpuSec: 10500, accept: { perReactor: [501, 500], wakeupsPerAccept: 0.6, emptyWakeups: 33 } }),
    ];
    const t = tableCells('accept', rows);
    expect(t.header).toEqual(['model', 'req/s', 'req/CPU-s', 'p99 ms', 'errors', 'accepted per reactor', 'wake-ups/accept', 'empty wake-ups']);
    expect(t.body.map((r) => r.map((c) => c.text))).toEqual([
      ['06-reactor-pool (exclusive)', '9,000', '11,000', '—', '0', '600 / 401', '0.62', '5'],
      ['06-reactor-pool (shared)', '8,800', '10,500', '—', '0', '501 / 500', '0.60', '33'],
    ]);
    expect(headline(rows[0]!)).toBe(11000);
  });
});
