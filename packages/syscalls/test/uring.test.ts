/**
 * io_uring through the addon: every prep call against real sockets, files and pipes, checked by
 * what the completions say and what the other end receives.
 */
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sys from '../src/index.js';
import { C, URING } from '../src/index.js';
import { closeAll, closeNow, pattern, tcpPair, track, unixPair } from './util.js';
import { fixture } from './spawn.js';
import { Worker } from 'node:worker_threads';

/** One completion as harvested. */
interface Cqe {
  userData: number;
  res: number;
  flags: number;
}

/** 0 where the kernel gives this process an io_uring; else the -errno it refuses with. */
const SUPPORT = probe();

function probe(): number {
  const r = sys.uringSetup(8, 0, 0);
  if (r >= 0) sys.uringExit(r);
  return r < 0 ? r : 0;
}

let ring = -1;
const out = new Int32Array(3 * 64);

/** What is waiting on `fd`, as text (one read). */
function readText(fd: number): string {
  const buf = Buffer.alloc(256);
  const n = sys.read(fd, buf);
  return n > 0 ? buf.toString('utf8', 0, n) : '';
}

/** Submit what is prepared and wait for `n` completions (each within 5 s). */
function complete(n: number): Cqe[] {
  const got: Cqe[] = [];
  const giveUp = Date.now() + 5000;
  while (got.length < n) {
    if (Date.now() > giveUp) throw new Error(`only ${got.length} of ${n} completions`);
    const r = sys.uringSubmitAndWait(ring, 1, 1000);
    if (r < 0 && r !== -URING.ETIME && r !== -C.EINTR) throw new Error(`uringSubmitAndWait: ${sys.errnoName(r)}`);
    const k = sys.uringHarvest(ring, out, 64);
    for (let i = 0; i < k; i++) got.push({ userData: out[3 * i]! >>> 0, res: out[3 * i + 1]!, flags: out[3 * i + 2]! });
  }
  return got;
}

let dir = '';
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'uring-test-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(() => {
  if (ring >= 0) sys.uringExit(ring);
  ring = -1;
  closeAll();
});

function setup(entries = 8): void {
  ring = sys.uringSetup(entries, 0, 0);
  expect(ring).toBeGreaterThanOrEqual(0);
}

describe('the unavailable path', () => {
  it('the test hook makes setup fail with the errno it names, and the reason names the cause', () => {
    process.env[sys.URING_SETUP_ERRNO_ENV] = 'EPERM';
    try {
      expect(sys.uringSetup(8, 0, 0)).toBe(-C.EPERM);
    } finally {
      delete process.env[sys.URING_SETUP_ERRNO_ENV];
    }
    expect(sys.uringUnavailableReason(-C.EPERM)).toMatch(/io_uring_disabled.*seccomp|seccomp.*io_uring_disabled/);
    expect(sys.uringUnavailableReason(-C.ENOSYS)).toMatch(/ENOSYS/);
  });
});

