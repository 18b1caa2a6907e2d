import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import * as sys from '../src/index.js';
import { C } from '../src/index.js';
import { fixture } from './spawn.js';
import { readFileSync } from 'node:fs';
import { closeAll, closeNow, tcpPair, track, unixPair } from './util.js';

afterEach(closeAll);

const epoll = (): number => track(sys.epoll_create1(C.EPOLL_CLOEXEC));
const drain = (fd: number): number => sys.read(fd, Buffer.alloc(4096));

describe('poll', () => {
  it('reports POLLIN only once data is there, and writes revents back', () => {
    const [a, b] = unixPair();
    const fds = new Int32Array([b, C.POLLIN, 12345, a, C.POLLOUT, 0]);
    expect(sys.poll(fds, 2, 0)).toBe(1); // a is writable, b has nothing yet
    expect(fds[2]).toBe(0); // stale revents were cleared
    expect(fds[5]! & C.POLLOUT).toBe(C.POLLOUT);
    sys.write(a, Buffer.from('x'));
    expect(sys.poll(fds, 2, 0)).toBe(2);
    expect(fds[2]).toBe(C.POLLIN);
  });

  it('times out with 0; reports POLLNVAL for a closed fd and POLLHUP after the peer closes', () => {
    const [a, b] = unixPair();
    const fds = new Int32Array([b, C.POLLIN, 0, 1_000_000, C.POLLIN, 0]);
    expect(sys.poll(fds, 1, 1)).toBe(0);
    expect(sys.poll(fds, 2, 0)).toBe(1);
    expect(fds[5]).toBe(C.POLLNVAL);
    sys.shutdown(a, C.SHUT_RDWR);
    expect(sys.poll(fds, 1, 0)).toBe(1);
    expect(fds[2]! & C.POLLHUP).toBe(C.POLLHUP);
  });

  it('handles more fds than fit its stack array', () => {
    const [a, b] = unixPair();
    sys.write(a, Buffer.from('x'));
    const fds = new Int32Array(3 * 100); // (fd, events, revents) x 100: past the 64 on the C stack
    for (let i = 0; i < 99; i++) fds.set([a, C.POLLIN, 0], 3 * i);
    fds.set([b, C.POLLIN | C.POLLRDHUP, 0], 3 * 99);
    expect(sys.poll(fds, 100, 0)).toBe(1);
    expect(fds[3 * 99 + 2]).toBe(C.POLLIN);
    expect(fds[3 * 99]).toBe(b); // fd and events are left as they were
    expect(fds[3 * 99 + 1]).toBe(C.POLLIN | C.POLLRDHUP);
    fds.set([b, C.POLLOUT, 0], 3 * 98);
    expect(sys.poll(fds.subarray(3 * 98), 2, 0)).toBe(2);
    expect(fds[3 * 98 + 2]).toBe(C.POLLOUT);
  });
});

