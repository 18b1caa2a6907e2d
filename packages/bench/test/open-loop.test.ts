import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ceilingOf, ceilingTable, describeCeiling } from '../src/ceiling.js';
import { ENGINES, ENGINE_NAMES } from '../src/engines/index.js';
import { parseOptions, UsageError } from '../src/options.js';
import { renderMarkdown } from '../src/report.js';
import { keepaliveRows, reportOf } from './rows.js';

const parse = (...argv: string[]) => parseOptions(argv, { out: '/tmp/out.json', root: '/site' });
const shape = { connections: 10, depth: 1, pipelining: 'in-flight' as const, churn: false, durationS: 1 };

describe('--engine reactor and --rate', () => {
  it('registers the reactor engine next to autocannon and wrk', () => {
    expect(ENGINE_NAMES).toEqual(['autocannon', 'wrk', 'reactor']);
    expect(parse('--engine', 'reactor').engine).toBe('reactor');
    expect(ENGINES.reactor.name).toBe('reactor');
    expect(ENGINES.reactor.unavailable()).toBeNull();
  });

  it('reads --rate as requests per second, closed loop by default', () => {
    expect(parse().rateRps).toBeNull();
    expect(parse('--rate', '20000').rateRps).toBe(20000);
    expect(parse('--rate=1').rateRps).toBe(1);
  });

  it.each(['0', '-5', '1.5', 'fast', '10000001'])('rejects --rate %s naming the flag', (raw) => {
    expect(() => parse('--rate', raw)).toThrow(UsageError);
    expect(() => parse('--rate', raw)).toThrow(/--rate expects requests per second/);
  });

  it('only the reactor engine takes an open loop; the others say why in the row', () => {
    expect(ENGINES.reactor.cannot({ ...shape, rateRps: 1000 })).toBeNull();
    expect(ENGINES.autocannon.cannot({ ...shape, rateRps: 1000 })).toMatch(/coordinated omission/);
    expect(ENGINES.wrk.cannot({ ...shape, rateRps: 1000 })).toMatch(/wrk2/);
    expect(ENGINES.autocannon.cannot({ ...shape, rateRps: null })).toBeNull();
  });

  it('reads --ceiling seconds, 0 skipping it', () => {
    expect(parse().ceilingS).toBe(2);
    expect(parse('--ceiling', '0').ceilingS).toBe(0);
    expect(parse('--ceiling', '1').ceilingS).toBe(1);
    expect(() => parse('--ceiling', 'x')).toThrow(/--ceiling expects seconds/);
  });

  it('exits 2 with one line naming --rate on a bad rate', () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const r = spawnSync(process.execPath, [cli, '--rate', 'lots'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['bench: --rate expects requests per second, an integer from 1 to 10000000, got "lots"']);
  });
});

describe('the engine ceiling', () => {
  const c = ceilingOf('reactor', 170_000, 2, 1.9, 50);

  it('is responses per second and the engine core share', () => {
    expect(c).toEqual({ engine: 'reactor', requestsPerSec: 85_000, engineCoreShare: 0.95, connections: 50, durationS: 2 });
    expect(ceilingOf('wrk', 0, 0, 0, 50)).toMatchObject({ requestsPerSec: 0, engineCoreShare: 0 });
  });

  it('reads "engine ceiling: N req/s at X% of its core"', () => {
    expect(describeCeiling(c)).toBe('engine ceiling: 85,000 req/s at 95% of its core (reactor, 50 keep-alive connections against the canned server for 2 s)');
  });

  it('heads the Markdown report as a table of every engine, this run\'s marked, and is absent when skipped', () => {
    const ceilings = [ceilingOf('autocannon', 74_000, 2, 1.96, 50), ceilingOf('wrk', 150_000, 2, 1.0, 50), c];
    const md = renderMarkdown(reportOf(keepaliveRows(), { ceilings, engine: { name: 'reactor', description: 'd' } }));
    expect(md).toContain('| autocannon | 37,000 | 98% | ×1.00 |');
    expect(md).toContain('| wrk | 75,000 | 50% | ×2.03 |');
    expect(md).toContain('| **reactor** (this run) | 85,000 | 95% | ×2.30 |');
    expect(md.indexOf('Engine ceilings')).toBeLessThan(md.indexOf('## keepalive'));
    expect(renderMarkdown(reportOf(keepaliveRows(), { ceilings: [] }))).not.toContain('ceiling');
  });

  it('names an engine that could not be measured, and why', () => {
    const missing = { ...ceilingOf('wrk', 0, 0, 0, 50), reason: 'wrk is not installed' };
    expect(describeCeiling(missing)).toBe('engine ceiling: wrk not measured (wrk is not installed)');
    expect(ceilingTable([missing], 'reactor')).toContain('| wrk | not measured: wrk is not installed |');
  });

  it('states an open loop in the header', () => {
    const r = reportOf(keepaliveRows());
    const md = renderMarkdown({ ...r, settings: { ...r.settings, rateRps: 5000 } });
    expect(md).toContain('Open loop: 5000 requests/s offered in all');
  });
});
