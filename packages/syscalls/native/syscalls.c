/*
 * @course/syscalls — Linux syscalls exposed one to one to JavaScript through Node-API.
 *
 * Conventions (see README.md):
 *   - Every call returns the syscall's result, or -errno when it fails. No call throws for a
 *     failing syscall: EAGAIN is ordinary traffic in a non-blocking server, and throwing costs
 *     about twelve times the call itself.
 *   - A call throws only for a programming error: a wrong argument type (TypeError) or an
 *     offset/length outside the caller's buffer (RangeError).
 *   - Buffers belong to the caller. Nothing is allocated on the hot path; results are written
 *     into the caller's Uint8Array / Int32Array in place.
 *   - Every function may be called from any JS thread (main or worker): the module is
 *     context-aware and keeps no per-thread state except the signal slot, which is process-wide.
 */
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers. Each returns false after throwing, so callers write `if (!x) return NULL`. */

/* Fetch up to `want` arguments; missing ones are `undefined` (napi fills them in). */
static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *argc) {
  size_t n = want;
  if (napi_get_cb_info(env, info, &n, argv, NULL, NULL) != napi_ok) return false;
  if (argc) *argc = n;
  return true;
}

static bool throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return false;
}

static bool throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return false;
}

static bool arg_int(napi_env env, napi_value v, const char *what, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) return throw_type(env, what);
  return true;
}

static bool arg_int64(napi_env env, napi_value v, const char *what, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) return throw_type(env, what);
  return true;
}

static bool is_undefined(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_undefined;
}

/* A Uint8Array (Buffer is one) or another byte-element typed array: its bytes and byte length. */
static bool arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  /* Fails (napi_invalid_arg) for anything but a typed array: one call checks and reads. */
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok) return throw_type(env, what);
  if (type != napi_uint8_array && type != napi_int8_array && type != napi_uint8_clamped_array)
    return throw_type(env, what);
  *data = p;
  return true;
}

/* An Int32Array with at least `min_len` elements. */
static bool arg_i32s(napi_env env, napi_value v, const char *what, size_t min_len, int32_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_int32_array)
    return throw_type(env, what);
  if (*len < min_len) return throw_range(env, what);
  *data = p;
  return true;
}

/*
 * (buf, offset, length) → a checked pointer and count. `offset` and `length` may be undefined
 * when `optional` (defaults: 0 and "to the end"), which read/write allow.
 */
static bool arg_span(napi_env env, napi_value *argv, bool optional, uint8_t **ptr, size_t *count) {
  uint8_t *data;
  size_t len;
  int64_t off = 0, n;
  if (!arg_bytes(env, argv[0], "buffer must be a Uint8Array", &data, &len)) return false;
  if (!(optional && is_undefined(env, argv[1])) && !arg_int64(env, argv[1], "offset must be a number", &off))
    return false;
  if (off < 0 || (uint64_t)off > len) return throw_range(env, "offset is outside the buffer");
  n = (int64_t)len - off;
  if (!(optional && is_undefined(env, argv[2])) && !arg_int64(env, argv[2], "length must be a number", &n))
    return false;
  if (n < 0 || (uint64_t)off + (uint64_t)n > len) return throw_range(env, "offset + length is outside the buffer");
  *ptr = data + off;
  *count = (size_t)n;
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Result helpers: `r` if the call succeeded, else -errno. */

static napi_value num(napi_env env, int64_t v) {
  napi_value r;
  if (v >= INT32_MIN && v <= INT32_MAX) napi_create_int32(env, (int32_t)v, &r);
  else napi_create_int64(env, v, &r);
  return r;
}

static napi_value result(napi_env env, int64_t r) {
  return num(env, r < 0 ? -(int64_t)errno : r);
}

/* ------------------------------------------------------------------------------------------ */
/* Addresses */

/* host literal + port → sockaddr. false (errno = EINVAL) if `host` is neither IPv4 nor IPv6. */
static bool make_addr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    *len = sizeof *in4;
    return true;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    *len = sizeof *in6;
    return true;
  }
  errno = EINVAL;
  return false;
}

