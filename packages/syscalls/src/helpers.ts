/**
 * Small helpers built from the raw calls, the way a C server keeps a `util.c`. They throw
 * `SysError` on failure (they are for set-up and blocking code, not for a non-blocking hot path).
 * Any thread may call them; the scratch buffers below are per module instance, and every
 * worker_thread has its own module instance.
 */
import { C } from './constants.js';
import { check } from './errors.js';
import * as raw from './raw.js';

/** Options for `listenTcp`. */
export interface ListenTcpOptions {
  /** IPv4 or IPv6 literal (`127.0.0.1`, `0.0.0.0`, `::1`, `::`). */
  host: string;
  /** 0 asks the kernel for a free port; the result tells which. */
  port: number;
  /** listen(2) backlog; default 511 (as nginx and Node use). */
  backlog?: number;
  /** SO_REUSEPORT, so several sockets (threads, processes) can listen on one port. */
  reusePort?: boolean;
  /** Make the listening socket O_NONBLOCK (accept4 then returns -EAGAIN when none is pending). */
  nonBlocking?: boolean;
}

/** A listening socket. The caller owns `fd` and closes it. */
export interface TcpListener {
  fd: number;
  /** The bound address as the kernel reports it. */
  host: string;
  /** The bound port (the real one when asked for port 0). */
  port: number;
}

/** `host:port`, with brackets around an IPv6 literal. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// #region listen-tcp
/**
 * socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen + getsockname. Throws SysError
 * (`bind 127.0.0.1:8080: EADDRINUSE`); the socket is closed if any step fails.
 */
export function listenTcp(opts: ListenTcpOptions): TcpListener {
  const { host, port, backlog = 511, reusePort = false, nonBlocking = false } = opts;
  const family = host.includes(':') ? C.AF_INET6 : C.AF_INET;
  const type = C.SOCK_STREAM | C.SOCK_CLOEXEC | (nonBlocking ? C.SOCK_NONBLOCK : 0);
  const fd = check(raw.socket(family, type, 0), 'socket');
  try {
    // SO_REUSEADDR: restart at once on a port whose old connections sit in TIME_WAIT.
    check(raw.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1), 'setsockopt', 'SO_REUSEADDR');
    if (reusePort) check(raw.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1), 'setsockopt', 'SO_REUSEPORT');
    check(raw.bind(fd, host, port), 'bind', formatHostPort(host, port));
    check(raw.listen(fd, backlog), 'listen', formatHostPort(host, port));
    const addr = check(raw.getsockname(fd), 'getsockname');
    return { fd, host: addr.address, port: addr.port };
  } catch (err) {
    raw.close(fd);
    throw err;
  }
}
// #endregion listen-tcp

/** Turn O_NONBLOCK on (or off) with fcntl F_GETFL/F_SETFL, keeping the other flags. */
export function setNonBlocking(fd: number, on = true): void {
  const flags = check(raw.fcntl(fd, C.F_GETFL, 0), 'fcntl', 'F_GETFL');
  const next = on ? flags | C.O_NONBLOCK : flags & ~C.O_NONBLOCK;
  if (next !== flags) check(raw.fcntl(fd, C.F_SETFL, next), 'fcntl', 'F_SETFL');
}

/** One (fd, events, revents) triplet for `waitWritable`. */
const pollOne = new Int32Array(3);

/** Block until `fd` is writable (used when a "blocking" helper meets a non-blocking fd). */
function waitWritable(fd: number): void {
  pollOne[0] = fd;
  pollOne[1] = C.POLLOUT;
  for (;;) {
    const r = raw.poll(pollOne, 1, -1);
    if (r === -C.EINTR) continue;
    check(r, 'poll');
    return;
  }
}

/** Buffers per writev: the addon keeps up to 64 iovecs on its stack (more would be malloc'd). */
const WRITEV_BATCH = 64;

