import { describe, expect, it } from 'vitest';
import { LatencyRecorder, percentile } from '../src/latency.js';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks the smallest value with p % of samples at or below it', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0.5)).toBe(1);
    expect(percentile([1, 2, 3], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });

  it('returns the only sample, or null without samples', () => {
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it('rejects a percentile outside (0, 100]', () => {
    expect(() => percentile(hundred, 0)).toThrow(RangeError);
    expect(() => percentile(hundred, 101)).toThrow(RangeError);
  });
});

describe('LatencyRecorder', () => {
  it('grows past its initial capacity and sorts numerically', () => {
    const r = new LatencyRecorder();
    // 10,000 values in a scrambled order; as strings "10" < "9", so a lexical sort would fail
    for (let i = 0; i < 10000; i++) r.record(((i * 7919) % 10000) / 10 + 0.1);
    expect(r.count).toBe(10000);
    const s = r.summary();
    expect(s.p50).toBeCloseTo(500.0, 6);
    expect(s.p99).toBeCloseTo(990.0, 6);
  });

  it('summarises nothing as nulls', () => {
    expect(new LatencyRecorder().summary()).toEqual({ p50: null, p99: null });
  });
});