/* (fd, host, port) → sockaddr; throws for wrong types or a port outside 0..65535. */
static bool arg_addr(napi_env env, napi_value *argv, int32_t *fd, char *host, size_t host_cap, int32_t *port) {
  size_t hl;
  if (!arg_int(env, argv[0], "fd must be a number", fd)) return false;
  if (napi_get_value_string_utf8(env, argv[1], host, host_cap, &hl) != napi_ok)
    return throw_type(env, "host must be a string");
  if (!arg_int(env, argv[2], "port must be a number", port)) return false;
  if (*port < 0 || *port > 65535) return throw_range(env, "port must be 0..65535");
  return true;
}

/* sockaddr → { address, port, family } (family is the AF_* number). */
static napi_value addr_object(napi_env env, const struct sockaddr_storage *ss, socklen_t len) {
  char text[INET6_ADDRSTRLEN + 1] = "";
  int port = 0;
  napi_value obj, v;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &in4->sin_addr, text, sizeof text);
    port = ntohs(in4->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  napi_create_object(env, &obj);
  if (ss->ss_family == AF_UNIX) {
    /* Unnamed (socketpair) → "", abstract → "@name", else the path. */
    const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
    size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    char path[sizeof un->sun_path + 1];
    if (n > sizeof un->sun_path) n = sizeof un->sun_path;
    memcpy(path, un->sun_path, n);
    path[n] = '\0';
    if (n > 0 && path[0] == '\0') path[0] = '@';
    else n = strnlen(path, n);
    napi_create_string_utf8(env, path, n, &v);
  } else {
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  }
  napi_set_named_property(env, obj, "address", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_int32(env, ss->ss_family, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

/* ------------------------------------------------------------------------------------------ */
/* Sockets */

static napi_value Socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t domain, type, protocol;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "domain must be a number", &domain) ||
      !arg_int(env, argv[1], "type must be a number", &type) ||
      !arg_int(env, argv[2], "protocol must be a number", &protocol))
    return NULL;
  return result(env, socket(domain, type, protocol));
}

static napi_value Setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd, level, name, value;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) ||
      !arg_int(env, argv[1], "level must be a number", &level) ||
      !arg_int(env, argv[2], "name must be a number", &name) ||
      !arg_int(env, argv[3], "value must be a number (int options only)", &value))
    return NULL;
  int v = value;
  return result(env, setsockopt(fd, level, name, &v, sizeof v));
}

static napi_value Getsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, level, name;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) ||
      !arg_int(env, argv[1], "level must be a number", &level) ||
      !arg_int(env, argv[2], "name must be a number", &name))
    return NULL;
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, name, &v, &len) < 0) return num(env, -errno);
  return num(env, v);
}

static napi_value Bind(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, port;
  char host[INET6_ADDRSTRLEN + 1];
  struct sockaddr_storage ss;
  socklen_t len;
  if (!get_args(env, info, 3, argv, NULL) || !arg_addr(env, argv, &fd, host, sizeof host, &port)) return NULL;
  if (!make_addr(host, port, &ss, &len)) return num(env, -EINVAL);
  return result(env, bind(fd, (struct sockaddr *)&ss, len));
}

static napi_value Connect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, port;
  char host[INET6_ADDRSTRLEN + 1];
  struct sockaddr_storage ss;
  socklen_t len;
  if (!get_args(env, info, 3, argv, NULL) || !arg_addr(env, argv, &fd, host, sizeof host, &port)) return NULL;
  if (!make_addr(host, port, &ss, &len)) return num(env, -EINVAL);
  return result(env, connect(fd, (struct sockaddr *)&ss, len));
}

static napi_value Listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, backlog;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) ||
      !arg_int(env, argv[1], "backlog must be a number", &backlog))
    return NULL;
  return result(env, listen(fd, backlog));
}

