/*
 * Readiness: poll(2), epoll(7) and eventfd(2) — how a thread sleeps until an fd can make
 * progress, and how another thread wakes it. The kernel's structs are packed differently from
 * anything JS can view, so each call copies between them and the caller's Int32Array.
 */
#include "syscalls.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* Up to this many pollfds live on the stack; more are malloc'd (poll is not the fast path). */
#define POLL_STACK 64

// #region poll
static napi_value Poll(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t nfds, timeout, *t;
  size_t len;
  struct pollfd stack[POLL_STACK], *pfd = stack;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[1], "nfds must be a number", &nfds) ||
      !arg_int(env, argv[2], "timeoutMs must be a number", &timeout))
    return NULL;
  if (nfds < 0) {
    throw_range(env, "nfds must be >= 0");
    return NULL;
  }
  if (!arg_i32s(env, argv[0], "fds must be an Int32Array of (fd, events, revents) triplets with room for nfds",
                (size_t)nfds * 3, &t, &len))
    return NULL;
  /* struct pollfd packs events/revents as shorts, so copy the triplets in and revents out. */
  if (nfds > POLL_STACK && !(pfd = malloc((size_t)nfds * sizeof *pfd))) return num(env, -ENOMEM);
  for (int i = 0; i < nfds; i++) {
    pfd[i].fd = t[3 * i];
    pfd[i].events = (short)t[3 * i + 1];
    pfd[i].revents = 0;
  }
  int r = poll(pfd, (nfds_t)nfds, timeout);
  int err = errno;
  for (int i = 0; i < nfds; i++) t[3 * i + 2] = r > 0 ? (uint16_t)pfd[i].revents : 0;
  if (pfd != stack) free(pfd);
  errno = err;
  return result(env, r);
}
// #endregion poll

// #region epoll-create1
static napi_value EpollCreate1(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t flags = 0;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (!is_undefined(env, argv[0]) && !arg_int(env, argv[0], "flags must be a number", &flags)) return NULL;
  return result(env, epoll_create1(flags));
}
// #endregion epoll-create1

// #region epoll-ctl
static napi_value EpollCtl(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t epfd, op, fd, events = 0;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "epfd must be a number", &epfd) || !arg_int(env, argv[1], "op must be a number", &op) ||
      !arg_int(env, argv[2], "fd must be a number", &fd))
    return NULL;
  if (!is_undefined(env, argv[3]) && !arg_int(env, argv[3], "events must be a number", &events)) return NULL;
  /* epoll_data carries the fd itself: the caller's per-fd state is an array indexed by fd. */
  struct epoll_event ev = {.events = (uint32_t)events, .data = {.fd = fd}};
  return result(env, epoll_ctl(epfd, op, fd, &ev));
}
// #endregion epoll-ctl

/*
 * At most this many events per call, on the stack. Asking the kernel for fewer than `maxevents`
 * loses nothing: ready fds stay on epoll's ready list and come back on the next call.
 */
#define EPOLL_STACK 1024

// #region epoll-wait
static napi_value EpollWait(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t epfd, maxevents, timeout, *out;
  size_t len;
  struct epoll_event ev[EPOLL_STACK];
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "epfd must be a number", &epfd) ||
      !arg_int(env, argv[2], "maxevents must be a number", &maxevents) ||
      !arg_int(env, argv[3], "timeoutMs must be a number", &timeout))
    return NULL;
  if (maxevents <= 0) {
    throw_range(env, "maxevents must be > 0");
    return NULL;
  }
  if (!arg_i32s(env, argv[1], "events must be an Int32Array with room for maxevents (events, fd) pairs",
                (size_t)maxevents * 2, &out, &len))
    return NULL;
  if (maxevents > EPOLL_STACK) maxevents = EPOLL_STACK;
  /* struct epoll_event is packed on x86-64 (12 bytes), so copy into the caller's (events, fd) pairs. */
  int r = epoll_wait(epfd, ev, maxevents, timeout);
  if (r < 0) return num(env, -errno);
  for (int i = 0; i < r; i++) {
    out[2 * i] = (int32_t)ev[i].events;
    out[2 * i + 1] = ev[i].data.fd;
  }
  return num(env, r);
}
// #endregion epoll-wait

// #region eventfd
static napi_value Eventfd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t initval = 0, flags = 0;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!is_undefined(env, argv[0]) && !arg_int(env, argv[0], "initval must be a number", &initval)) return NULL;
  if (!is_undefined(env, argv[1]) && !arg_int(env, argv[1], "flags must be a number", &flags)) return NULL;
  if (initval < 0) {
    throw_range(env, "initval must be >= 0");
    return NULL;
  }
  return result(env, eventfd((unsigned)initval, flags));
}
// #endregion eventfd

void register_readiness(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("poll", Poll),
      FN("epoll_create1", EpollCreate1),
      FN("epoll_ctl", EpollCtl),
      FN("epoll_wait", EpollWait),
      FN("eventfd", Eventfd),
  };
  DEFINE_FNS(env, exports, fns);
}
