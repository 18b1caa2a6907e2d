/**
 * Closed vs open loop, as logic with an injected clock: a server that stalls for 200 ms, and what
 * each loop records. No sockets, no timers: the "server" is a function of the send time.
 */
import { describe, expect, it } from 'vitest';
import { Schedule } from '../src/index.js';

/**
 * Drive one connection's schedule for `endMs` in 0.1 ms steps against a server that answers in
 * 0.5 ms, except that anything sent during [stallFrom, stallTo) is answered only at stallTo + 0.5.
 * Returns every recorded latency.
 */
function simulate(schedule: Schedule, stallFrom: number, stallTo: number, endMs: number): number[] {
  const latencies: number[] = [];
  const answers: number[] = []; // when each request in flight is answered, oldest first
  for (let tick = 0; tick <= endMs * 10; tick++) {
    const now = tick / 10;
    while (answers.length > 0 && answers[0]! <= now) {
      answers.shift();
      latencies.push(schedule.answered(now));
    }
    const n = schedule.due(now);
    if (n > 0) {
      schedule.sent(n, now);
      for (let k = 0; k < n; k++) answers.push(now >= stallFrom && now < stallTo ? stallTo + 0.5 : Math.max(now, answers.at(-1) ?? 0) + 0.5);
    }
  }
  return latencies;
}

describe('Schedule', () => {
  it('closed loop: a stall shows as one slow request (coordinated omission)', () => {
    const lat = simulate(new Schedule({ depth: 1 }), 100, 300, 600);
    expect(lat.filter((l) => l > 100)).toHaveLength(1); // only the request caught in the stall
    expect(Math.max(...lat)).toBeCloseTo(200.5, 5);
  });

  it('open loop: every request due during the stall counts its wait from its intended send time', () => {
    const lat = simulate(new Schedule({ depth: 1, intervalMs: 1, firstDueMs: 0 }), 100, 300, 600);
    // Requests fall due every 1 ms whatever the server does. After the stall the server works off
    // the backlog at 2 per ms while 1 per ms falls due, so by 600 ms it has caught up: ~600 answers.
    expect(lat.length).toBeGreaterThanOrEqual(595);
    // Those due in [100, 200) cannot be answered before 300.5: each waited over 100 ms.
    expect(lat.filter((l) => l > 100).length).toBeGreaterThanOrEqual(100);
    expect(Math.max(...lat)).toBeCloseTo(200.5, 5); // the first one caught in the stall
    // Before the stall the server keeps up: 0.5 ms each, as in the closed loop.
    expect(lat.slice(0, 90).every((l) => Math.abs(l - 0.5) < 1e-9)).toBe(true);
  });

  it('open loop never sends ahead of the schedule and never more than the depth', () => {
    const s = new Schedule({ depth: 4, intervalMs: 10, firstDueMs: 5 });
    s.begin(1000);
    expect(s.due(1004)).toBe(0);
    expect(s.nextWake()).toBe(1005);
    expect(s.due(1005)).toBe(1);
    expect(s.due(1100)).toBe(4); // ten are due, four fit
    s.sent(4, 1100);
    expect(s.inFlight).toBe(4);
    expect(s.oldest).toBe(1005); // timed from when it was due, not from 1100
    expect(s.due(1100)).toBe(0);
    expect(s.nextWake()).toBe(Infinity); // full: nothing to send until an answer
    expect(s.answered(1101)).toBe(96);
    expect(s.dropInFlight()).toBe(3);
    expect(s.due(1101)).toBe(4); // the schedule went on while they were lost
  });

  it('closed loop sends a whole burst once the last one is answered', () => {
    const s = new Schedule({ depth: 3 });
    expect(s.due(0)).toBe(3);
    s.sent(3, 0);
    expect(s.due(1)).toBe(0);
    expect([s.answered(2), s.answered(3)]).toEqual([2, 3]);
    expect(s.due(3)).toBe(0);
    s.answered(4);
    expect(s.due(4)).toBe(3);
  });

  it('closed loop in flight: one new request per answer, `depth` kept in flight', () => {
    const s = new Schedule({ depth: 3, refill: 'in-flight' });
    expect(s.due(0)).toBe(3);
    s.sent(3, 0);
    expect(s.due(1)).toBe(0);
    s.answered(2);
    expect(s.due(2)).toBe(1);
    s.sent(1, 2);
    expect(s.inFlight).toBe(3);
  });
});
