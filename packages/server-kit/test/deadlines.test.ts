/**
 * Deadlines: which timeout a connection gets after activity, when sweeps are due, and the
 * one-shot timers. Pure logic on explicit clock values.
 */
import { describe, expect, it } from 'vitest';
import type { Session } from '@course/protocol';
import { Deadlines, type Deadlined } from '../src/deadlines.js';

function conn(state: { midRequest?: boolean; awaiting?: boolean }): Deadlined & { state: typeof state } {
  const session = { get midRequest() { return state.midRequest ?? false; }, get awaiting() { return state.awaiting ?? false; } } as unknown as Session;
  return { deadline: 0, headerClock: false, session, state };
}

describe('Deadlines', () => {
  it('idle timeout between requests, header timeout within one, none while an answer is owed', () => {
    const d = new Deadlines(500, 30_000);
    const c = conn({});
    d.touch(c, 1000, false);
    expect(c.deadline).toBe(31_000);
    c.state.midRequest = true;
    d.touch(c, 2000, false); // a request began: the header clock starts
    expect(c.deadline).toBe(2500);
    d.touch(c, 2400, false); // more bytes, no progress: the clock does not restart (slowloris)
    expect(c.deadline).toBe(2500);
    d.touch(c, 2450, true); // an answer was queued: progress restarts it
    expect(c.deadline).toBe(2950);
    c.state.midRequest = false;
    c.state.awaiting = true;
    d.touch(c, 3000, false);
    expect(c.deadline).toBe(Infinity);
  });

  it('sweeps every tenth of the shorter timeout, within 10 ms .. 1 s', () => {
    expect(new Deadlines(500, 30_000).sweepMs).toBe(50);
    expect(new Deadlines(10_000, 60_000).sweepMs).toBe(1000);
    expect(new Deadlines(20, 20).sweepMs).toBe(10);
    const d = new Deadlines(500, 30_000);
    expect(d.sweepDue(1000)).toBe(true);
    expect(d.sweepDue(1049)).toBe(false);
    expect(d.sweepDue(1050)).toBe(true);
  });

  it('runs one-shot timers in order of due time, once each', () => {
    const d = new Deadlines(1000, 1000);
    const ran: string[] = [];
    d.after(200, () => ran.push('b'));
    d.after(100, () => ran.push('a'));
    d.after(10_000, () => ran.push('c'));
    expect(d.waitTime(-1, false)).toBeLessThanOrEqual(100);
    d.runTimers(Date.now() + 300);
    d.runTimers(Date.now() + 300);
    expect(ran).toEqual(['a', 'b']);
    expect(d.waitTime(50, false)).toBe(50); // capped by the caller's limit
  });

  it('waits without limit when nothing is open and no timer is set', () => {
    expect(new Deadlines(1000, 1000).waitTime(-1, false)).toBe(-1);
  });
});
