/**
 * The Reactor as a library (what step 06 relies on), driven in-process over socketpairs: no
 * server, no timing — every step is one explicit runOnce turn.
 */
import { threadId } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import * as sys from '@course/syscalls';
import type { Protocol, Session, Sink } from '@course/protocol';
import { ThreadAffinity } from '@course/server-kit';
import { Acceptor, Reactor, SEND_BATCH_MODES } from '../src/index.js';

const { C } = sys;

/** A protocol whose sessions record what they get and expose their sink to the test. */
function recordingProtocol(echo = false) {
  const sessions: Array<{ sink: Sink; received: Buffer[]; peerClosed: boolean; closed: boolean; midRequest: boolean; awaiting: boolean }> = [];
  const protocol: Protocol = {
    name: 'echo',
    scheme: 'tcp',
    open(sink: Sink): Session {
      const s = { sink, received: [] as Buffer[], peerClosed: false, closed: false, midRequest: false, awaiting: false };
      sessions.push(s);
      return {
        receive(data) {
          s.received.push(Buffer.from(data));
          if (echo) sink.write(new Uint8Array(data));
        },
        peerClosed() { s.peerClosed = true; sink.end(); },
        close() { s.closed = true; },
        get midRequest() { return s.midRequest; },
        get awaiting() { return s.awaiting; },
        paused: false,
        drained() {},
      };
    },
  };
  return { protocol, sessions };
}

/** A connected pair of non-blocking stream sockets: [server side, test side]. */
function socketPair(): [number, number] {
  const out = new Int32Array(2);
  sys.check(sys.socketpair(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0, out), 'socketpair');
  return [out[0]!, out[1]!];
}

