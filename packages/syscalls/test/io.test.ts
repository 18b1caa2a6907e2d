import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as sys from '../src/index.js';
import { C, SysError } from '../src/index.js';
import { fixture } from './spawn.js';
import { closeAll, closeNow, pattern, tcpPair, track, unixPair } from './util.js';

afterEach(closeAll);

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'syscalls-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A temp file holding `bytes`, opened read-only; the fd is tracked. */
function tempFile(name: string, bytes: Uint8Array): number {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return track(openSync(path, 'r'));
}

/**
 * Read `fd` to EOF on a worker thread (with blocking reads) while this thread writes: a blocking
 * writer and its reader cannot share one thread once the socket buffer fills.
 */
function drainOnWorker(fd: number): Promise<Buffer> {
  const w = new Worker(fixture('drain-worker.mjs'), { workerData: { fd } });
  return new Promise((resolve, reject) => {
    w.on('message', (m: { bytes?: Uint8Array; error?: string }) => {
      if (m.error) reject(new Error(m.error));
      else if (m.bytes) resolve(Buffer.from(m.bytes));
    });
    w.on('error', reject);
  });
}

/** Read whatever is buffered on a non-blocking fd, until -EAGAIN (or EOF). */
function readAvailable(fd: number, into: Buffer[]): number {
  const buf = Buffer.alloc(64 * 1024);
  let total = 0;
  for (;;) {
    const n = sys.read(fd, buf);
    if (n === -C.EAGAIN || n === 0) return total;
    sys.check(n, 'read');
    into.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
}

describe('read / write', () => {
  it('moves bytes across a socketpair; read returns 0 at EOF', () => {
    const [a, b] = unixPair();
    expect(sys.write(a, Buffer.from('hello'))).toBe(5);
    const buf = Buffer.alloc(16);
    expect(sys.read(b, buf, 0, 16)).toBe(5);
    expect(buf.toString('utf8', 0, 5)).toBe('hello');
    expect(sys.shutdown(a, C.SHUT_WR)).toBe(0);
    expect(sys.read(b, buf)).toBe(0);
  });

  it('write accepts a plain Uint8Array and a zero length', () => {
    const [a, b] = unixPair();
    expect(sys.write(a, new Uint8Array([1, 2, 3]), 1)).toBe(2);
    expect(sys.write(a, new Uint8Array(4), 4, 0)).toBe(0);
    const buf = new Uint8Array(4);
    expect(sys.read(b, buf)).toBe(2);
    expect([...buf.subarray(0, 2)]).toEqual([2, 3]);
  });

  it('write to a closed peer is -EPIPE, not a signal (Node ignores SIGPIPE)', () => {
    const [a, b] = unixPair();
    closeNow(b);
    expect(sys.write(a, Buffer.from('x'))).toBe(-C.EPIPE);
  });

  it('write on a read-only file is -EBADF; read on a listening socket -ENOTCONN', () => {
    const fd = tempFile('ro.txt', Buffer.from('abc'));
    expect(sys.write(fd, Buffer.from('x'))).toBe(-C.EBADF);
    const { listener } = tcpPair();
    expect(sys.read(listener, Buffer.alloc(1))).toBe(-C.ENOTCONN);
  });
});

describe('writev', () => {
  it('gathers buffers in order in one call', () => {
    const [a, b] = unixPair();
    const parts = [Buffer.from('GET '), new Uint8Array(0), Buffer.from('/ HTTP/1.1\r\n'), new TextEncoder().encode('\r\n')];
    expect(sys.writev(a, parts)).toBe(18);
    const buf = Buffer.alloc(32);
    expect(sys.read(b, buf)).toBe(18);
    expect(buf.toString('utf8', 0, 18)).toBe('GET / HTTP/1.1\r\n\r\n');
    expect(sys.writev(a, [])).toBe(0);
  });

  it('takes more than 64 buffers (the heap path) up to IOV_MAX', () => {
    const [a, b] = unixPair();
    const parts = Array.from({ length: C.IOV_MAX }, (_, i) => Buffer.from([i & 0xff]));
    expect(sys.writev(a, parts)).toBe(C.IOV_MAX);
    const buf = Buffer.alloc(2 * C.IOV_MAX);
    expect(sys.read(b, buf)).toBe(C.IOV_MAX);
    expect(buf[0]).toBe(0);
    expect(buf[300]).toBe(300 & 0xff);
    expect(sys.writev(1_000_000, parts)).toBe(-C.EBADF);
  });

  it('on a non-blocking socket, writes short and then -EAGAIN; every byte accepted arrives', () => {
    const [a, b] = unixPair(C.SOCK_STREAM | C.SOCK_NONBLOCK);
    sys.check(sys.setsockopt(a, C.SOL_SOCKET, C.SO_SNDBUF, 4096), 'setsockopt');
    const chunk = pattern(256 * 1024);
    const halves = [chunk.subarray(0, 100_000), chunk.subarray(100_000)];
    const sent: number[] = [];
    for (;;) {
      const n = sys.writev(a, halves);
      if (n === -C.EAGAIN) break;
      sent.push(sys.check(n, 'writev'));
      expect(sent.length).toBeLessThan(1000); // the buffer must fill eventually
    }
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]).toBeLessThan(chunk.length); // a short write, not all or nothing
    const got: Buffer[] = [];
    readAvailable(b, got);
    const received = Buffer.concat(got);
    const expected = Buffer.concat(sent.map((n) => chunk.subarray(0, n)));
    expect(received.length).toBe(expected.length);
    expect(received.equals(expected)).toBe(true);
  });
});

