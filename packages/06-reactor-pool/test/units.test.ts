/** The small pieces, in-process: the hand-off ring, the balancers, the shared counters, app loading. */
import { describe, expect, it } from 'vitest';
import { Worker, threadId } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { FdRing, Lifecycle, RING_CAPACITY, WakeFlags } from '../src/handoff.js';
import { createBalancer, ownListener, sourceHash } from '../src/balancer.js';
import { StatsBoard } from '../src/stats.js';
import { loadApp } from '../src/app.js';
import { ThreadAffinity } from '@course/server-kit';

const dataUrl = (source: string): string => `data:text/javascript,${encodeURIComponent(source)}`;

describe('FdRing', () => {
  it('is first-in first-out, refuses a push when full, and keeps working as its indices wrap', () => {
    const ring = FdRing.create();
    expect(ring.pop()).toBe(-1);
    for (let i = 0; i < RING_CAPACITY; i++) expect(ring.push(i)).toBe(true);
    expect(ring.push(99999)).toBe(false);
    expect(ring.pop()).toBe(0);
    expect(ring.push(99999)).toBe(true);
    const rest = Array.from({ length: RING_CAPACITY - 1 }, () => ring.pop());
    expect(rest.every((v, i) => v === i + 1)).toBe(true);
    expect(ring.pop()).toBe(99999);
    expect(ring.pop()).toBe(-1);
    // Many laps around the slots.
    let next = 0;
    let expected = 0;
    for (let lap = 0; lap < 10; lap++) {
      for (let i = 0; i < RING_CAPACITY - 7; i++) ring.push(next++);
      for (let v = ring.pop(); v !== -1; v = ring.pop()) if (v === expected) expected++;
    }
    expect(expected).toBe(next); // every value came out, in order
  });

  it('carries every value from a producer thread to a consumer thread, in order', async () => {
    const ring = FdRing.create();
    const count = 100_000;
    // The compiled FdRing, pushing from another thread (spinning while the ring is full).
    const compiled = new URL('../dist/handoff.js', import.meta.url).href;
    const producer = new Worker(
      `const { workerData } = require('node:worker_threads');
       import(${JSON.stringify(compiled)}).then(({ FdRing }) => {
         const ring = new FdRing(workerData.buffer);
         for (let v = 0; v < ${count}; v++) while (!ring.push(v));
       });`,
      { eval: true, workerData: { buffer: ring.buffer } },
    );
    const got = new Int32Array(count);
    let n = 0;
    while (n < count) {
      const v = ring.pop();
      if (v === -1) await new Promise((r) => setImmediate(r));
      else got[n++] = v;
    }
    await producer.terminate();
    expect(got.every((v, i) => v === i)).toBe(true);
  });
});

