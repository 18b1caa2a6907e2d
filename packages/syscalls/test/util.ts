/**
 * Small fixtures shared by the tests: connected socket pairs and an fd tracker that closes
 * everything a test opened. Used only on the vitest worker's thread.
 */
import { C, check, close, socketpair, listenTcp, socket, connect, accept4 } from '../src/index.js';

/** Every fd a test opens goes here; `closeAll` runs in afterEach. */
const open = new Set<number>();

export function track(fd: number): number {
  check(fd, 'open');
  open.add(fd);
  return fd;
}

/** Close a tracked fd now (so closeAll will not close its reused number later). */
export function closeNow(fd: number): void {
  open.delete(fd);
  check(close(fd), 'close');
}

export function closeAll(): void {
  for (const fd of open) close(fd);
  open.clear();
}

/** A connected AF_UNIX stream pair: [a, b]. */
export function unixPair(type = C.SOCK_STREAM): [number, number] {
  const out = new Int32Array(2);
  check(socketpair(C.AF_UNIX, type | C.SOCK_CLOEXEC, 0, out), 'socketpair');
  return [track(out[0]!), track(out[1]!)];
}

/**
 * A loopback TCP connection made with blocking calls in one thread: connect() to a listening
 * socket completes in the kernel (the handshake needs no accept), then accept4 finds it queued.
 */
export function tcpPair(host = '127.0.0.1'): { listener: number; port: number; client: number; server: number } {
  const l = listenTcp({ host, port: 0 });
  track(l.fd);
  const client = track(socket(host.includes(':') ? C.AF_INET6 : C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0));
  check(connect(client, host, l.port), 'connect');
  const server = track(accept4(l.fd, C.SOCK_CLOEXEC));
  return { listener: l.fd, port: l.port, client, server };
}

/** Bytes 0..n-1 of a recognisable pattern, so reordering or loss shows. */
export function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return b;
}
