/**
 * The raw syscalls, one to one with their man pages. Each returns the syscall's result, or
 * `-errno` when it fails (compare with `-C.EAGAIN`; name it with `errnoName`). They throw only
 * for programming errors: a wrong argument type (TypeError) or an offset/length outside the
 * buffer (RangeError).
 *
 * Threads: every call may be made from any thread (main or worker); fds are process-wide.
 * Blocking calls block the calling JS thread — its event loop does not run meanwhile.
 * Buffers: the caller owns them; calls read or fill them in place and keep no reference.
 */
import { nativeFn } from './addon.js';

/** What getsockname/getpeername report. `family` is `C.AF_INET`, `C.AF_INET6` or `C.AF_UNIX`. */
export interface SockAddr {
  /** IPv4/IPv6 literal (`127.0.0.1`, `::1`); for AF_UNIX the path, `@name` if abstract, `''` if unnamed. */
  address: string;
  /** Port in host byte order; 0 for AF_UNIX. */
  port: number;
  family: number;
}

// --- sockets ---------------------------------------------------------------------------------

/** socket(2): a new socket fd. `type` may include `C.SOCK_NONBLOCK | C.SOCK_CLOEXEC`. */
export const socket = nativeFn<(domain: number, type: number, protocol: number) => number>('socket');

/** setsockopt(2) for int-valued options (SO_REUSEADDR, TCP_NODELAY, SO_SNDBUF...). Returns 0. */
export const setsockopt = nativeFn<(fd: number, level: number, name: number, value: number) => number>('setsockopt');

/** getsockopt(2) for int-valued options: the value (SO_ERROR gives a positive errno), or -errno. */
export const getsockopt = nativeFn<(fd: number, level: number, name: number) => number>('getsockopt');

/**
 * bind(2) to `host:port`. `host` is an IPv4 or IPv6 literal (no names, no DNS); the socket's
 * family must match it. An unparsable host gives -EINVAL. Port 0 lets the kernel pick one.
 */
export const bind = nativeFn<(fd: number, host: string, port: number) => number>('bind');

/** connect(2) to `host:port` (literals, as for bind). Non-blocking sockets give -EINPROGRESS. */
export const connect = nativeFn<(fd: number, host: string, port: number) => number>('connect');

/** listen(2). Returns 0. */
export const listen = nativeFn<(fd: number, backlog: number) => number>('listen');

/**
 * accept4(2): the connection's fd. `flags` may hold `C.SOCK_NONBLOCK | C.SOCK_CLOEXEC`. The
 * peer's address is not returned: ask `getpeername` if you need it.
 */
export const accept4 = nativeFn<(fd: number, flags?: number) => number>('accept4');

/** shutdown(2): `how` is `C.SHUT_RD`, `C.SHUT_WR` or `C.SHUT_RDWR`. Returns 0. */
export const shutdown = nativeFn<(fd: number, how: number) => number>('shutdown');

/** getsockname(2): the local address (a bound port 0 shows its real port), or -errno. */
export const getsockname = nativeFn<(fd: number) => SockAddr | number>('getsockname');

/** getpeername(2): the peer's address, or -errno (-ENOTCONN once it is gone). */
export const getpeername = nativeFn<(fd: number) => SockAddr | number>('getpeername');

/** socketpair(2): two connected sockets, written to `out[0]` and `out[1]`. Returns 0. */
export const socketpair = nativeFn<(domain: number, type: number, protocol: number, out: Int32Array) => number>('socketpair');


// --- bytes: the hot path, and fds --------------------------------------------------------------

/**
 * read(2) into `buf[offset, offset + length)`: bytes read, 0 at end of file, or -errno.
 * `offset` defaults to 0 and `length` to the rest of the buffer.
 */
export const read = nativeFn<(fd: number, buf: Uint8Array, offset?: number, length?: number) => number>('read');


/**
 * write(2) from `buf[offset, offset + length)`: bytes written (may be fewer: a short write), or
 * -errno. `offset` defaults to 0 and `length` to the rest of the buffer.
 */
export const write = nativeFn<(fd: number, buf: Uint8Array, offset?: number, length?: number) => number>('write');


/**
 * writev(2): gather-write the buffers, in order, in one syscall. At most `C.IOV_MAX` (1024)
 * buffers (more throw a RangeError). Returns bytes written, possibly fewer than the total.
 */
export const writev = nativeFn<(fd: number, bufs: readonly Uint8Array[]) => number>('writev');

/**
 * send(2) on many sockets in one call: `bufs[i]` to `fds[i]` for i < `count`, flags
 * MSG_NOSIGNAL | MSG_DONTWAIT; each result (bytes sent, possibly fewer, or -errno) is written to
 * `results[i]`. Returns `count`. One crossing into the addon for a whole turn's writes (a
 * reactor's flush, a broadcast): only the kernel's per-send cost is left.
 */
export const sendEach = nativeFn<(fds: Int32Array, bufs: readonly Uint8Array[], count: number, results: Int32Array) => number>('sendEach');

/**
 * sendfile(2): copy `count` bytes of `inFd` starting at file offset `offset` to `outFd`, inside
 * the kernel. The file's own position is not used or moved. Returns bytes sent (may be fewer).
 */
export const sendfile = nativeFn<(outFd: number, inFd: number, offset: number, count: number) => number>('sendfile');

/** close(2). Returns 0. The fd number is reused at once: drop per-fd state first. */
export const close = nativeFn<(fd: number) => number>('close');

