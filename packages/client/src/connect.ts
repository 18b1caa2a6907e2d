/**
 * Non-blocking connect, as a reactor does it (muduo's Connector, libuv's uv_tcp_connect):
 *
 *   socket(O_NONBLOCK) → connect() → -EINPROGRESS → wait for EPOLLOUT → getsockopt(SO_ERROR)
 *                                                                        0: connected; else its errno
 *
 * A blocking connect() sleeps for the whole TCP handshake (a round trip; on a lost SYN, seconds).
 * A non-blocking one starts the handshake and returns at once with EINPROGRESS; the socket turns
 * writable when the handshake ends, either way. Writable does not mean connected: the outcome is
 * the socket's pending error, which getsockopt(SO_ERROR) reads (and clears) — 0, or ECONNREFUSED
 * (the port is closed: the peer answered the SYN with a RST), ETIMEDOUT, EHOSTUNREACH...
 * (connect(2), "EINPROGRESS"). On loopback the kernel may also finish the handshake inside the
 * call and return 0, or refuse at once: all three outcomes are handled.
 *
 * Ownership: until `done` runs, the socket belongs to the connect; `done(null, fd)` hands it to the
 * caller (who adopts it into a reactor, or closes it). Threads: the reactor's thread only.
 */
import * as sys from '@course/syscalls';
import type { Reactor } from '05-epoll-native';

const { C } = sys;

export interface ConnectOptions {
  /** Give up (ETIMEDOUT) if the handshake has not finished within this many ms. Default 10000. */
  timeoutMs?: number;
}

/** How the connect ended: the fd, and whether it went through EINPROGRESS (for tests and tracing). */
export interface Connected {
  fd: number;
  inProgress: boolean;
}

export type ConnectCallback = (err: sys.SysError | null, conn?: Connected) => void;

/**
 * Start a TCP connect to `host:port` (an IP literal) on `reactor`; `done` runs exactly once on the
 * reactor's thread — possibly before this returns, when the kernel answers at once. A failure is a
 * SysError whose `code` is the errno name: `connect 127.0.0.1:1: ECONNREFUSED`.
 */
// #region non-blocking-connect
export function connectNonBlocking(reactor: Reactor, host: string, port: number, done: ConnectCallback, opts: ConnectOptions = {}): void {
  const where = sys.formatHostPort(host, port);
  const family = host.includes(':') ? C.AF_INET6 : C.AF_INET;
  const fd = sys.socket(family, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
  if (fd < 0) return done(new sys.SysError(-fd, 'socket'));

  const r = sys.connect(fd, host, port);
  if (r === 0) return done(null, { fd, inProgress: false }); // loopback may finish the handshake at once
  if (r !== -C.EINPROGRESS) {
    sys.close(fd);
    return done(new sys.SysError(-r, 'connect', where));
  }

  // In progress: the socket becomes writable when the handshake ends, well or badly.
  let pending = true;
  reactor.watch(
    fd,
    () => {
      if (!pending) return;
      pending = false;
      reactor.unwatch(fd); // the connection, if any, is registered again by whoever adopts it
      const soError = sys.getsockopt(fd, C.SOL_SOCKET, C.SO_ERROR);
      const errno = soError < 0 ? -soError : soError; // getsockopt itself failing is as bad
      if (errno === 0) return done(null, { fd, inProgress: true });
      sys.close(fd);
      done(new sys.SysError(errno, 'connect', where));
    },
    false,
    C.EPOLLOUT,
  );
  reactor.after(opts.timeoutMs ?? 10_000, () => {
    if (!pending) return;
    pending = false;
    reactor.unwatch(fd);
    sys.close(fd); // closing abandons the handshake
    done(new sys.SysError(C.ETIMEDOUT, 'connect', where));
  });
}
// #endregion non-blocking-connect
