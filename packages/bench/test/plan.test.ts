import { describe, expect, it } from 'vitest';
import { parseCpuList } from '../src/machine.js';
import { errorLine } from '../src/target.js';
import { MODELS, PLAN, planRuns } from '../src/plan.js';
import { SCENARIOS } from '../src/types.js';

describe('planRuns', () => {
  it('runs every model in every scenario that applies, in scenario order', () => {
    const runs = planRuns(SCENARIOS, MODELS, { pinned: true, connections: null });
    expect(runs.length).toBe(SCENARIOS.reduce((n, s) => n + PLAN[s].length, 0));
    const order = runs.map((r) => SCENARIOS.indexOf(r.scenario));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(runs.filter((r) => r.scenario === 'keepalive').map((r) => r.spec.model))).toEqual(new Set(MODELS));
  });

  it('runs framed-echo through each event loop\'s line codec against node:net\'s line echo, and 07 in burst', () => {
    const runs = planRuns(['framed-echo', 'burst'], MODELS, { pinned: true, connections: null });
    const framed = runs.filter((r) => r.scenario === 'framed-echo').map((r) => [r.spec.model, r.args.join(' ')]);
    expect(framed).toEqual([
      ['node-http', '--protocol echo --codec line'],
      ['05-epoll-native', '--protocol echo --codec line'],
      ['06-reactor-pool', '--reactors 1 --workers 1 --protocol echo --codec line'],
      ['07-io-uring', '--protocol echo --codec line'],
    ]);
    expect(runs.filter((r) => r.scenario === 'burst').map((r) => r.spec.model)).toContain('07-io-uring');
  });

  it('keeps only the chosen models and scenarios', () => {
    const runs = planRuns(['churn'], ['node-http', '02-fork'], { pinned: true, connections: null });
    expect(runs.map((r) => `${r.spec.model}/${r.spec.mode}`)).toEqual(['node-http/', '02-fork/per-connection', '02-fork/prefork']);
  });

  it('sizes blocking pools to the load connections plus one, and honours --connections', () => {
    const args = (conns: number | null) => planRuns(['keepalive'], ['02-fork', '03-threads'], { pinned: true, connections: conns }).map((r) => r.args);
    expect(args(null)).toEqual([['--mode', 'prefork', '--workers', '51'], ['--mode', 'pool', '--threads', '51']]);
    expect(args(8)).toEqual([['--mode', 'prefork', '--workers', '9'], ['--mode', 'pool', '--threads', '9']]);
  });

  it('gives 06 one reactor and one worker when pinned to one core, its defaults otherwise, and HTTP rather than its demo\'s auto', () => {
    const args06 = (pinned: boolean) => planRuns(['keepalive'], ['06-reactor-pool'], { pinned, connections: null })[0]!.args;
    expect(args06(true)).toEqual(['--reactors', '1', '--workers', '1', '--protocol', 'http']);
    expect(args06(false)).toEqual(['--protocol', 'http']);
  });

  it('caps the per-connection modes under idle-1k', () => {
    const caps = Object.fromEntries(planRuns(['idle-1k'], MODELS, { pinned: true, connections: null }).map((r) => [r.spec.model, r.spec.idleCap]));
    expect(caps).toMatchObject({ '01-blocking': 1, '02-fork': 200, '03-threads': 100, '05-epoll-native': undefined });
  });
});

describe('parseCpuList', () => {
  it('reads the kernel\'s list syntax', () => {
    expect(parseCpuList('0-1')).toEqual([0, 1]);
    expect(parseCpuList('0,2-4,7\n')).toEqual([0, 2, 3, 4, 7]);
    expect(() => parseCpuList('a-b')).toThrow(/bad CPU list/);
  });
});

describe('errorLine', () => {
  it('keeps the contract\'s one-line error', () => {
    expect(errorLine('06-reactor-pool: unknown flag --fib\n')).toBe('06-reactor-pool: unknown flag --fib');
  });

  it('finds the Error line of a Node crash report, not the source excerpt before it', () => {
    const crash = [
      'file:///repo/packages/syscalls/dist/addon.js:16',
      '    throw new Error(`cannot load the addon`);',
      '          ^',
      '',
      'Error: cannot load the addon',
      '    at file:///repo/packages/syscalls/dist/addon.js:16:11',
      '',
      'Node.js v20.20.2',
    ].join('\n');
    expect(errorLine(crash)).toBe('Error: cannot load the addon');
    expect(errorLine('')).toBe('');
  });
});

describe('the herd and idle-10k in the plan', () => {
  it('sizes 02\'s and 03\'s pools 1, 2, 4, 8 under herd, and holds 10,000 in node-http, 05 and 06', () => {
    const herd = planRuns(['herd'], [...MODELS], { pinned: true, connections: null });
    expect(herd.map((r) => `${r.spec.model} ${r.args.join(' ')}`)).toEqual([
      '02-fork --mode prefork --workers 1', '02-fork --mode prefork --workers 2', '02-fork --mode prefork --workers 4', '02-fork --mode prefork --workers 8',
      '03-threads --mode pool --threads 1', '03-threads --mode pool --threads 2', '03-threads --mode pool --threads 4', '03-threads --mode pool --threads 8',
    ]);
    expect(planRuns(['idle-10k'], [...MODELS], { pinned: true, connections: null }).map((r) => r.spec.model)).toEqual(['node-http', '05-epoll-native', '06-reactor-pool']);
  });
});

describe('the accept plan', () => {
  it('runs 06 with two SubReactors once per way of accepting, over HTTP', () => {
    const runs = planRuns(['accept'], MODELS, { pinned: true, connections: null });
    expect(runs.map((r) => [r.spec.mode, r.args.join(' ')])).toEqual([
      ['main rr', '--reactors 2 --workers 1 --protocol http --accept main --balance rr'],
      ['main least', '--reactors 2 --workers 1 --protocol http --accept main --balance least'],
      ['reuseport', '--reactors 2 --workers 1 --protocol http --accept reuseport'],
      ['exclusive', '--reactors 2 --workers 1 --protocol http --accept exclusive'],
      ['shared', '--reactors 2 --workers 1 --protocol http --accept shared'],
    ]);
    expect(runs[0]!.spec.model).toBe('06-reactor-pool');
  });
});
