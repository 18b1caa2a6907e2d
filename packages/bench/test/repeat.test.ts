import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/options.js';
import { medianRows, mergeProblem, mergeReports, mergedText } from '../src/repeat.js';
import { provenance } from '../src/docs.js';
import { reportOf, row } from './rows.js';

const unit = () => 'req/s';

describe('medianRows', () => {
  it('keeps each mode\'s median round, in the order modes first ran, with every round noted', () => {
    const rounds = [
      row('node-http', 'keepalive', { requestsPerSec: 300 }), row('05-epoll-native', 'keepalive', { requestsPerSec: 9 }),
      row('node-http', 'keepalive', { requestsPerSec: 100 }), row('05-epoll-native', 'keepalive', { requestsPerSec: 7 }),
      row('node-http', 'keepalive', { requestsPerSec: 200 }), row('05-epoll-native', 'keepalive', { requestsPerSec: 8 }),
    ];
    const kept = medianRows(rounds, unit);
    expect(kept.map((r) => [r.model, r.requestsPerSec])).toEqual([['node-http', 200], ['05-epoll-native', 8]]);
    expect(kept[0]!.repeats).toEqual([100, 200, 300]);
    expect(kept[0]!.notes.at(-1)).toBe('median of 3 rounds: 100, 200, 300 req/s');
  });

  it('takes the lower middle of an even count, and tells modes apart by their flags', () => {
    const rounds = [
      row('05-epoll-native', 'keepalive', { args: ['--mode', 'lt'], requestsPerSec: 40 }), row('05-epoll-native', 'keepalive', { args: ['--mode', 'et'], requestsPerSec: 1 }),
      row('05-epoll-native', 'keepalive', { args: ['--mode', 'lt'], requestsPerSec: 10 }), row('05-epoll-native', 'keepalive', { args: ['--mode', 'et'], requestsPerSec: 2 }),
    ];
    const kept = medianRows(rounds, unit);
    expect(kept.map((r) => r.requestsPerSec)).toEqual([10, 1]);
  });

  it('leaves out the rounds that measured nothing, and says so; keeps the first when none did', () => {
    const some = medianRows([row('node-http', 'keepalive', { status: 'collapsed', reason: 'x' }), row('node-http', 'keepalive', { requestsPerSec: 5 })], unit);
    expect(some[0]!.requestsPerSec).toBe(5);
    expect(some[0]!.notes.at(-1)).toBe('median of 1 rounds (1 more measured nothing): 5.00 req/s');
    const none = medianRows([row('node-http', 'keepalive', { status: 'collapsed', reason: 'first' }), row('node-http', 'keepalive', { status: 'collapsed', reason: 'second' })], unit);
    expect(none).toHaveLength(1);
    expect(none[0]!.reason).toBe('first');
    expect(none[0]!.notes.at(-1)).toBe('none of 2 rounds measured it');
  });

  it('passes a single round through untouched', () => {
    const one = row('node-http', 'keepalive', { requestsPerSec: 5 });
    expect(medianRows([one], unit)).toEqual([one]);
  });
});

describe('mergeReports', () => {
  const base = reportOf([
    row('node-http', 'keepalive', { requestsPerSec: 1 }), row('05-epoll-native', 'keepalive', { requestsPerSec: 2 }),
    row('node-http', 'churn', { requestsPerSec: 3 }), row('05-epoll-native', 'churn', { requestsPerSec: 4 }),
  ]);

  it('replaces a re-run scenario\'s whole table and keeps every other scenario', () => {
    const update = reportOf([row('05-epoll-native', 'keepalive', { requestsPerSec: 20 })], { command: 'pnpm bench --models 05 --scenario keepalive --merge', date: '2026-02-02T00:00:00.000Z' });
    const m = mergeReports(base, update);
    // node-http's keepalive row is gone: a table never holds rows of two runs.
    expect(m.rows.map((r) => `${r.scenario} ${r.model} ${r.requestsPerSec}`)).toEqual([
      'keepalive 05-epoll-native 20', 'churn node-http 3', 'churn 05-epoll-native 4',
    ]);
    expect(m.command).toBe(base.command);
    expect(m.merged).toEqual([{ command: update.command, date: update.date, scenarios: ['keepalive'] }]);
    expect(mergedText(m)).toBe('; keepalive re-run with `pnpm bench --models 05 --scenario keepalive --merge` on 2026-02-02');
    expect(provenance(m, 'bench/latest.md')).toContain('on 2026-01-01; keepalive re-run with `pnpm bench --models 05 --scenario keepalive --merge` on 2026-02-02:');
  });

  it('names each earlier re-run only for the scenarios no later re-run replaced', () => {
    const first = mergeReports(base, reportOf([row('node-http', 'keepalive'), row('node-http', 'churn')], { command: 'first', date: '2026-02-02T00:00:00.000Z' }));
    const second = mergeReports(first, reportOf([row('node-http', 'churn')], { command: 'second', date: '2026-02-03T00:00:00.000Z' }));
    expect(second.merged!.map((p) => `${p.command}: ${p.scenarios.join(',')}`)).toEqual(['first: keepalive', 'second: churn']);
    const third = mergeReports(second, reportOf([row('node-http', 'keepalive')], { command: 'third', date: '2026-02-04T00:00:00.000Z' }));
    expect(third.merged!.map((p) => p.command)).toEqual(['second', 'third']); // "first" made no table any more
  });

  it('adds scenarios the report did not have, after its own', () => {
    const update = reportOf([row('node-http', 'ws-echo', { requestsPerSec: 8 })]);
    const m = mergeReports(base, update);
    expect(m.scenarios).toEqual(['keepalive', 'churn', 'ws-echo']);
    expect(m.rows.map((r) => `${r.scenario} ${r.model}`)).toEqual([
      'keepalive node-http', 'keepalive 05-epoll-native', 'churn node-http', 'churn 05-epoll-native', 'ws-echo node-http',
    ]);
  });

  it('refuses another engine or another duration, naming the flag to pass', () => {
    expect(mergeProblem(base, 'wrk', 5)).toMatch(/--engine autocannon/);
    expect(mergeProblem(base, 'autocannon', 2)).toMatch(/--duration 5/);
    expect(mergeProblem(base, 'autocannon', 5)).toBeNull();
    expect(() => mergeReports(base, reportOf([], { engine: { name: 'wrk', description: '' } }))).toThrow(/--merge: .*--engine autocannon/);
  });
});

describe('--repeat and --merge flags', () => {
  const parse = (...argv: string[]) => parseOptions(argv, { out: '/tmp/out.json', root: '/site' });
  it('reads them, defaulting to one round and a new report', () => {
    expect(parse()).toMatchObject({ repeat: 1, merge: false });
    expect(parse('--repeat', '5', '--merge', '--scenario', 'ws-echo')).toMatchObject({ repeat: 5, merge: true, scenarios: ['ws-echo'] });
  });
  it('names the flag when a value is wrong', () => {
    expect(() => parse('--repeat', '0')).toThrow(UsageError);
    expect(() => parse('--repeat', '21')).toThrow(/--repeat expects rounds, an integer from 1 to 20, got "21"/);
    expect(() => parse('--merge=yes')).toThrow(/--merge takes no value/);
  });
});