describe('sendEach', () => {
  it('sends each buffer to its own socket in one call, and reports each result in place', () => {
    const pairs = [unixPair(), unixPair(), unixPair()];
    const shared = Buffer.from('one frame, many receivers');
    const fds = new Int32Array(8);
    const bufs = [shared, Buffer.from('own'), shared];
    pairs.forEach(([a], i) => (fds[i] = a));
    const results = new Int32Array(8).fill(99);
    expect(sys.sendEach(fds, bufs, 3, results)).toBe(3);
    expect(Array.from(results.subarray(0, 4))).toEqual([shared.length, 3, shared.length, 99]); // only `count` entries written
    const got = pairs.map(([, b]) => {
      const buf = Buffer.alloc(64);
      return buf.toString('utf8', 0, sys.read(b, buf));
    });
    expect(got).toEqual([shared.toString(), 'own', shared.toString()]);
  });

  it('gives -errno per socket (a closed peer: EPIPE, no SIGPIPE; not a socket: ENOTSOCK) and goes on', () => {
    const [a1, b1] = unixPair();
    const [a2] = unixPair();
    closeNow(b1);
    const p = new Int32Array(2);
    sys.check(sys.pipe2(p, C.O_CLOEXEC), 'pipe2');
    const [pr, pw] = [track(p[0]!), track(p[1]!)];
    const [a3, b3] = unixPair();
    const results = new Int32Array(4);
    sys.sendEach(Int32Array.of(a1, a2, pw, a3), [Buffer.from('x'), Buffer.from('y'), Buffer.from('z'), Buffer.from('w')], 4, results);
    expect(results[0]).toBe(-C.EPIPE);
    expect(results[1]).toBe(1);
    expect(results[2]).toBe(-C.ENOTSOCK);
    expect(results[3]).toBe(1);
    expect(sys.read(b3, Buffer.alloc(4))).toBe(1);
    expect(sys.write(pw, Buffer.from('p'))).toBe(1); // the pipe itself is fine: send(2) is for sockets
    expect(sys.read(pr, Buffer.alloc(4))).toBe(1);
  });

  it('on a full non-blocking socket, sends short, then -EAGAIN', () => {
    const [a] = unixPair(C.SOCK_STREAM | C.SOCK_NONBLOCK);
    sys.check(sys.setsockopt(a, C.SOL_SOCKET, C.SO_SNDBUF, 4096), 'setsockopt');
    const big = pattern(1024 * 1024);
    const results = new Int32Array(1);
    sys.sendEach(Int32Array.of(a), [big], 1, results);
    expect(results[0]).toBeGreaterThan(0);
    expect(results[0]).toBeLessThan(big.length);
    sys.sendEach(Int32Array.of(a), [big], 1, results);
    expect(results[0]).toBe(-C.EAGAIN);
  });

  it('throws for a count past any of its arrays, or arguments of the wrong type', () => {
    const [a] = unixPair();
    const one = [Buffer.from('x')];
    expect(() => sys.sendEach(Int32Array.of(a), one, 2, new Int32Array(2))).toThrow(RangeError);
    expect(() => sys.sendEach(Int32Array.of(a, a), one, 2, new Int32Array(2))).toThrow(RangeError);
    expect(() => sys.sendEach(Int32Array.of(a), one, 1, new Int32Array(0))).toThrow(RangeError);
    expect(() => sys.sendEach(Int32Array.of(a), one, -1, new Int32Array(1))).toThrow(RangeError);
    expect(() => sys.sendEach([a] as unknown as Int32Array, one, 1, new Int32Array(1))).toThrow(TypeError);
    expect(() => sys.sendEach(Int32Array.of(a), ['x'] as unknown as Uint8Array[], 1, new Int32Array(1))).toThrow(TypeError);
    expect(sys.sendEach(Int32Array.of(a), one, 0, new Int32Array(0))).toBe(0);
  });
});