static napi_value Accept4(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, flags = 0;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  if (!is_undefined(env, argv[1]) && !arg_int(env, argv[1], "flags must be a number", &flags)) return NULL;
  return result(env, accept4(fd, NULL, NULL, flags));
}

static napi_value Shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, how;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_int(env, argv[1], "how must be a number", &how))
    return NULL;
  return result(env, shutdown(fd, how));
}

static napi_value sockname(napi_env env, napi_callback_info info, bool peer) {
  napi_value argv[1];
  int32_t fd;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (r < 0) return num(env, -errno);
  return addr_object(env, &ss, len);
}

static napi_value Getsockname(napi_env env, napi_callback_info info) { return sockname(env, info, false); }
static napi_value Getpeername(napi_env env, napi_callback_info info) { return sockname(env, info, true); }

static napi_value Socketpair(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t domain, type, protocol, *out;
  size_t n;
  int sv[2];
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "domain must be a number", &domain) ||
      !arg_int(env, argv[1], "type must be a number", &type) ||
      !arg_int(env, argv[2], "protocol must be a number", &protocol) ||
      !arg_i32s(env, argv[3], "out must be an Int32Array(2)", 2, &out, &n))
    return NULL;
  if (socketpair(domain, type, protocol, sv) < 0) return num(env, -errno);
  out[0] = sv[0];
  out[1] = sv[1];
  return num(env, 0);
}

static napi_value Pipe2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t flags = 0, *out;
  size_t n;
  int p[2];
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_i32s(env, argv[0], "out must be an Int32Array(2)", 2, &out, &n)) return NULL;
  if (!is_undefined(env, argv[1]) && !arg_int(env, argv[1], "flags must be a number", &flags)) return NULL;
  if (pipe2(p, flags) < 0) return num(env, -errno);
  out[0] = p[0];
  out[1] = p[1];
  return num(env, 0);
}

/*
 * sendFd(sock, fd): one byte of payload carrying `fd` as SCM_RIGHTS ancillary data. The receiver
 * gets a new descriptor for the same open file; the sender still owns (and should close) its own.
 */
static napi_value SendFd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t sock, fd;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "sock must be a number", &sock) || !arg_int(env, argv[1], "fd must be a number", &fd))
    return NULL;
  char byte = 'F';
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union { /* aligned storage for one cmsghdr carrying one int */
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return result(env, sendmsg(sock, &msg, MSG_NOSIGNAL));
}

/*
 * recvFd(sock) → the received fd (close-on-exec), or -errno. A message without an fd gives
 * -EBADMSG; end of stream (the sender closed its end) gives -EPIPE, as a write to a closed
 * peer would.
 */
static napi_value RecvFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t sock;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "sock must be a number", &sock)) return NULL;
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  if (r < 0) return num(env, -errno);
  if (r == 0) return num(env, -EPIPE);
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return num(env, fd);
    }
  }
  return num(env, -EBADMSG);
}

/* ------------------------------------------------------------------------------------------ */
/* Byte I/O: the hot path. */

static napi_value Read(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd;
  uint8_t *p;
  size_t n;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_span(env, argv + 1, true, &p, &n))
    return NULL;
  return result(env, read(fd, p, n));
}

static napi_value Write(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd;
  uint8_t *p;
  size_t n;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_span(env, argv + 1, true, &p, &n))
    return NULL;
  return result(env, write(fd, p, n));
}

