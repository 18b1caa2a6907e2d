/**
 * One run, where it does not need a server: a load the engine cannot produce, and idle
 * connections the limits cannot hold, are rows that say why — before any server is started.
 */
import { describe, expect, it } from 'vitest';
import { ENGINES } from '../src/engines/index.js';
import { PLAN } from '../src/plan.js';
import { runOne, shapeOf, type RunEnv } from '../src/scenarios.js';
import { row } from './rows.js';

const env = (engine: RunEnv['engine']): RunEnv => ({
  root: '/nonexistent', durationS: 1, warmupS: 0.25, connections: null, rateRps: null, prefix: [], engine, onPhase: () => {},
});

describe('runOne', () => {
  it('records a shape the engine cannot produce as not available, naming the engine\'s reason', async () => {
    const spec = PLAN.pipelined.find((m) => m.model === '05-epoll-native')!;
    const r = await runOne({ scenario: 'pipelined', spec, args: [] }, env(ENGINES.wrk));
    expect(r).toMatchObject({ status: 'not available', engine: 'wrk', reason: 'wrk pipelines in bursts only, not with requests kept in flight' });
  });

  it('asks the engine for the scenario\'s shape', () => {
    expect(shapeOf(row('x', 'burst', { connections: 10 }), 2)).toEqual({ connections: 10, depth: 16, pipelining: 'burst', churn: false, durationS: 2, rateRps: null });
    expect(shapeOf(row('x', 'churn', { connections: 10 }), 2)).toMatchObject({ churn: true, depth: 1 });
  });
});