describe('sendfile', () => {
  it('copies a temp file across a socketpair byte-exactly, from an explicit offset', () => {
    const content = pattern(300_000, 7);
    const file = tempFile('big.bin', content);
    const [a, b] = unixPair(C.SOCK_STREAM | C.SOCK_NONBLOCK);
    const got: Buffer[] = [];
    const offset = 1000;
    let done = 0;
    while (done < content.length - offset) {
      const n = sys.sendfile(a, file, offset + done, content.length - offset - done);
      if (n === -C.EAGAIN) {
        readAvailable(b, got); // make room: the reader is this same thread
        continue;
      }
      done += sys.check(n, 'sendfile');
    }
    sys.shutdown(a, C.SHUT_WR);
    const fds = new Int32Array([b, C.POLLIN, 0]);
    while (sys.poll(fds, 1, 10_000) > 0 && readAvailable(b, got) > 0);
    expect(Buffer.concat(got).equals(content.subarray(offset))).toBe(true);
    // The file's own position was never used or moved.
    const head = Buffer.alloc(4);
    expect(sys.read(file, head)).toBe(4);
    expect(head.equals(content.subarray(0, 4))).toBe(true);
  });

  it('past the end of the file sends 0; from a bad fd -EBADF; a slice from the middle', () => {
    const file = tempFile('small.txt', Buffer.from('0123456789'));
    const [a, b] = unixPair();
    expect(sys.sendfile(a, file, 10, 5)).toBe(0);
    expect(sys.sendfile(a, 1_000_000, 0, 5)).toBe(-C.EBADF);
    expect(sys.sendfile(a, file, 2, 3)).toBe(3);
    const buf = Buffer.alloc(8);
    expect(sys.read(b, buf)).toBe(3);
    expect(buf.toString('utf8', 0, 3)).toBe('234');
    expect(() => sys.sendfile(a, file, -1, 3)).toThrow(RangeError);
  });

  it('sendfileAll sends a large file through a blocking socket read by another thread', async () => {
    const content = pattern(2_000_000, 3);
    const file = tempFile('large.bin', content);
    const [a, b] = unixPair();
    const received = drainOnWorker(b);
    expect(sys.sendfileAll(a, file, 0, content.length)).toBe(content.length);
    expect(sys.sendfileAll(a, file, content.length - 10, 100)).toBe(10); // the file ends first
    sys.shutdown(a, C.SHUT_WR);
    const bytes = await received;
    expect(bytes.length).toBe(content.length + 10);
    expect(bytes.subarray(0, content.length).equals(content)).toBe(true);
  });
});