describe('epoll', () => {
  it('level-triggered: reports a readable fd again and again until it is drained', () => {
    const ep = epoll();
    const [a, b] = unixPair();
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, b, C.EPOLLIN)).toBe(0);
    const ev = new Int32Array(8);
    expect(sys.epoll_wait(ep, ev, 4, 0)).toBe(0);
    sys.write(a, Buffer.from('hello'));
    for (let i = 0; i < 3; i++) {
      expect(sys.epoll_wait(ep, ev, 4, 0)).toBe(1);
      expect(ev[0]).toBe(C.EPOLLIN);
      expect(ev[1]).toBe(b);
    }
    expect(drain(b)).toBe(5);
    expect(sys.epoll_wait(ep, ev, 4, 0)).toBe(0);
  });

  it('edge-triggered: reports once per arrival, even if the data is never read', () => {
    const ep = epoll();
    const [a, b] = unixPair();
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, b, C.EPOLLIN | C.EPOLLET)).toBe(0);
    const ev = new Int32Array(8);
    sys.write(a, Buffer.from('one'));
    expect(sys.epoll_wait(ep, ev, 4, 0)).toBe(1);
    expect(sys.epoll_wait(ep, ev, 4, 0)).toBe(0); // still unread, but no new edge
    sys.write(a, Buffer.from('two'));
    expect(sys.epoll_wait(ep, ev, 4, 0)).toBe(1); // new data: a new edge
    expect(ev[1]).toBe(b);
    expect(drain(b)).toBe(6);
  });

  it('EPOLLONESHOT disarms after one report until EPOLL_CTL_MOD re-arms it', () => {
    const ep = epoll();
    const [a, b] = unixPair();
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, b, C.EPOLLIN | C.EPOLLONESHOT), 'epoll_ctl');
    sys.write(a, Buffer.from('x'));
    const ev = new Int32Array(2);
    expect(sys.epoll_wait(ep, ev, 1, 0)).toBe(1);
    expect(sys.epoll_wait(ep, ev, 1, 0)).toBe(0);
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_MOD, b, C.EPOLLIN | C.EPOLLONESHOT)).toBe(0);
    expect(sys.epoll_wait(ep, ev, 1, 0)).toBe(1);
  });

  it('EPOLLOUT, and the EPOLLET bit reads back (it is 1 << 31, negative as an int32)', () => {
    const ep = epoll();
    const [a] = unixPair();
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, a, C.EPOLLOUT | C.EPOLLET), 'epoll_ctl');
    expect(C.EPOLLET).toBe(1 << 31);
    const events = new Int32Array(8);
    expect(sys.epoll_wait(ep, events, 4, 0)).toBe(1);
    expect(events[1]).toBe(a);
    expect(events[0]).toBe(C.EPOLLOUT);
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_MOD, a, C.EPOLLOUT | C.EPOLLET), 'epoll_ctl');
    expect(sys.epoll_wait(ep, events, 4, 0)).toBe(1); // MOD re-arms the edge
    expect(events[0]! & C.EPOLLET).toBe(0); // EPOLLET is a request flag, never reported
  });

  it('EPOLLRDHUP when the TCP peer shuts down its writing side', () => {
    const ep = epoll();
    const { client, server } = tcpPair();
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, server, C.EPOLLIN | C.EPOLLRDHUP), 'epoll_ctl');
    const events = new Int32Array(8);
    expect(sys.epoll_wait(ep, events, 4, 0)).toBe(0);
    sys.shutdown(client, C.SHUT_WR);
    expect(sys.epoll_wait(ep, events, 4, 10_000)).toBe(1); // the FIN arrives: returns at once, not after 10 s
    expect(events[0]! & C.EPOLLRDHUP).toBe(C.EPOLLRDHUP);
    expect(events[0]! & C.EPOLLHUP).toBe(0); // we can still write: only half closed
    expect(events[0]! & C.EPOLLIN).toBe(C.EPOLLIN);
    expect(drain(server)).toBe(0);
  });

  it('EPOLLHUP | EPOLLERR when the peer resets the connection', () => {
    const ep = epoll();
    const { client, server } = tcpPair();
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, server, C.EPOLLIN), 'epoll_ctl');
    // Closing a socket with unread data sends RST instead of FIN (RFC 2525 / tcp(7)).
    sys.write(server, Buffer.from('unread'));
    const fds = new Int32Array([client, C.POLLIN, 0]);
    expect(sys.poll(fds, 1, 10_000)).toBe(1);
    closeNow(client);
    const ev = new Int32Array(4);
    expect(sys.epoll_wait(ep, ev, 2, 10_000)).toBe(1);
    expect(ev[0]! & (C.EPOLLHUP | C.EPOLLERR)).not.toBe(0);
    expect(drain(server)).toBe(-C.ECONNRESET);
  });

  it('epoll_ctl errors: EEXIST, ENOENT, EBADF; epoll_wait on a non-epoll fd is EINVAL', () => {
    const ep = epoll();
    const [a] = unixPair();
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, a, C.EPOLLIN)).toBe(0);
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, a, C.EPOLLIN)).toBe(-C.EEXIST);
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_DEL, a, 0)).toBe(0);
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_DEL, a, 0)).toBe(-C.ENOENT);
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_MOD, a, C.EPOLLIN)).toBe(-C.ENOENT);
    expect(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, 1_000_000, C.EPOLLIN)).toBe(-C.EBADF);
    expect(sys.epoll_wait(a, new Int32Array(2), 1, 0)).toBe(-C.EINVAL);
    expect(() => sys.epoll_wait(ep, new Int32Array(2), 0, 0)).toThrow(RangeError);
  });

  it('returns at most maxevents, the rest on the next call', () => {
    const ep = epoll();
    const pairs = [unixPair(), unixPair(), unixPair()];
    for (const [a, b] of pairs) {
      sys.write(a, Buffer.from('x'));
      sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, b, C.EPOLLIN | C.EPOLLET), 'epoll_ctl');
    }
    const ev = new Int32Array(16);
    const seen = new Set<number>();
    expect(sys.epoll_wait(ep, ev, 2, 0)).toBe(2);
    seen.add(ev[1]!).add(ev[3]!);
    expect(sys.epoll_wait(ep, ev, 2, 0)).toBe(1);
    seen.add(ev[1]!);
    expect(seen).toEqual(new Set(pairs.map(([, b]) => b)));
  });

  it('the listening socket is readable when a connection is pending', () => {
    const ep = epoll();
    const l = sys.listenTcp({ host: '127.0.0.1', port: 0, nonBlocking: true });
    track(l.fd);
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, l.fd, C.EPOLLIN), 'epoll_ctl');
    const ev = new Int32Array(2);
    expect(sys.epoll_wait(ep, ev, 1, 0)).toBe(0);
    const c = track(sys.socket(C.AF_INET, C.SOCK_STREAM, 0));
    sys.check(sys.connect(c, '127.0.0.1', l.port), 'connect');
    expect(sys.epoll_wait(ep, ev, 1, 10_000)).toBe(1);
    expect(ev[1]).toBe(l.fd);
    track(sys.check(sys.accept4(l.fd, C.SOCK_NONBLOCK), 'accept4'));
    expect(sys.accept4(l.fd, 0)).toBe(-C.EAGAIN);
  });
});

