/*
 * Names and numbers: the `C` object of constants, read from the C headers when the addon is
 * compiled (so they are right for this machine, not copied by hand), and errno names.
 */
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

// #region errno-name
static napi_value ErrnoName(napi_env env, napi_callback_info info) {
  napi_value argv[1], r;
  int32_t e;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "errno must be a number", &e)) return NULL;
  if (e < 0) e = -e; /* accept -errno as the calls return it */
  const char *name = e ? strerrorname_np(e) : NULL;
  if (name) {
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &r);
  } else {
    char text[32];
    snprintf(text, sizeof text, "E%d", e); /* unknown: still a stable, printable code */
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &r);
  }
  return r;
}
// #endregion errno-name

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_set_named_property(env, obj, name, num(env, v));
}

#define K(name) set_int(env, c, #name, name)

// #region constants
static napi_value constants(napi_env env) {
  napi_value c;
  napi_create_object(env, &c);
  K(AF_INET); K(AF_INET6); K(AF_UNIX); K(AF_UNSPEC);
  K(SOCK_STREAM); K(SOCK_DGRAM); K(SOCK_NONBLOCK); K(SOCK_CLOEXEC);
  K(SOL_SOCKET); K(SO_REUSEADDR); K(SO_REUSEPORT); K(SO_RCVBUF); K(SO_SNDBUF); K(SO_ERROR);
  K(SO_KEEPALIVE); K(SO_TYPE); K(SO_ACCEPTCONN);
  K(IPPROTO_TCP); K(IPPROTO_IPV6); K(IPV6_V6ONLY); K(TCP_NODELAY);
  K(SHUT_RD); K(SHUT_WR); K(SHUT_RDWR);
  K(F_GETFL); K(F_SETFL); K(F_GETFD); K(F_SETFD); K(FD_CLOEXEC); K(O_NONBLOCK); K(O_CLOEXEC);
  K(POLLIN); K(POLLPRI); K(POLLOUT); K(POLLERR); K(POLLHUP); K(POLLRDHUP); K(POLLNVAL);
  K(EPOLL_CLOEXEC); K(EPOLLIN); K(EPOLLPRI); K(EPOLLOUT); K(EPOLLERR); K(EPOLLHUP); K(EPOLLRDHUP);
  K(EPOLLONESHOT); K(EPOLL_CTL_ADD); K(EPOLL_CTL_MOD); K(EPOLL_CTL_DEL);
  set_int(env, c, "EPOLLET", (int32_t)EPOLLET); /* 1u << 31: as int32 it is negative, as JS bits expect */
  set_int(env, c, "EPOLLEXCLUSIVE", (int32_t)EPOLLEXCLUSIVE);
  K(EFD_NONBLOCK); K(EFD_CLOEXEC); K(EFD_SEMAPHORE);
  K(WNOHANG); K(IOV_MAX);
  K(SIGHUP); K(SIGINT); K(SIGQUIT); K(SIGKILL); K(SIGUSR1); K(SIGUSR2); K(SIGPIPE); K(SIGALRM);
  K(SIGTERM); K(SIGCHLD); K(SIGCONT); K(SIGSTOP); K(SIGURG);
  K(EPERM); K(ENOENT); K(ESRCH); K(EINTR); K(EIO); K(EBADF); K(ECHILD); K(EAGAIN); K(EWOULDBLOCK);
  K(ENOMEM); K(EACCES); K(EFAULT); K(EBUSY); K(EEXIST); K(ENOTDIR); K(EISDIR); K(EINVAL); K(ENFILE);
  K(EMFILE); K(ENOSPC); K(ESPIPE); K(EPIPE); K(ERANGE); K(ENOSYS); K(EBADMSG); K(ENOTSOCK);
  K(EDESTADDRREQ); K(EMSGSIZE); K(EPROTOTYPE); K(ENOPROTOOPT); K(EPROTONOSUPPORT); K(EOPNOTSUPP);
  K(EAFNOSUPPORT); K(EADDRINUSE); K(EADDRNOTAVAIL); K(ENETDOWN); K(ENETUNREACH); K(ECONNABORTED);
  K(ECONNRESET); K(ENOBUFS); K(EISCONN); K(ENOTCONN); K(ETIMEDOUT); K(ECONNREFUSED); K(EHOSTUNREACH);
  K(EALREADY); K(EINPROGRESS);
  return c;
}
// #endregion constants

void register_constants(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("errnoName", ErrnoName),
  };
  if (DEFINE_FNS(env, exports, fns) != napi_ok) return;
  napi_set_named_property(env, exports, "C", constants(env));
}