describe('writevAll', () => {
  it('writes more than the socket buffer holds, in more buffers than one writev takes, blocking or not', async () => {
    const content = pattern(3_000_000, 11);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < content.length; at += 20_000) chunks.push(content.subarray(at, at + 20_000)); // 150 buffers
    chunks.splice(3, 0, new Uint8Array(0)); // an empty buffer is no trouble
    const before = [...chunks];
    for (const nonBlocking of [false, true]) {
      const [a, b] = unixPair(C.SOCK_STREAM | (nonBlocking ? C.SOCK_NONBLOCK : 0));
      if (nonBlocking) sys.setNonBlocking(b, false); // the draining worker reads blocking
      const received = drainOnWorker(b);
      sys.writevAll(a, chunks);
      sys.shutdown(a, C.SHUT_WR);
      expect((await received).equals(content)).toBe(true);
    }
    expect(chunks.every((c, i) => c === before[i])).toBe(true); // the caller's array is left as it was
  });

  it('throws SysError EPIPE when the peer is gone', () => {
    const [a, b] = unixPair();
    closeNow(b);
    expect(() => sys.writevAll(a, [Buffer.from('x')])).toThrow(SysError);
    expect(() => sys.writevAll(a, [Buffer.from('x')])).toThrow('writev: EPIPE');
  });
});

describe('fcntl / setNonBlocking', () => {
  it('O_NONBLOCK round-trips, keeping the other flags', () => {
    const [a] = unixPair();
    const before = sys.fcntl(a, C.F_GETFL, 0);
    expect(before & C.O_NONBLOCK).toBe(0);
    sys.setNonBlocking(a);
    expect(sys.fcntl(a, C.F_GETFL, 0)).toBe(before | C.O_NONBLOCK);
    expect(sys.read(a, Buffer.alloc(1))).toBe(-C.EAGAIN);
    sys.setNonBlocking(a, false);
    expect(sys.fcntl(a, C.F_GETFL, 0)).toBe(before);
    expect(sys.fcntl(a, C.F_SETFL, C.O_NONBLOCK)).toBe(0);
    expect(sys.fcntl(a, C.F_GETFL)).toBe(before | C.O_NONBLOCK);
  });

  it('FD_CLOEXEC via F_GETFD/F_SETFD; bad fd is -EBADF, and setNonBlocking throws', () => {
    const [a] = unixPair();
    expect(sys.fcntl(a, C.F_GETFD, 0)).toBe(C.FD_CLOEXEC);
    expect(sys.fcntl(a, C.F_SETFD, 0)).toBe(0);
    expect(sys.fcntl(a, C.F_GETFD, 0)).toBe(0);
    expect(sys.fcntl(1_000_000, C.F_GETFL, 0)).toBe(-C.EBADF);
    expect(() => sys.setNonBlocking(1_000_000)).toThrow('fcntl F_GETFL: EBADF');
  });
});

describe('pipe2', () => {
  it('makes a pipe with the flags asked for', () => {
    const p = new Int32Array(2);
    expect(sys.pipe2(p, C.O_NONBLOCK | C.O_CLOEXEC)).toBe(0);
    const [r, w] = [track(p[0]!), track(p[1]!)];
    expect(sys.read(r, Buffer.alloc(1))).toBe(-C.EAGAIN);
    expect(sys.write(w, Buffer.from('|'))).toBe(1);
    expect(sys.read(r, Buffer.alloc(1))).toBe(1);
    expect(sys.fcntl(w, C.F_GETFD, 0)).toBe(C.FD_CLOEXEC);
    expect(() => sys.pipe2(new Int32Array(1))).toThrow(RangeError);
  });
});