static napi_value Recv(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd, flags;
  uint8_t *p;
  size_t n;
  if (!get_args(env, info, 5, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_span(env, argv + 1, false, &p, &n) ||
      !arg_int(env, argv[4], "flags must be a number", &flags))
    return NULL;
  return result(env, recv(fd, p, n, flags));
}

static napi_value Send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd, flags;
  uint8_t *p;
  size_t n;
  if (!get_args(env, info, 5, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_span(env, argv + 1, false, &p, &n) ||
      !arg_int(env, argv[4], "flags must be a number", &flags))
    return NULL;
  return result(env, send(fd, p, n, flags));
}

/* Up to this many iovecs live on the stack; larger arrays (up to IOV_MAX) are malloc'd. */
#define IOV_STACK 64

static napi_value Writev(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool is_array = false;
  uint32_t count;
  struct iovec stack[IOV_STACK], *iov = stack;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    throw_type(env, "bufs must be an array of Uint8Array");
    return NULL;
  }
  napi_get_array_length(env, argv[1], &count);
  if (count > IOV_MAX) {
    throw_range(env, "writev: more than IOV_MAX (1024) buffers");
    return NULL;
  }
  if (count > IOV_STACK && !(iov = malloc(count * sizeof *iov))) return num(env, -ENOMEM);
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    uint8_t *data;
    size_t len;
    if (napi_get_element(env, argv[1], i, &el) != napi_ok ||
        !arg_bytes(env, el, "bufs must be an array of Uint8Array", &data, &len)) {
      if (iov != stack) free(iov);
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = len;
  }
  ssize_t r = writev(fd, iov, (int)count);
  int err = errno;
  if (iov != stack) free(iov);
  errno = err;
  return result(env, r);
}

static napi_value Sendfile(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t out_fd, in_fd;
  int64_t offset, count;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "outFd must be a number", &out_fd) ||
      !arg_int(env, argv[1], "inFd must be a number", &in_fd) ||
      !arg_int64(env, argv[2], "offset must be a number", &offset) ||
      !arg_int64(env, argv[3], "count must be a number", &count))
    return NULL;
  if (offset < 0 || count < 0) {
    throw_range(env, "sendfile: offset and count must be >= 0");
    return NULL;
  }
  off_t off = (off_t)offset;
  return result(env, sendfile(out_fd, in_fd, &off, (size_t)count));
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  return result(env, close(fd));
}

static napi_value Fcntl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, cmd, arg = 0;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_int(env, argv[1], "cmd must be a number", &cmd))
    return NULL;
  if (!is_undefined(env, argv[2]) && !arg_int(env, argv[2], "arg must be a number", &arg)) return NULL;
  return result(env, fcntl(fd, cmd, arg));
}

/* ------------------------------------------------------------------------------------------ */
/* Readiness: poll, epoll, eventfd. */

/* Up to this many pollfds live on the stack; more are malloc'd (poll is not the fast path). */
#define POLL_STACK 64

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

static napi_value EpollCreate1(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t flags = 0;
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (!is_undefined(env, argv[0]) && !arg_int(env, argv[0], "flags must be a number", &flags)) return NULL;
  return result(env, epoll_create1(flags));
}

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

/*
 * At most this many events per call, on the stack. Asking the kernel for fewer than `maxevents`
 * loses nothing: ready fds stay on epoll's ready list and come back on the next call.
 */
#define EPOLL_STACK 1024

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

/* ------------------------------------------------------------------------------------------ */
/* Processes */

/*
 * Node marks V8's heap (and other mappings) MADV_DONTFORK so that spawning children is cheap; a
 * child forked from such a process has no heap and segfaults on its first JS instruction. Undo
 * that for every mapping listed in /proc/self/maps. Failures are ignored: some mappings
 * ([vsyscall], guard pages) refuse madvise, and a mapping may vanish between read and madvise.
 */
static void madvise_dofork_all(void) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t cap = 64 * 1024, len = 0;
  char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) break;
    if (len == cap) {
      char *bigger = realloc(buf, cap * 2 + 1);
      if (!bigger) break;
      buf = bigger;
      cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  close(fd);
  if (!buf) return;
  buf[len] = '\0';
  /* Each line: "start-end perms offset dev inode path", addresses in hex. */
  for (char *line = buf; line < buf + len;) {
    char *end;
    unsigned long start = strtoul(line, &end, 16);
    if (*end == '-') {
      unsigned long stop = strtoul(end + 1, NULL, 16);
      if (stop > start) madvise((void *)start, stop - start, MADV_DOFORK);
    }
    char *nl = strchr(line, '\n');
    if (!nl) break;
    line = nl + 1;
  }
  free(buf);
}