/** fcntl(2) with an int argument: `F_GETFL` → the flags; `F_SETFL`/`F_SETFD` → 0. */
export const fcntl = nativeFn<(fd: number, cmd: number, arg?: number) => number>('fcntl');

/** pipe2(2): read end in `out[0]`, write end in `out[1]`; flags `C.O_NONBLOCK | C.O_CLOEXEC`. Returns 0. */
export const pipe2 = nativeFn<(out: Int32Array, flags?: number) => number>('pipe2');

// --- readiness -------------------------------------------------------------------------------

/**
 * poll(2). `fds` holds `nfds` (fd, events, revents) triplets; revents are written back. Returns
 * the number of fds with non-zero revents, 0 on timeout, or -errno. `timeoutMs` -1 waits forever.
 */
export const poll = nativeFn<(fds: Int32Array, nfds: number, timeoutMs: number) => number>('poll');

/** epoll_create1(2): a new epoll fd; `flags` may be `C.EPOLL_CLOEXEC`. */
export const epoll_create1 = nativeFn<(flags?: number) => number>('epoll_create1');

/**
 * epoll_ctl(2): `op` is `C.EPOLL_CTL_ADD`/`MOD`/`DEL`; `events` e.g. `C.EPOLLIN | C.EPOLLET`.
 * The event's `data` is the fd itself, so epoll_wait reports fds. Returns 0.
 */
export const epoll_ctl = nativeFn<(epfd: number, op: number, fd: number, events: number) => number>('epoll_ctl');

/**
 * epoll_wait(2): wait for up to `maxevents` ready fds and write them to `events` as
 * (events, fd) pairs — `events[2 * i]` the bits, `events[2 * i + 1]` the fd. `events` is the
 * caller's and must hold `2 * maxevents` slots; nothing is allocated. At most 1024 events come
 * back per call (the rest stay ready for the next). Returns the count, 0 on timeout, or -errno.
 */
export const epoll_wait = nativeFn<(epfd: number, events: Int32Array, maxevents: number, timeoutMs: number) => number>('epoll_wait');

/** eventfd(2): a counter fd; `flags` `C.EFD_NONBLOCK | C.EFD_CLOEXEC | C.EFD_SEMAPHORE`. */
export const eventfd = nativeFn<(initval: number, flags: number) => number>('eventfd');

// --- processes -------------------------------------------------------------------------------

/**
 * fork(2): the child's pid in the parent, 0 in the child. First re-enables copy-on-fork for
 * every mapping (madvise(2) `MADV_DOFORK`): Node marks V8's heap `MADV_DONTFORK`, and a child
 * without it crashes. Run forking programs with `node --single-threaded`; the child must make
 * only synchronous calls and end with `_exit()`, never `process.exit()`.
 */
export const fork = nativeFn<() => number>('fork');

/**
 * waitpid(2): the pid that changed state, 0 (with `C.WNOHANG`, none yet), or -errno. The raw
 * status goes to `status[0]`; decode it with `exitStatus`.
 */
export const waitpid = nativeFn<(pid: number, options: number, status?: Int32Array) => number>('waitpid');

/** _exit(2): end the process now, without Node's exit sequence (no handlers, no flushing). */
export const _exit = nativeFn<(code: number) => never>('_exit');

/** kill(2): send `sig` to `pid`. Returns 0. */
export const kill = nativeFn<(pid: number, sig: number) => number>('kill');

/** getpid(2). */
export const getpid = nativeFn<() => number>('getpid');

/** getppid(2). */
export const getppid = nativeFn<() => number>('getppid');

/** gettid(2): the calling thread's kernel id (equals getpid() on the main thread). */
export const gettid = nativeFn<() => number>('gettid');

/** prctl(2) `PR_SET_PDEATHSIG`: get `sig` when the parent dies (0 turns it off). Returns 0. */
export const setParentDeathSignal = nativeFn<(sig: number) => number>('setParentDeathSignal');

/** getrlimit(2) `RLIMIT_NOFILE`: the soft limit on open fds (Infinity if unlimited), or -errno. */
export const getrlimitNofile = nativeFn<() => number>('getrlimitNofile');


// --- signals ---------------------------------------------------------------------------------

/**
 * sigaction(2) for each signal, *without* `SA_RESTART`: a thread blocked in accept, read, poll or
 * epoll_wait returns -EINTR instead of the process dying. The handler records the signal and,
 * if it ran on another thread, forwards it to the thread that called `catchSignals` (the one
 * whose blocking call must be interrupted; the last caller wins). Call it on that thread.
 * A signal that arrives before the thread blocks is not lost: until `takeSignal()` takes it, the
 * thread is nudged with SIGURG every 5 ms, so its next blocking call returns -EINTR too (SIGURG
 * is therefore reserved). Expect a rare spurious -EINTR; retry it. Returns 0 or -errno.
 * Do not also use `process.on(signal)` for the same signals: libuv would replace this handler.
 */
export const catchSignals = nativeFn<(signals: readonly number[]) => number>('catchSignals');

/**
 * The lowest pending signal, or 0 (one flag per signal: none overwrites another). On the thread
 * that called `catchSignals` this also clears it (and the nudges stop once none is left); any
 * other thread only sees it, so it cannot swallow the signal meant for that thread.
 */
export const takeSignal = nativeFn<() => number>('takeSignal');

/** The name of an errno (`'EAGAIN'`); accepts `-errno` as the calls return it. */
export const errnoName = nativeFn<(errno: number) => string>('errnoName');