// Where io_uring is refused (an old kernel, kernel.io_uring_disabled, a container's seccomp
// profile), the calls below cannot run; what is checked instead is that setup says why.
if (SUPPORT === 0) {
  describe('uringSetup', () => {
    it('maps a ring and reports the features the loop relies on', () => {
      setup();
      const f = sys.uringFeatures(ring);
      for (const bit of [URING.IORING_FEAT_SINGLE_MMAP, URING.IORING_FEAT_NODROP, URING.IORING_FEAT_SUBMIT_STABLE, URING.IORING_FEAT_EXT_ARG]) {
        expect(f & bit).toBe(bit);
      }
      expect(sys.uringFd(ring)).toBeGreaterThan(2);
    });

    it('fails with -errno, not a throw, for flags the kernel refuses', () => {
      // DEFER_TASKRUN requires SINGLE_ISSUER: the kernel says EINVAL.
      expect(sys.uringSetup(8, 0, URING.IORING_SETUP_DEFER_TASKRUN)).toBe(-C.EINVAL);
    });


    it('throws RangeError for a handle that is not an open ring', () => {
      expect(() => sys.uringHarvest(63, out, 1)).toThrow(RangeError);
      setup();
      sys.uringExit(ring);
      const closed = ring;
      ring = -1;
      expect(() => sys.uringSubmitAndWait(closed, 0, 0)).toThrow(RangeError);
    });
  });

  describe('submission and completion', () => {
    it('a timeout completes with -ETIME; a cancelled one with -ECANCELED', () => {
      setup();
      expect(sys.uringPrepTimeout(ring, 1, 1)).toBe(0);
      expect(complete(1)).toEqual([{ userData: 1, res: -URING.ETIME, flags: 0 }]);
      expect(sys.uringPrepTimeout(ring, 60_000, 2)).toBe(0);
      expect(sys.uringSubmitAndWait(ring, 0, 0)).toBe(1);
      expect(sys.uringPrepCancel(ring, 2, 3)).toBe(0);
      const got = complete(2).sort((a, b) => a.userData - b.userData);
      expect(got).toEqual([{ userData: 2, res: -URING.ECANCELED, flags: 0 }, { userData: 3, res: 0, flags: 0 }]);
    });

    it('says -EBUSY when the submission queue is full, and accepts more once submitted', () => {
      setup(4);
      for (let i = 0; i < 4; i++) expect(sys.uringPrepTimeout(ring, 0, 10 + i)).toBe(0);
      expect(sys.uringPrepTimeout(ring, 0, 99)).toBe(-URING.EBUSY);
      expect(complete(4).map((c) => c.userData).sort()).toEqual([10, 11, 12, 13]);
      expect(sys.uringPrepTimeout(ring, 0, 14)).toBe(0);
      expect(complete(1)[0]!.userData).toBe(14);
    });

    it('waits with a time limit: -ETIME when nothing completes', () => {
      setup();
      expect(sys.uringSubmitAndWait(ring, 1, 20)).toBe(-URING.ETIME);
      expect(sys.uringHarvest(ring, out, 64)).toBe(0);
    });

    it('returns userData unchanged across all 32 bits', () => {
      setup();
      sys.uringPrepTimeout(ring, 0, 0xfffffffe);
      expect(complete(1)[0]!.userData).toBe(0xfffffffe);
    });
  });

  describe('sockets', () => {
    it('multishot accept: one completion per connection, still armed (F_MORE)', () => {
      setup();
      const l = sys.listenTcp({ host: '127.0.0.1', port: 0 });
      track(l.fd);
      expect(sys.uringPrepAccept(ring, l.fd, C.SOCK_CLOEXEC, true, 5)).toBe(0);
      expect(sys.uringSubmitAndWait(ring, 0, 0)).toBe(1);
      for (let i = 0; i < 3; i++) {
        const c = track(sys.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0));
        sys.check(sys.connect(c, '127.0.0.1', l.port), 'connect');
      }
      const got = complete(3);
      for (const c of got) {
        expect(c.userData).toBe(5);
        expect(c.res).toBeGreaterThan(2);
        track(c.res);
        expect(c.flags & URING.IORING_CQE_F_MORE).toBe(URING.IORING_CQE_F_MORE);
      }
      // Cancelling the multishot request ends it: its last completion has no F_MORE.
      sys.uringPrepCancel(ring, 5, 6);
      const end = complete(2).find((c) => c.userData === 5)!;
      expect(end.res).toBe(-URING.ECANCELED);
      expect(end.flags & URING.IORING_CQE_F_MORE).toBe(0);
    });

    it('recv picks a provided buffer, names it in the flags; an empty group says -ENOBUFS', () => {
      setup();
      const mem = sys.uringBufRing(ring, 3, 2, 1024);
      if (typeof mem === 'number') throw new Error(`uringBufRing: ${sys.errnoName(mem)}`);
      expect(mem.byteLength).toBe(2048);
      const [a, b] = unixPair();
      const bids: number[] = [];
      for (const word of ['first', 'second']) {
        sys.write(b, Buffer.from(word));
        sys.uringPrepRecv(ring, a, 3, 0, false, 1);
        const [c] = complete(1);
        expect(c!.res).toBe(word.length);
        expect(c!.flags & URING.IORING_CQE_F_BUFFER).toBe(URING.IORING_CQE_F_BUFFER);
        const bid = c!.flags >>> URING.IORING_CQE_BUFFER_SHIFT;
        bids.push(bid);
        expect(Buffer.from(mem, bid * 1024, c!.res).toString()).toBe(word);
      }
      expect(new Set(bids).size).toBe(2);
      // Both buffers are out: the next recv finds none.
      sys.write(b, Buffer.from('third'));
      sys.uringPrepRecv(ring, a, 3, 0, false, 2);
      expect(complete(1)[0]!.res).toBe(-URING.ENOBUFS);
      // One handed back is used again; the bytes were waiting in the socket all along.
      expect(sys.uringBufReturn(ring, 3, bids[0]!)).toBe(0);
      sys.uringPrepRecv(ring, a, 3, 0, false, 2);
      const [c] = complete(1);
      expect(c!.flags >>> URING.IORING_CQE_BUFFER_SHIFT).toBe(bids[0]);
      expect(Buffer.from(mem, bids[0]! * 1024, c!.res).toString()).toBe('third');
      expect(sys.uringBufReturn(ring, 9, 0)).toBe(-C.ENOENT);
      expect(() => sys.uringBufReturn(ring, 3, 2)).toThrow(RangeError);
    });

    it('recv of a peer that closed completes with 0', () => {
      setup();
      sys.uringBufRing(ring, 0, 1, 64);
      const [a, b] = unixPair();
      sys.shutdown(b, C.SHUT_WR);
      sys.uringPrepRecv(ring, a, 0, 0, false, 1);
      expect(complete(1)[0]!.res).toBe(0);
    });

    it('send and writev deliver bytes in order; writev gathers several buffers in one request', () => {
      setup();
      const { client, server } = tcpPair();
      const parts = [pattern(1000, 1), pattern(3000, 2), pattern(10, 3)];
      expect(sys.uringPrepSend(ring, server, parts[0]!, 100, 900, URING.MSG_NOSIGNAL, 1)).toBe(0);
      sys.uringSetSqeFlags(ring, URING.IOSQE_IO_LINK); // the writev runs only after the send
      expect(sys.uringPrepWritev(ring, server, parts, 1, 2, 2)).toBe(0);
      const got = complete(2).sort((a, b) => a.userData - b.userData);
      expect(got.map((c) => c.res)).toEqual([900, 3010]);
      const want = Buffer.concat([parts[0]!.subarray(100), parts[1]!, parts[2]!]);
      const buf = Buffer.alloc(want.length);
      let n = 0;
      while (n < want.length) n += sys.check(sys.read(client, buf, n, want.length - n), 'read');
      expect(buf.equals(want)).toBe(true);
    });

    it('cancel by fd, hard-linked to close: pending recvs end with -ECANCELED and the fd is closed', () => {
      setup();
      sys.uringBufRing(ring, 0, 4, 64);
      const [a, b] = unixPair();
      sys.uringPrepRecv(ring, a, 0, 0, false, 1);
      sys.uringSubmitAndWait(ring, 0, 0);
      sys.uringPrepCancelFd(ring, a, 2);
      sys.uringSetSqeFlags(ring, URING.IOSQE_IO_HARDLINK); // close even if there was nothing to cancel
      sys.uringPrepClose(ring, a, 3);
      const got = complete(3).sort((x, y) => x.userData - y.userData);
      expect(got.map((c) => c.res)).toEqual([-URING.ECANCELED, 1, 0]);
      expect(sys.fcntl(a, C.F_GETFD)).toBe(-C.EBADF);
      // The peer sees the close.
      expect(sys.read(b, Buffer.alloc(1))).toBe(0);
      // Nothing pending: the cancel finds none (0), and a hard link still runs what follows.
      sys.uringPrepCancelFd(ring, b, 4);
      expect(complete(1)[0]).toEqual({ userData: 4, res: 0, flags: 0 });
    });
  });

  describe('files', () => {
    it('read at an explicit file offset', () => {
      setup();
      const path = join(dir, 'f.bin');
      const data = pattern(10_000, 7);
      writeFileSync(path, data);
      const fd = track(openSync(path, 'r'));
      const buf = Buffer.alloc(4096);
      expect(sys.uringPrepRead(ring, fd, buf, 96, 4000, 5000, 1)).toBe(0);
      expect(complete(1)[0]!.res).toBe(4000);
      expect(buf.subarray(96, 4096).equals(data.subarray(5000, 9000))).toBe(true);
      sys.uringPrepRead(ring, fd, buf, 0, 4096, 10_000, 2);
      expect(complete(1)[0]!.res).toBe(0); // at end of file
    });

    it('range-checks buffers like the other calls', () => {
      setup();
      expect(() => sys.uringPrepSend(ring, 0, Buffer.alloc(4), 2, 3, 0, 1)).toThrow(RangeError);
      expect(() => sys.uringPrepWritev(ring, 0, [Buffer.alloc(1)], 0, 2, 1)).toThrow(RangeError);
      expect(() => sys.uringPrepRecv(ring, 0, 0, 0, 'yes' as unknown as boolean, 1)).toThrow(TypeError);
    });
  });

  describe('uringSendEach / SendRing', () => {
    it('sends each buffer to its own socket in one submission, each result in place', () => {
      setup();
      const pairs = [unixPair(), unixPair(), unixPair()];
      const shared = Buffer.from('one frame, many receivers');
      const fds = new Int32Array(8);
      pairs.forEach(([a], i) => (fds[i] = a));
      const results = new Int32Array(8).fill(99);
      expect(sys.uringSendEach(ring, fds, [shared, Buffer.from('own'), shared], 3, results)).toBe(3);
      expect(Array.from(results.subarray(0, 4))).toEqual([shared.length, 3, shared.length, 99]); // only `count` entries written
      expect(pairs.map(([, b]) => readText(b))).toEqual([shared.toString(), 'own', shared.toString()]);
    });

    it('gives -errno per socket (a closed peer: EPIPE, no SIGPIPE; not a socket: ENOTSOCK) and goes on', () => {
      setup();
      const [a1, b1] = unixPair();
      const [a2] = unixPair();
      closeNow(b1);
      const p = new Int32Array(2);
      sys.check(sys.pipe2(p, C.O_CLOEXEC), 'pipe2');
      const pw = track(p[1]!);
      track(p[0]!);
      const [a3, b3] = unixPair();
      const results = new Int32Array(4);
      sys.uringSendEach(ring, Int32Array.of(a1, a2, pw, a3), [Buffer.from('x'), Buffer.from('y'), Buffer.from('z'), Buffer.from('w')], 4, results);
      expect(Array.from(results)).toEqual([-C.EPIPE, 1, -C.ENOTSOCK, 1]);
      expect(readText(b3)).toBe('w');
    });

    it('on a full non-blocking socket, sends short, then -EAGAIN, without holding up the others', () => {
      setup();
      const [a] = unixPair(C.SOCK_STREAM | C.SOCK_NONBLOCK);
      const [c, d] = unixPair(C.SOCK_STREAM | C.SOCK_NONBLOCK);
      sys.check(sys.setsockopt(a, C.SOL_SOCKET, C.SO_SNDBUF, 4096), 'setsockopt');
      const big = pattern(1024 * 1024);
      const results = new Int32Array(2);
      sys.uringSendEach(ring, Int32Array.of(a, c), [big, Buffer.from('1')], 2, results);
      expect(results[0]).toBeGreaterThan(0);
      expect(results[0]).toBeLessThan(big.length);
      expect(results[1]).toBe(1);
      sys.uringSendEach(ring, Int32Array.of(a, c), [big, Buffer.from('2')], 2, results);
      expect(Array.from(results)).toEqual([-C.EAGAIN, 1]);
      expect(readText(d)).toBe('12');
    });

    it('takes more sockets than its submission queue holds, one enter per queueful', () => {
      setup(8);
      const pairs = Array.from({ length: 21 }, () => unixPair());
      const bufs = pairs.map((_, i) => Buffer.from(`#${i}`));
      const results = new Int32Array(21);
      expect(sys.uringSendEach(ring, Int32Array.from(pairs.map(([a]) => a)), bufs, 21, results)).toBe(21);
      expect(Array.from(results)).toEqual(bufs.map((b) => b.length));
      expect(pairs.map(([, b]) => readText(b))).toEqual(bufs.map(String));
    });

    it('throws for a count past any of its arrays, arguments of the wrong type, or no ring', () => {
      setup();
      const [a] = unixPair();
      const one = [Buffer.from('x')];
      expect(() => sys.uringSendEach(ring, Int32Array.of(a), one, 2, new Int32Array(2))).toThrow(RangeError);
      expect(() => sys.uringSendEach(ring, Int32Array.of(a), one, 1, new Int32Array(0))).toThrow(RangeError);
      expect(() => sys.uringSendEach(ring, Int32Array.of(a), one, -1, new Int32Array(1))).toThrow(RangeError);
      expect(() => sys.uringSendEach(ring, Int32Array.of(a), ['x'] as unknown as Uint8Array[], 1, new Int32Array(1))).toThrow(TypeError);
      expect(() => sys.uringSendEach(63, Int32Array.of(a), one, 1, new Int32Array(1))).toThrow(RangeError);
      expect(sys.uringSendEach(ring, Int32Array.of(a), one, 0, new Int32Array(0))).toBe(0);
      // A bad buffer half-way leaves nothing behind in the ring: the next call sends only its own.
      const [c, d] = unixPair();
      expect(() => sys.uringSendEach(ring, Int32Array.of(c, c), [Buffer.from('a'), 'b' as unknown as Uint8Array], 2, new Int32Array(2))).toThrow(TypeError);
      const results = new Int32Array(2);
      sys.uringSendEach(ring, Int32Array.of(c, c), [Buffer.from('c'), Buffer.from('d')], 2, results);
      expect(Array.from(results)).toEqual([1, 1]);
      expect(readText(d)).toBe('cd');
    });

    it('when the enter fails, says so in every result and sends nothing; SendRing then sends with send(2)', async () => {
      // A single-issuer ring made on another thread: this thread's io_uring_enter gets EEXIST.
      const foreign = await new Promise<number>((resolve, reject) => {
        const w = new Worker(fixture('uring-owner-worker.mjs'), { workerData: { flags: URING.IORING_SETUP_SINGLE_ISSUER } });
        w.once('message', resolve);
        w.once('error', reject);
      });
      expect(foreign).toBeGreaterThanOrEqual(0);
      ring = foreign; // afterEach closes it
      const [a, b] = unixPair(C.SOCK_STREAM | C.SOCK_NONBLOCK);
      const results = new Int32Array(2);
      expect(sys.uringSendEach(ring, Int32Array.of(a, a), [Buffer.from('x'), Buffer.from('y')], 2, results)).toBe(-C.EEXIST);
      expect(Array.from(results)).toEqual([-C.EEXIST, -C.EEXIST]);
      expect(sys.read(b, Buffer.alloc(4))).toBe(-C.EAGAIN); // nothing left
      const fallback = new sys.SendRing(foreign);
      fallback.send(Int32Array.of(a, a, a), [Buffer.from('x'), Buffer.from('y'), Buffer.from('z')], 3, new Int32Array(3));
      expect(readText(b)).toBe('xyz');
      ring = -1; // SendRing closed it when it gave up on it
      fallback.send(Int32Array.of(a, a), [Buffer.from('1'), Buffer.from('2')], 2, results);
      expect(Array.from(results)).toEqual([1, 1]);
      expect(readText(b)).toBe('12');
    });

    it('SendRing.open gives a ring, or one line saying why io_uring cannot be used', () => {
      const ok = sys.SendRing.open();
      expect(ok).toBeInstanceOf(sys.SendRing);
      (ok as sys.SendRing).close();
      process.env[sys.URING_SETUP_ERRNO_ENV] = 'EPERM';
      try {
        expect(sys.SendRing.open()).toMatch(/not permitted.*EPERM/);
      } finally {
        delete process.env[sys.URING_SETUP_ERRNO_ENV];
      }
    });
  });
} else {
  describe('uringSetup on a machine without io_uring', () => {
    it('fails with the errno the kernel gave, and the reason names it', () => {
      expect([-C.ENOSYS, -C.EPERM, -C.EINVAL, -C.ENOMEM]).toContain(SUPPORT);
      expect(sys.uringUnavailableReason(SUPPORT)).toContain(sys.errnoName(SUPPORT));
    });
  });
}