static void signals_after_fork(void);

static napi_value Fork(napi_env env, napi_callback_info info) {
  (void)info;
  madvise_dofork_all(); /* in the same native call: nothing may map new DONTFORK pages in between */
  pid_t pid = fork();
  if (pid == 0) signals_after_fork();
  return result(env, pid);
}

static napi_value Waitpid(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t pid, options, *status = NULL;
  size_t len;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "pid must be a number", &pid) || !arg_int(env, argv[1], "options must be a number", &options))
    return NULL;
  if (!is_undefined(env, argv[2]) && !arg_i32s(env, argv[2], "status must be an Int32Array(1)", 1, &status, &len))
    return NULL;
  int st = 0;
  pid_t r = waitpid(pid, &st, options);
  if (r > 0 && status) status[0] = st;
  return result(env, r);
}

static napi_value Exit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t code;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "code must be a number", &code)) return NULL;
  _exit(code);
}

static napi_value Kill(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t pid, sig;
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "pid must be a number", &pid) || !arg_int(env, argv[1], "sig must be a number", &sig))
    return NULL;
  return result(env, kill(pid, sig));
}

static napi_value Getpid(napi_env env, napi_callback_info info) { (void)info; return num(env, getpid()); }
static napi_value Getppid(napi_env env, napi_callback_info info) { (void)info; return num(env, getppid()); }
static napi_value Gettid(napi_env env, napi_callback_info info) { (void)info; return num(env, gettid()); }

static napi_value SetParentDeathSignal(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t sig;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "sig must be a number", &sig)) return NULL;
  return result(env, prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0UL, 0UL, 0UL));
}

/* RLIM_INFINITY (2^64 - 1) has no exact JS number; report it as Infinity. */
static napi_value rlim_value(napi_env env, rlim_t v) {
  napi_value r;
  if (v == RLIM_INFINITY) napi_create_double(env, (double)INFINITY, &r);
  else napi_create_double(env, (double)v, &r);
  return r;
}

static napi_value GetrlimitNofile(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  (void)info;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return num(env, -errno);
  return rlim_value(env, rl.rlim_cur);
}

static napi_value GetrlimitNofileMax(napi_env env, napi_callback_info info) {
  struct rlimit rl;
  (void)info;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return num(env, -errno);
  return rlim_value(env, rl.rlim_max);
}

/* Sets the soft limit; the hard limit stays (an unprivileged process cannot raise it back). */
static napi_value SetrlimitNofile(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t soft;
  struct rlimit rl;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int64(env, argv[0], "soft must be a number", &soft)) return NULL;
  if (soft < 0) {
    throw_range(env, "soft must be >= 0");
    return NULL;
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return num(env, -errno);
  rl.rlim_cur = (rlim_t)soft;
  return result(env, setrlimit(RLIMIT_NOFILE, &rl));
}

/* ------------------------------------------------------------------------------------------ */
/* Signals */

/*
 * Process-wide signal slot. The handler may run on any thread; it records the signal and, if it
 * is not on the thread that asked for signals, forwards the signal to that thread so that *its*
 * blocking syscall is the one interrupted. Only async-signal-safe work here: plain stores,
 * getpid, gettid, tgkill (the syscall behind pthread_kill; a tid, unlike a pthread_t, stays
 * meaningful after fork, where the pid check stops a child forwarding to its parent) and
 * timer_settime.
 *
 * The race every "flag + EINTR" design has: the signal may arrive while the thread is still
 * running JS, after it last looked at the flag and before it enters accept/read/epoll_wait. The
 * handler runs, nothing is interrupted, and the thread then blocks forever. So the handler also
 * arms a one-shot "nudge" timer aimed at that thread: every NUDGE_NS, for as long as a signal
 * sits untaken, the thread gets NUDGE_SIGNAL, whose empty handler only makes its blocking call
 * return -EINTR. takeSignal() disarms it. (Go's runtime uses SIGURG the same way, for the same
 * reason: nothing else uses it, and its default action is to ignore it.)
 */