// #region writev-all
/**
 * Write every byte of `chunks`, in order, blocking: one writev per round, advancing past what a
 * short write took; retries EINTR, and if the fd is non-blocking waits for POLLOUT on EAGAIN.
 * Throws SysError (EPIPE, ECONNRESET...) if the write fails. `chunks` itself is not modified.
 */
export function writevAll(fd: number, chunks: readonly Uint8Array[]): void {
  let rest = chunks;
  while (rest.length > 0) {
    const n = raw.writev(fd, rest.length <= WRITEV_BATCH ? rest : rest.slice(0, WRITEV_BATCH));
    if (n === -C.EINTR) continue;
    if (n === -C.EAGAIN) {
      waitWritable(fd);
      continue;
    }
    rest = skipBytes(rest, check(n, 'writev'));
  }
}
// #endregion writev-all

/** `chunks` without their first `n` bytes: a new array of views, no bytes copied. */
function skipBytes(chunks: readonly Uint8Array[], n: number): readonly Uint8Array[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i]!.length) n -= chunks[i++]!.length;
  const rest = chunks.slice(i);
  if (n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/**
 * sendfile `count` bytes of `inFd` from `offset`, blocking, retrying short sends, EINTR and
 * EAGAIN as `writevAll` does. Returns the bytes sent: fewer than `count` only if the file ended.
 */
export function sendfileAll(outFd: number, inFd: number, offset: number, count: number): number {
  let done = 0;
  while (done < count) {
    const n = raw.sendfile(outFd, inFd, offset + done, count - done);
    if (n === -C.EINTR) continue;
    if (n === -C.EAGAIN) {
      waitWritable(outFd);
      continue;
    }
    if (check(n, 'sendfile') === 0) break; // the file is shorter than asked
    done += n;
  }
  return done;
}

/** The eventfd counter is a host-order u64; this view writes and reads it without allocating. */
const counter = new BigUint64Array(1);
const counterBytes = new Uint8Array(counter.buffer);

/**
 * Add `n` to an eventfd's counter, waking whoever waits on it (epoll_wait, poll, read). A full
 * counter (-EAGAIN on a non-blocking eventfd) already means "signalled", so it is not an error.
 */
export function eventfdSignal(fd: number, n = 1): void {
  counter[0] = BigInt(n);
  for (;;) {
    const r = raw.write(fd, counterBytes, 0, 8);
    if (r === -C.EINTR) continue;
    if (r === -C.EAGAIN) return;
    check(r, 'write', 'eventfd');
    return;
  }
}

/**
 * Read and reset an eventfd's counter: its value (1 per read in EFD_SEMAPHORE mode), or 0 if a
 * non-blocking eventfd had nothing. Blocks on a blocking eventfd whose counter is 0.
 */
export function eventfdDrain(fd: number): number {
  for (;;) {
    const r = raw.read(fd, counterBytes, 0, 8);
    if (r === -C.EINTR) continue;
    if (r === -C.EAGAIN) return 0;
    check(r, 'read', 'eventfd');
    return Number(counter[0]);
  }
}

/** A `waitpid` status, decoded (the WIFEXITED / WEXITSTATUS / WIFSIGNALED / WTERMSIG macros). */
export interface ExitStatus {
  /** The child called exit/_exit (or returned from main). */
  exited: boolean;
  /** Its exit code, when `exited`; otherwise null. */
  code: number | null;
  /** The signal that killed it, when it was killed; otherwise null. */
  signal: number | null;
}

/** Decode `waitpid`'s raw status (a number, or the Int32Array it was written to). */
export function exitStatus(status: number | Int32Array): ExitStatus {
  const s = typeof status === 'number' ? status : (status[0] ?? 0);
  const low = s & 0x7f;
  if (low === 0) return { exited: true, code: (s >> 8) & 0xff, signal: null };
  if (low !== 0x7f) return { exited: false, code: null, signal: low };
  return { exited: false, code: null, signal: null }; // stopped (WUNTRACED), not ended
}