/** Everything readable on `fd` right now. */
function readNow(fd: number): Buffer {
  const buf = Buffer.alloc(1 << 20);
  const parts: Buffer[] = [];
  for (;;) {
    const n = sys.read(fd, buf, 0, buf.length);
    if (n <= 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(parts);
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!();
});

function newReactor(opts: Partial<ConstructorParameters<typeof Reactor>[0]> = {}, echo = false) {
  const rec = recordingProtocol(echo);
  const reactor = new Reactor({ protocol: rec.protocol, ...opts });
  cleanup.push(() => reactor.close());
  return { reactor, ...rec };
}

describe.each(['lt', 'et'] as const)('Reactor (%s)', (mode) => {
  it('adopts a socket, feeds its bytes to the session and counts them', () => {
    const { reactor, sessions } = newReactor({ mode });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    expect(reactor.stats).toMatchObject({ connections: 1, accepted: 1 });
    sys.write(b, Buffer.from('hello'), 0, 5);
    expect(reactor.runOnce(1000)).toBe(1);
    expect(Buffer.concat(sessions[0]!.received).toString()).toBe('hello');
    expect(reactor.stats.bytesIn).toBe(5);
  });

  it('flushes output written outside receive() before the next wait (a deferred answer)', () => {
    const { reactor, sessions } = newReactor({ mode });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sessions[0]!.sink.write(Buffer.from('late answer')); // e.g. a worker pool's result, on this thread
    expect(reactor.runOnce(-1)).toBe(0); // does not sleep: output is pending, so it waits 0 ms
    expect(readNow(b).toString()).toBe('late answer');
    expect(reactor.stats.bytesOut).toBe(11);
  });

  // Two connections, so that with sendBatch 'uring' the short writes come back through the ring.
  it.each(SEND_BATCH_MODES)('keeps what a short write left and sends it once the peer reads (EPOLLOUT; sends: %s)', (sendBatch) => {
    const { reactor, sessions } = newReactor({ mode, sendBatch, highWaterMark: 64 << 20 });
    const pairs = [socketPair(), socketPair()];
    for (const [a, b] of pairs) {
      cleanup.push(() => sys.close(b));
      reactor.adopt(a);
    }
    const big = Buffer.alloc(8 << 20, 7); // far more than a socket buffer holds
    sessions.forEach((s) => s.sink.write(big));
    reactor.runOnce(0);
    for (const s of sessions) expect(s.sink.pendingBytes).toBeGreaterThan(0); // the kernel took only part of it
    const got: Buffer[][] = [[], []];
    for (let turns = 0; turns < 20_000 && sessions.some((s) => s.sink.pendingBytes > 0); turns++) {
      pairs.forEach(([, b], i) => got[i]!.push(readNow(b))); // the peers read: the sockets become writable: EPOLLOUT
      reactor.runOnce(1000);
    }
    pairs.forEach(([, b], i) => got[i]!.push(readNow(b)));
    for (const parts of got) expect(Buffer.concat(parts).equals(big)).toBe(true);
    expect(reactor.stats.bytesOut).toBe(2 * big.length);
  });

  it.each(SEND_BATCH_MODES)('flushes every connection of a turn: single chunks in one batch, the others alone, each its own bytes; a peer gone is closed (sends: %s)', (sendBatch) => {
    const { reactor, sessions } = newReactor({ mode, sendBatch });
    const pairs = Array.from({ length: 5 }, () => socketPair());
    pairs.forEach(([a, b], i) => {
      if (i !== 3) cleanup.push(() => sys.close(b)); // pair 3's peer is closed below
      reactor.adopt(a);
    });
    const shared = Buffer.from('the same frame for all'); // a broadcast queues one buffer on many sinks
    sessions[0]!.sink.write(shared);
    sessions[1]!.sink.write(Buffer.from('two '));
    sessions[1]!.sink.write(Buffer.from('chunks')); // not a single chunk: writev, outside the batch
    sessions[2]!.sink.write(shared);
    sessions[3]!.sink.write(shared);
    sys.close(pairs[3]![1]); // this peer is gone: its send fails (EPIPE) and the reactor closes it
    sessions[4]!.sink.write(Buffer.from('last'));
    reactor.runOnce(0);
    expect([0, 1, 2, 4].map((i) => readNow(pairs[i]![1]).toString())).toEqual([shared.toString(), 'two chunks', shared.toString(), 'last']);
    expect(sessions[3]!.closed).toBe(true);
    expect(reactor.stats.connections).toBe(4);
    expect(sessions.map((x) => x.sink.pendingBytes)).toEqual([0, 0, 0, 0, 0]);
    expect(reactor.stats.bytesOut).toBe(2 * shared.length + 'two chunks'.length + 'last'.length);
  });

  it('sends in the same turn what a session answers once its output drained (the flush goes round again)', () => {
    let more = 2;
    const sinks: Sink[] = [];
    const protocol: Protocol = {
      name: 'echo',
      scheme: 'tcp',
      open(sink) {
        sinks.push(sink);
        return { receive() {}, peerClosed() {}, close() {}, midRequest: false, awaiting: false, paused: false, drained() { if (more-- > 0) sink.write(Buffer.from(`more${more} `)); } };
      },
    };
    const reactor = new Reactor({ protocol, mode });
    cleanup.push(() => reactor.close());
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sinks[0]!.write(Buffer.from('first '));
    reactor.runOnce(0);
    expect(readNow(b).toString()).toBe('first more1 more0 ');
  });

  it('ends a connection the session ended with a lingering close: FIN, discard input, close on the peer\'s FIN', () => {
    const { reactor, sessions } = newReactor({ mode });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sessions[0]!.sink.write(Buffer.from('bye'));
    sessions[0]!.sink.end();
    reactor.runOnce(0);
    expect(sessions[0]!.closed).toBe(true); // the session is done...
    expect(readNow(b).toString()).toBe('bye');
    expect(sys.read(b, Buffer.alloc(1), 0, 1)).toBe(0); // ...and the answer is followed by a FIN
    expect(reactor.stats.connections).toBe(1); // but the fd stays open while the peer may still send
    sys.write(b, Buffer.from('more input nobody reads'), 0, 23);
    reactor.runOnce(1000); // discarded: the session hears nothing more
    expect(Buffer.concat(sessions[0]!.received).length).toBe(0);
    sys.shutdown(b, C.SHUT_WR); // the peer closes its side: now close(2) sends no RST
    for (let turn = 0; turn < 5 && reactor.stats.connections > 0; turn++) reactor.runOnce(200);
    expect(reactor.stats.connections).toBe(0);
  });

  it('tells the session when the peer half-closes, then closes', () => {
    const { reactor, sessions } = newReactor({ mode });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sys.shutdown(b, C.SHUT_WR);
    reactor.runOnce(1000);
    expect(sessions[0]!.peerClosed).toBe(true);
    expect(sessions[0]!.closed).toBe(true);
    expect(reactor.stats.connections).toBe(0);
  });

  it('sees a FIN that arrives together with the last data (ET must read on to the 0)', () => {
    const { reactor, sessions } = newReactor({ mode });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sys.write(b, Buffer.from('last words'), 0, 10);
    sys.shutdown(b, C.SHUT_WR); // data and FIN are both waiting before the first event
    for (let turn = 0; turn < 5 && reactor.stats.connections > 0; turn++) reactor.runOnce(200);
    expect(Buffer.concat(sessions[0]!.received).toString()).toBe('last words');
    expect(sessions[0]!.peerClosed).toBe(true);
    expect(sessions[0]!.closed).toBe(true);
  });

  it('stops reading over the high-water mark and resumes below the low-water mark', () => {
    const { reactor, sessions } = newReactor({ mode, highWaterMark: 1000 });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    // A tiny send buffer on the server side, so that output really backs up.
    sys.setsockopt(a, C.SOL_SOCKET, C.SO_SNDBUF, 4096);
    reactor.adopt(a);
    const s = sessions[0]!;
    s.sink.write(Buffer.alloc(1 << 20)); // far over the high-water mark, and more than the socket takes
    reactor.runOnce(0);
    expect(s.sink.pendingBytes).toBeGreaterThan(1000);
    sys.write(b, Buffer.from('ignored for now'), 0, 15);
    for (let i = 0; i < 3; i++) reactor.runOnce(0);
    expect(s.received).toHaveLength(0); // paused: input waits in the socket
    // The peer reads everything; output drains; reading resumes and the input arrives.
    for (let turns = 0; turns < 100_000 && s.received.length === 0; turns++) {
      readNow(b);
      reactor.runOnce(10);
    }
    expect(Buffer.concat(s.received).toString()).toBe('ignored for now');
  });

  it('resumes reading after back-pressure even when the output drained in the same turn', () => {
    // Each 64 KB read is echoed: over the (tiny) high-water mark, so reading stops with input
    // still waiting; the flush at the end of the turn empties the output at once. In ET the
    // edge for the waiting input was already consumed: only a re-arm (MOD) brings it back.
    const { reactor, sessions } = newReactor({ mode, highWaterMark: 1000 }, true);
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    const data = Buffer.alloc(150_000, 3);
    let sent = 0;
    let echoed = 0;
    for (let turns = 0; turns < 1000 && echoed < data.length; turns++) {
      if (sent < data.length) {
        const n = sys.write(b, data, sent, data.length - sent);
        if (n > 0) sent += n;
      }
      reactor.runOnce(20);
      echoed += readNow(b).length;
    }
    expect(echoed).toBe(data.length);
    expect(Buffer.concat(sessions[0]!.received).length).toBe(data.length);
  });

  it('closes a connection whose request stalls past the header timeout', () => {
    const { reactor, sessions } = newReactor({ mode, headerTimeoutMs: 30, idleTimeoutMs: 60_000 });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sessions[0]!.midRequest = true; // as if half a request had arrived
    sys.write(b, Buffer.from('GET / HT'), 0, 8);
    const start = Date.now();
    while (reactor.stats.connections > 0 && Date.now() - start < 5000) reactor.runOnce(-1); // -1: the reactor bounds the wait itself
    expect(sessions[0]!.closed).toBe(true);
  });

  it('applies no timeout while an answer is owed, and the idle timeout once it is sent', () => {
    const { reactor, sessions } = newReactor({ mode, headerTimeoutMs: 30, idleTimeoutMs: 30 });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    sessions[0]!.awaiting = true; // as if a request went to a worker (step 06)
    sys.write(b, Buffer.from('GET /api/slow'), 0, 13);
    const start = Date.now();
    while (Date.now() - start < 300) reactor.runOnce(10); // ten times both timeouts
    expect(sessions[0]!.closed).toBe(false);
    expect(reactor.drain()).toBe(false); // a graceful shutdown waits for the answer too
    sessions[0]!.awaiting = false;
    sessions[0]!.sink.write(Buffer.from('answer')); // the result arrives and is written
    sessions[0]!.sink.end();
    for (let turns = 0; turns < 1000 && reactor.stats.connections > 0; turns++) reactor.runOnce(10);
    expect(readNow(b).toString()).toBe('answer');
    expect(sessions[0]!.closed).toBe(true);
  });

  it('closes an idle keep-alive connection after the idle timeout', () => {
    const { reactor, sessions } = newReactor({ mode, headerTimeoutMs: 60_000, idleTimeoutMs: 30 });
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    const start = Date.now();
    while (reactor.stats.connections > 0 && Date.now() - start < 5000) reactor.runOnce(-1);
    expect(sessions[0]!.closed).toBe(true);
  });

  it('drain() closes idle connections at once and keeps those with output until sent', () => {
    const { reactor, sessions } = newReactor({ mode });
    const [a1, b1] = socketPair();
    const [a2, b2] = socketPair();
    cleanup.push(() => sys.close(b1), () => sys.close(b2));
    reactor.adopt(a1);
    reactor.adopt(a2);
    sys.setsockopt(a2, C.SOL_SOCKET, C.SO_SNDBUF, 4096);
    sessions[1]!.sink.write(Buffer.alloc(1 << 20, 1));
    reactor.runOnce(0);
    expect(reactor.drain()).toBe(false);
    expect(sessions[0]!.closed).toBe(true); // idle: closed now
    expect(sessions[1]!.closed).toBe(false); // still sending
    let got = 0;
    for (let turns = 0; turns < 100_000 && !reactor.drain(); turns++) {
      got += readNow(b2).length;
      reactor.runOnce(10);
    }
    got += readNow(b2).length;
    expect(got).toBe(1 << 20);
    expect(reactor.stats.connections).toBe(0);
  });
});

describe('Reactor watchers and ownership', () => {
  it('runs a watcher when its fd is ready, until unwatched', () => {
    const { reactor } = newReactor();
    const efd = sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
    cleanup.push(() => sys.close(efd));
    let calls = 0;
    reactor.watch(efd, (events) => { calls++; expect(events & C.EPOLLIN).toBe(C.EPOLLIN); sys.eventfdDrain(efd); });
    sys.eventfdSignal(efd);
    reactor.runOnce(1000);
    expect(calls).toBe(1);
    reactor.unwatch(efd);
    sys.eventfdSignal(efd);
    expect(reactor.runOnce(0)).toBe(0);
    expect(calls).toBe(1);
  });

  it('refuses to adopt an fd it already holds', () => {
    const { reactor } = newReactor();
    const [a, b] = socketPair();
    cleanup.push(() => sys.close(b));
    reactor.adopt(a);
    expect(() => reactor.adopt(a)).toThrow(/adopted twice/);
  });

  it('runs one-shot timers from the epoll_wait timeout', () => {
    const { reactor } = newReactor();
    let fired = 0;
    reactor.after(20, () => fired++);
    const start = Date.now();
    while (fired === 0 && Date.now() - start < 5000) reactor.runOnce(-1);
    expect(fired).toBe(1);
  });
});

describe('Acceptor', () => {
  it('adopts every queued connection (edge-triggered drains the queue)', () => {
    const { reactor } = newReactor({ mode: 'et' });
    const listener = sys.listenTcp({ host: '127.0.0.1', port: 0, nonBlocking: true });
    cleanup.push(() => sys.close(listener.fd));
    const acceptor = new Acceptor(reactor, listener.fd, (fd) => reactor.adopt(fd), { edgeTriggered: true });
    cleanup.push(() => acceptor.close());
    const clients: number[] = [];
    for (let i = 0; i < 5; i++) {
      const fd = sys.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0);
      sys.check(sys.connect(fd, '127.0.0.1', listener.port), 'connect'); // blocking connect: queued once it returns
      clients.push(fd);
    }
    cleanup.push(() => clients.forEach((fd) => sys.close(fd)));
    reactor.runOnce(1000); // one edge for five connections
    expect(acceptor.stats.accepted).toBe(5);
    expect(reactor.stats.connections).toBe(5);
  });
});

describe('Reactor thread affinity (COURSE_CHECK_THREADS=1, set in vitest.config.ts)', () => {
  it('is switched on for these tests', () => {
    expect(process.env.COURSE_CHECK_THREADS).toBe('1');
  });

  it('serves calls on the thread that created it', () => {
    const { reactor } = newReactor();
    expect(reactor.runOnce(0)).toBe(0);
  });

  it('refuses a call on any other thread, naming both', () => {
    // JS cannot hand an object to another thread, so forge the one field the check reads: a
    // reactor owned by some other thread, called here. The check runs before anything else.
    const foreign = Object.assign(Object.create(Reactor.prototype) as object, { affinity: new ThreadAffinity('Reactor', threadId + 1) }) as unknown as Reactor;
    expect(() => foreign.runOnce(0)).toThrow(`Reactor.runOnce called on thread ${threadId}; it belongs to thread ${threadId + 1}`);
    expect(() => foreign.adopt(0)).toThrow(/Reactor\.adopt called on thread/);
    expect(() => foreign.watch(0, () => {})).toThrow(/Reactor\.watch called on thread/);
  });
});