describe('balancers', () => {
  it('round-robin cycles through every reactor', () => {
    const rr = createBalancer('rr', 3, StatsBoard.create(3));
    expect(Array.from({ length: 7 }, () => rr.pick(''))).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('least-connections picks the lowest load, counting connections still in the hand-off ring', () => {
    const board = StatsBoard.create(3);
    const least = createBalancer('least', 3, board);
    expect(least.pick('')).toBe(0); // ties: lowest index
    board.assigned(0);
    board.assigned(0);
    board.assigned(1);
    expect(least.pick('')).toBe(2);
    board.assigned(2);
    board.assigned(2);
    board.publishReactor(0, 2, 0, 0, 0); // reactor 0 adopted both and both closed
    expect(least.pick('')).toBe(0);
  });

  it('source hash is stable and spreads addresses', () => {
    const hash = createBalancer('hash', 4, StatsBoard.create(4));
    expect(hash.needsAddress).toBe(true);
    expect(hash.pick('10.0.0.1')).toBe(hash.pick('10.0.0.1'));
    expect(sourceHash('127.0.0.1')).toBe(sourceHash('127.0.0.1'));
    const used = new Set(Array.from({ length: 64 }, (_, i) => hash.pick(`10.0.0.${i}`)));
    expect(used.size).toBe(4);
  });
});

describe('StatsBoard and Lifecycle', () => {
  it('gives every thread the same counters through one shared buffer', () => {
    const writer = StatsBoard.create(2, 2);
    const reader = new StatsBoard(writer.buffer);
    expect([reader.reactorCount, reader.workerCount]).toEqual([2, 2]);
    writer.assigned(1);
    writer.request(1);
    writer.publishReactor(1, 1, 1, 100, 2000);
    writer.setPool(2, 1, 0);
    // Three tasks posted by reactor 1: two to slot 0, one to slot 1; slot 0 runs one, slot 1 its one.
    writer.task(1, 0);
    writer.task(1, 0);
    writer.task(1, 1);
    writer.started(0, 0);
    writer.started(1, 3);
    expect([reader.slotLoad(0), reader.slotLoad(1)]).toEqual([2, 1]);
    // WebSocket counters of reactor 1: one open, one message in, two out, one dropped, one closed as a slow consumer.
    writer.websocket(1, 1);
    writer.websocket(1, 1);
    writer.websocket(1, -1);
    writer.message(1, 'in');
    writer.message(1, 'out');
    writer.message(1, 'out');
    writer.message(1, 'dropped');
    writer.slowClosed(1);
    let s = reader.snapshot();
    expect(s.reactors[1]).toEqual({
      index: 1, connections: 1, accepted: 1, requests: 1, bytesIn: 100, bytesOut: 2000, tasks: 3, refused: 0, timedOut: 0,
      websockets: 1, messagesIn: 1, messagesOut: 2, dropped: 1, slowClosed: 1, listenerWakeups: 0, emptyWakeups: 0, acceptEagain: 0, refusedConnections: 0,
    });
    expect(s.reactors[0]).toMatchObject({ websockets: 0, messagesIn: 0, messagesOut: 0, dropped: 0, slowClosed: 0 });
    expect(s.workers).toEqual({ threads: 2, queued: 1, running: 2, done: 0, failed: 0, restarts: 1, recycled: 0, refused: 0, timedOut: 0 });
    expect(reader.poolLoad()).toBe(3); // what the queue's bound (maxQueuedTasks) is checked against
    // Slot 0 finishes one; slot 1 (generation 3) dies mid-task and its task is lost.
    writer.finished(0, 0, true);
    writer.settled(0, false);
    writer.clearRunning(1, 3);
    writer.settled(1, true);
    s = reader.snapshot();
    expect(s.workers).toEqual({ threads: 2, queued: 1, running: 0, done: 1, failed: 1, restarts: 1, recycled: 0, refused: 0, timedOut: 0 });
    expect(s.totals).toEqual({ connections: 1, accepted: 1, requests: 1, bytesIn: 100, bytesOut: 2000, refusedConnections: 0, websockets: 1, messagesIn: 1, messagesOut: 2, dropped: 1, slowClosed: 1, listenerWakeups: 0, emptyWakeups: 0, acceptEagain: 0 });
    expect(reader.poolLoad()).toBe(1);
  });

  it('counts shed tasks per reactor and in the pool, refused connections in the totals, and open connections for maxConnections', () => {
    const writer = StatsBoard.create(2, 1);
    const reader = new StatsBoard(writer.buffer);
    writer.shed(0, 'refused');
    writer.shed(1, 'refused');
    writer.shed(1, 'timed out');
    writer.refusedConnection(-1);
    writer.assigned(0);
    writer.assigned(1);
    writer.assigned(1);
    writer.publishReactor(1, 2, 1, 0, 0); // reactor 1 adopted both of its connections, one is closed
    const s = reader.snapshot();
    expect(s.reactors.map((r) => [r.refused, r.timedOut])).toEqual([[1, 0], [1, 1]]);
    expect([s.workers.refused, s.workers.timedOut, s.totals.refusedConnections]).toEqual([2, 1, 1]);
    expect(reader.openConnections()).toBe(2); // reactor 0: one still in its hand-off ring; reactor 1: one open
  });

  it('gives a pool thread at most maxRequests tasks, counted afresh for each generation', () => {
    const board = StatsBoard.create(1, 2);
    const claims = Array.from({ length: 4 }, () => board.claim(1, 0, 3));
    expect(claims).toEqual([true, true, true, false]);
    expect(board.claim(0, 0, 3)).toBe(true); // another slot has its own count
    board.startGeneration(1, 1); // the successor of slot 1
    expect(board.claim(1, 1, 3)).toBe(true);
    expect(board.claim(1, 0, 3)).toBe(false); // the retiring one stays used up
  });

  it('reports drained only once every reactor said so', () => {
    const main = Lifecycle.create(2);
    const sub = new Lifecycle(main.buffer);
    expect(sub.draining).toBe(false);
    main.startDraining();
    expect(sub.draining).toBe(true);
    expect(sub.leaving).toBe(false);
    sub.markDrained(1);
    expect(main.allDrained()).toBe(false);
    sub.markDrained(0);
    expect(main.allDrained()).toBe(true);
    main.leave();
    expect([sub.draining, sub.leaving]).toEqual([true, true]);
  });
});

describe('loadApp', () => {
  it('takes hooks from named exports or a default export object', async () => {
    const named = await loadApp(dataUrl('export function onTask(p) { return p * 2 } export const VERSION = 1;'));
    expect(named.onTask?.(21, undefined as never)).toBe(42);
    const object = await loadApp(dataUrl('export default { factor: 3, onTask(p) { return p * this.factor } }'));
    expect(object.onTask?.(2, undefined as never)).toBe(6);
  });

  it('refuses an unknown hook name and a hook that is not a function', async () => {
    await expect(loadApp(dataUrl('export function onRecieve() {}'))).rejects.toThrow(/unknown hook onRecieve/);
    await expect(loadApp(dataUrl('export const onTask = 5;'))).rejects.toThrow(/onTask must be a function/);
  });
});

describe('ThreadAffinity', () => {
  it('is switched on in the tests, passes on the owning thread and throws on any other', () => {
    expect(process.env.COURSE_CHECK_THREADS).toBe('1'); // vitest.config.ts
    expect(() => new ThreadAffinity('the MainReactor').check()).not.toThrow();
    // An owner on another thread, as a SubReactor's objects are to the main thread.
    expect(() => new ThreadAffinity('SubReactor 0', threadId + 1).check()).toThrow(`SubReactor 0 called on thread ${threadId}; it belongs to thread ${threadId + 1}`);
  });
});

describe('WakeFlags', () => {
  it('writes a SubReactor\'s eventfd once per wake-up, however many senders wake it', () => {
    const fd = sys.check(sys.eventfd(0, sys.C.EFD_NONBLOCK | sys.C.EFD_CLOEXEC), 'eventfd');
    try {
      const sender = WakeFlags.create(2);
      const reactor = new WakeFlags(sender.buffer);
      for (let i = 0; i < 5; i++) sender.wake(1, fd); // five results before the reactor looks
      expect(sys.eventfdDrain(fd)).toBe(1);
      reactor.clear(1); // the reactor looks: the next sender writes again
      sender.wake(1, fd);
      sender.wake(1, fd);
      expect(sys.eventfdDrain(fd)).toBe(1);
      sender.wake(0, fd); // another reactor's flag is its own
      expect(sys.eventfdDrain(fd)).toBe(1);
      expect(sys.eventfdDrain(fd)).toBe(0);
    } finally {
      sys.close(fd);
    }
  });
});

describe('who accepts (balancer.ts)', () => {
  it('gives each SubReactor its own listener (reuseport), the shared one (exclusive, shared), or none (main)', () => {
    const fds = [10, 11];
    expect([0, 1].map((i) => ownListener('main', [10], i))).toEqual([null, null]);
    expect([0, 1].map((i) => ownListener('reuseport', fds, i))).toEqual([{ fd: 10, exclusive: false }, { fd: 11, exclusive: false }]);
    expect([0, 1].map((i) => ownListener('exclusive', [10], i))).toEqual([{ fd: 10, exclusive: true }, { fd: 10, exclusive: true }]);
    expect([0, 1].map((i) => ownListener('shared', [10], i))).toEqual([{ fd: 10, exclusive: false }, { fd: 10, exclusive: false }]);
  });

  it('counts accept wake-ups and refusals where they happened: the main thread or each SubReactor', () => {
    const board = StatsBoard.create(2, 1);
    board.publishAccept(-1, 5, 0, 5);
    board.publishAccept(1, 7, 3, 7);
    board.refusedConnection(-1);
    board.refusedConnection(1);
    board.refusedConnection(1);
    const s = board.snapshot();
    expect(s.main).toEqual({ listenerWakeups: 5, emptyWakeups: 0, acceptEagain: 5, refusedConnections: 1 });
    expect(s.reactors[1]).toMatchObject({ listenerWakeups: 7, emptyWakeups: 3, acceptEagain: 7, refusedConnections: 2 });
    expect(s.totals).toMatchObject({ listenerWakeups: 12, emptyWakeups: 3, acceptEagain: 12, refusedConnections: 3 });
  });
});