/** epoll_wait / epoll_pwait syscall numbers, as /proc/<pid>/task/<tid>/syscall shows them. */
const EPOLL_WAIT_NR: Record<string, number[]> = { x64: [232, 281], arm64: [22] };

/**
 * Resolve once thread `tid` of this process sits in epoll_wait (proc(5): the `syscall` file's
 * first field is the number of the call the thread is blocked in). Yields between looks.
 */
async function blockedInEpollWait(tid: number): Promise<void> {
  const numbers = EPOLL_WAIT_NR[process.arch];
  if (!numbers) return; // unknown architecture: the wake-up is still tested, just not "while blocked"
  for (;;) {
    const nr = Number(readFileSync(`/proc/self/task/${tid}/syscall`, 'utf8').split(' ')[0]);
    if (numbers.includes(nr)) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('eventfd', () => {
  it('eventfdSignal adds to the counter; eventfdDrain reads and resets it', () => {
    const efd = track(sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC));
    expect(sys.eventfdDrain(efd)).toBe(0);
    sys.eventfdSignal(efd);
    sys.eventfdSignal(efd, 41);
    expect(sys.eventfdDrain(efd)).toBe(42);
    expect(sys.eventfdDrain(efd)).toBe(0);
    expect(sys.read(efd, Buffer.alloc(8))).toBe(-C.EAGAIN);
    expect(sys.read(efd, Buffer.alloc(4))).toBe(-C.EINVAL); // the counter is 8 bytes
  });

  it('EFD_SEMAPHORE hands out the count one at a time; initval counts', () => {
    const efd = track(sys.eventfd(2, C.EFD_NONBLOCK | C.EFD_SEMAPHORE));
    expect(sys.eventfdDrain(efd)).toBe(1);
    expect(sys.eventfdDrain(efd)).toBe(1);
    expect(sys.eventfdDrain(efd)).toBe(0);
    expect(() => sys.eventfdSignal(1_000_000)).toThrow('write eventfd: EBADF');
  });

  it('wakes an epoll_wait blocked forever on another thread', async () => {
    const ep = epoll();
    const efd = track(sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC));
    sys.check(sys.epoll_ctl(ep, C.EPOLL_CTL_ADD, efd, C.EPOLLIN), 'epoll_ctl');
    const worker = new Worker(fixture('epoll-wait-worker.mjs'), { workerData: { epfd: ep } });
    const messages: { tid?: number; n?: number; events?: number; fd?: number }[] = [];
    const next = (): Promise<(typeof messages)[number]> =>
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    const { tid } = await next(); // the worker says who it is, then blocks
    expect(tid).not.toBe(sys.gettid());
    await blockedInEpollWait(tid!);
    const woke = next();
    sys.eventfdSignal(efd);
    const r = await woke;
    expect(r).toMatchObject({ n: 1, events: C.EPOLLIN, fd: efd });
    expect(sys.eventfdDrain(efd)).toBe(1);
    await worker.terminate();
  });
});