#define NUDGE_SIGNAL SIGURG
#define NUDGE_NS (5 * 1000 * 1000) /* 5 ms: a shutdown is never later than this */

/*
 * One bit per signal number (1..63), so a SIGCHLD arriving together with a SIGTERM cannot
 * overwrite it. Set with an atomic OR (lock-free on every platform Node runs on here, hence
 * async-signal-safe).
 */
static volatile uint64_t pending_signals = 0;
static volatile sig_atomic_t target_pid = 0;
static volatile sig_atomic_t target_tid = 0;
static volatile sig_atomic_t nudge_armed = 0; /* nudge_timer exists (and targets target_tid) */
static timer_t nudge_timer;

static void arm_nudge(void) {
  struct itimerspec its = {.it_value = {.tv_sec = 0, .tv_nsec = NUDGE_NS}};
  if (nudge_armed) timer_settime(nudge_timer, 0, &its, NULL);
}

static void on_signal(int sig) {
  int saved = errno;
  if (sig > 0 && sig < 64) __atomic_fetch_or(&pending_signals, (uint64_t)1 << sig, __ATOMIC_SEQ_CST);
  pid_t pid = getpid();
  if (pid == target_pid) {
    if (gettid() != target_tid) syscall(SYS_tgkill, pid, target_tid, sig);
    arm_nudge();
  }
  errno = saved;
}

/* The nudge: its delivery is the point (the blocking call returns EINTR). Again while untaken. */
static void on_nudge(int sig) {
  int saved = errno;
  (void)sig;
  if (__atomic_load_n(&pending_signals, __ATOMIC_SEQ_CST) != 0 && getpid() == target_pid) arm_nudge();
  errno = saved;
}

/* sigaction without SA_RESTART, and make sure this thread does not block the signal. */
static int install(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: blocking calls must return EINTR */
  if (sigaction(sig, &sa, NULL) < 0) return -errno;
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* the mask may be inherited with it blocked */
  return 0;
}

/* A timer that sends NUDGE_SIGNAL to target_tid when armed. */
static int create_nudge_timer(void) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = NUDGE_SIGNAL;
  sev._sigev_un._tid = target_tid; /* glibc 2.36 has no sigev_notify_thread_id macro yet */
  if (timer_create(CLOCK_MONOTONIC, &sev, &nudge_timer) < 0) return -errno;
  nudge_armed = 1;
  return 0;
}

static napi_value CatchSignals(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool is_array = false;
  uint32_t count;
  int sigs[64];
  if (!get_args(env, info, 1, argv, NULL)) return NULL;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    throw_type(env, "signals must be an array of signal numbers");
    return NULL;
  }
  napi_get_array_length(env, argv[0], &count);
  if (count > 64) {
    throw_range(env, "too many signals");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    int32_t s;
    napi_get_element(env, argv[0], i, &el);
    if (!arg_int(env, el, "signals must be an array of signal numbers", &s)) return NULL;
    if (s == NUDGE_SIGNAL) {
      throw_range(env, "SIGURG is reserved: catchSignals uses it to interrupt the waiting thread");
      return NULL;
    }
    sigs[i] = s;
  }
  /* Aim the nudge timer at this thread (the last caller of catchSignals is the target). */
  if (nudge_armed) {
    nudge_armed = 0;
    timer_delete(nudge_timer);
  }
  target_pid = getpid();
  target_tid = gettid();
  int r = install(NUDGE_SIGNAL, on_nudge);
  if (r < 0) return num(env, r);
  if ((r = create_nudge_timer()) < 0) return num(env, r);
  for (uint32_t i = 0; i < count; i++) {
    if ((r = install(sigs[i], on_signal)) < 0) return num(env, r);
  }
  return num(env, 0);
}

