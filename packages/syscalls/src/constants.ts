/**
 * `C`: the constants the course uses, read from the C headers at build time (so they are right
 * for this machine, not copied by hand). Immutable; any thread may read it.
 */
import { addon } from './addon.js';

/** Names of every constant in `C`. Values are plain numbers, as in C. */
const NAMES = [
  // address families, socket types and options
  'AF_INET', 'AF_INET6', 'AF_UNIX', 'AF_UNSPEC',
  'SOCK_STREAM', 'SOCK_DGRAM', 'SOCK_NONBLOCK', 'SOCK_CLOEXEC',
  'SOL_SOCKET', 'SO_REUSEADDR', 'SO_REUSEPORT', 'SO_RCVBUF', 'SO_SNDBUF', 'SO_ERROR',
  'SO_KEEPALIVE', 'SO_TYPE', 'SO_ACCEPTCONN',
  'IPPROTO_TCP', 'IPPROTO_IPV6', 'IPV6_V6ONLY', 'TCP_NODELAY',
  'SHUT_RD', 'SHUT_WR', 'SHUT_RDWR',
  // fcntl
  'F_GETFL', 'F_SETFL', 'F_GETFD', 'F_SETFD', 'FD_CLOEXEC', 'O_NONBLOCK', 'O_CLOEXEC',
  // poll / epoll / eventfd
  'POLLIN', 'POLLPRI', 'POLLOUT', 'POLLERR', 'POLLHUP', 'POLLRDHUP', 'POLLNVAL',
  'EPOLL_CLOEXEC', 'EPOLLIN', 'EPOLLPRI', 'EPOLLOUT', 'EPOLLERR', 'EPOLLHUP', 'EPOLLRDHUP',
  'EPOLLET', 'EPOLLONESHOT', 'EPOLLEXCLUSIVE', 'EPOLL_CTL_ADD', 'EPOLL_CTL_MOD', 'EPOLL_CTL_DEL',
  'EFD_NONBLOCK', 'EFD_CLOEXEC', 'EFD_SEMAPHORE',
  // waitpid, writev
  'WNOHANG', 'IOV_MAX',
  // signals
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM',
  'SIGTERM', 'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGURG',
  // errno values
  'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'EBADF', 'ECHILD', 'EAGAIN', 'EWOULDBLOCK',
  'ENOMEM', 'EACCES', 'EFAULT', 'EBUSY', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EINVAL', 'ENFILE',
  'EMFILE', 'ENOSPC', 'ESPIPE', 'EPIPE', 'ERANGE', 'ENOSYS', 'EBADMSG', 'ENOTSOCK',
  'EDESTADDRREQ', 'EMSGSIZE', 'EPROTOTYPE', 'ENOPROTOOPT', 'EPROTONOSUPPORT', 'EOPNOTSUPP',
  'EAFNOSUPPORT', 'EADDRINUSE', 'EADDRNOTAVAIL', 'ENETDOWN', 'ENETUNREACH', 'ECONNABORTED',
  'ECONNRESET', 'ENOBUFS', 'EISCONN', 'ENOTCONN', 'ETIMEDOUT', 'ECONNREFUSED', 'EHOSTUNREACH',
  'EALREADY', 'EINPROGRESS',
] as const;

export type ConstantName = (typeof NAMES)[number];

/**
 * Constants from the C headers. Flag values combine with `|` as in C. Note `EPOLLET` is
 * `1 << 31`, which JavaScript's 32-bit bit operations make negative: test it with
 * `(events & C.EPOLLET) !== 0`, never `> 0`.
 */
export const C: Readonly<Record<ConstantName, number>> = Object.freeze(checkConstants(addon['C']));

function checkConstants(c: unknown): Record<ConstantName, number> {
  const table = c as Record<string, unknown>;
  for (const name of NAMES) {
    if (typeof table?.[name] !== 'number') throw new Error(`@course/syscalls: the addon lacks constant ${name}; rebuild it`);
  }
  return table as Record<ConstantName, number>;
}