/*
 * In a forked child: the parent's pending signals are not the child's, and the child (a single
 * thread) is its own target. POSIX timers are not inherited: if the parent caught signals, the
 * child gets a nudge timer of its own, so a SIGTERM that lands between two of its blocking calls
 * is not lost either.
 */
static void signals_after_fork(void) {
  pending_signals = 0;
  bool caught = nudge_armed;
  nudge_armed = 0;
  target_pid = getpid();
  target_tid = gettid();
  if (caught) create_nudge_timer();
}

/*
 * The lowest pending signal, or 0. Only the thread that called catchSignals takes (clears) it;
 * any other thread just sees it. A worker thread whose read returned EINTR may look, but must not
 * swallow the SIGTERM that the main loop is waiting for.
 */
static napi_value TakeSignal(napi_env env, napi_callback_info info) {
  (void)info;
  uint64_t mask = __atomic_load_n(&pending_signals, __ATOMIC_SEQ_CST);
  if (mask == 0) return num(env, 0);
  int sig = __builtin_ctzll(mask);
  if (getpid() != target_pid || gettid() != target_tid) return num(env, sig);
  uint64_t left = __atomic_and_fetch(&pending_signals, ~((uint64_t)1 << sig), __ATOMIC_SEQ_CST);
  if (left == 0 && nudge_armed) {
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(nudge_timer, 0, &off, NULL); /* taken: no more nudges */
  }
  return num(env, sig);
}

/* ------------------------------------------------------------------------------------------ */
/* errno names */

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

/* ------------------------------------------------------------------------------------------ */
/* Module */

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_set_named_property(env, obj, name, num(env, v));
}

#define K(name) set_int(env, c, #name, name)

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
  K(MSG_NOSIGNAL); K(MSG_DONTWAIT); K(MSG_PEEK); K(MSG_WAITALL);
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

#define FN(js, c) {js, NULL, c, NULL, NULL, NULL, napi_enumerable, NULL}

NAPI_MODULE_INIT() {
  napi_property_descriptor fns[] = {
      FN("socket", Socket),
      FN("setsockopt", Setsockopt),
      FN("getsockopt", Getsockopt),
      FN("bind", Bind),
      FN("connect", Connect),
      FN("listen", Listen),
      FN("accept4", Accept4),
      FN("shutdown", Shutdown),
      FN("getsockname", Getsockname),
      FN("getpeername", Getpeername),
      FN("socketpair", Socketpair),
      FN("pipe2", Pipe2),
      FN("sendFd", SendFd),
      FN("recvFd", RecvFd),
      FN("read", Read),
      FN("write", Write),
      FN("recv", Recv),
      FN("send", Send),
      FN("writev", Writev),
      FN("sendfile", Sendfile),
      FN("close", Close),
      FN("fcntl", Fcntl),
      FN("poll", Poll),
      FN("epoll_create1", EpollCreate1),
      FN("epoll_ctl", EpollCtl),
      FN("epoll_wait", EpollWait),
      FN("eventfd", Eventfd),
      FN("fork", Fork),
      FN("waitpid", Waitpid),
      FN("_exit", Exit),
      FN("kill", Kill),
      FN("getpid", Getpid),
      FN("getppid", Getppid),
      FN("gettid", Gettid),
      FN("setParentDeathSignal", SetParentDeathSignal),
      FN("getrlimitNofile", GetrlimitNofile),
      FN("getrlimitNofileMax", GetrlimitNofileMax),
      FN("setrlimitNofile", SetrlimitNofile),
      FN("catchSignals", CatchSignals),
      FN("takeSignal", TakeSignal),
      FN("errnoName", ErrnoName),
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "C", constants(env));
  { void register_uring(napi_env, napi_value); register_uring(env, exports); } /* native/uring.c */
  return exports;
}
