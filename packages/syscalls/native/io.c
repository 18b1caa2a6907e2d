/*
 * Byte I/O on any fd: the hot path of every model. The caller's buffer is read or filled in
 * place; nothing is allocated except, rarely, an iovec array too large for the stack.
 */
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

// #region read-write
/* read(fd, buf, off?, len?) and write(...): the same span, opposite directions. */
static napi_value read_or_write(napi_env env, napi_callback_info info, bool writing) {
  napi_value argv[4];
  int32_t fd;
  uint8_t *p;
  size_t n;
  if (!get_args(env, info, 4, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_span(env, argv + 1, true, &p, &n))
    return NULL;
  return result(env, writing ? write(fd, p, n) : read(fd, p, n));
}

static napi_value Read(napi_env env, napi_callback_info info) { return read_or_write(env, info, false); }
static napi_value Write(napi_env env, napi_callback_info info) { return read_or_write(env, info, true); }
// #endregion read-write

/* Up to this many iovecs live on the stack; larger arrays (up to IOV_MAX) are malloc'd. */
#define IOV_STACK 64

// #region writev
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
// #endregion writev

// #region send-each
/*
 * send(2) on many sockets in one call: bufs[i] to fds[i] for i < count, each result (bytes sent,
 * possibly short, or -errno) into results[i]. Why: a reactor's flush writes to every connection
 * that has output, and a broadcast to 10,000 connections is 10,000 sends. Crossing into the
 * addon once per turn instead of once per connection leaves only the kernel's own cost (what
 * io_uring's one submission for many requests does, here with plain syscalls). send() and not
 * write(): a socket needs none of the file layer write(2) goes through. MSG_NOSIGNAL: a peer
 * that is gone is -EPIPE in results, never a SIGPIPE.
 */
static napi_value SendEach(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t *fds, *results, count;
  if (!get_args(env, info, 4, argv, NULL) || !arg_send_batch(env, argv, "sendEach", &fds, &count, &results)) return NULL;
  for (int32_t i = 0; i < count; i++) {
    napi_value el;
    uint8_t *data;
    size_t len;
    if (napi_get_element(env, argv[1], (uint32_t)i, &el) != napi_ok ||
        !arg_bytes(env, el, "bufs must be an array of Uint8Array", &data, &len))
      return NULL;
    ssize_t r = send(fds[i], data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    results[i] = r < 0 ? -errno : (int32_t)r;
  }
  return num(env, count);
}
// #endregion send-each

// #region sendfile
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
// #endregion sendfile

// #region close
static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv, NULL) || !arg_int(env, argv[0], "fd must be a number", &fd)) return NULL;
  return result(env, close(fd));
}
// #endregion close

// #region fcntl
static napi_value Fcntl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, cmd, arg = 0;
  if (!get_args(env, info, 3, argv, NULL)) return NULL;
  if (!arg_int(env, argv[0], "fd must be a number", &fd) || !arg_int(env, argv[1], "cmd must be a number", &cmd))
    return NULL;
  if (!is_undefined(env, argv[2]) && !arg_int(env, argv[2], "arg must be a number", &arg)) return NULL;
  return result(env, fcntl(fd, cmd, arg));
}
// #endregion fcntl

// #region pipe2
static napi_value Pipe2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t flags = 0, *out;
  size_t n;
  int p[2];
  if (!get_args(env, info, 2, argv, NULL)) return NULL;
  if (!arg_i32s(env, argv[0], "out must be an Int32Array(2)", 2, &out, &n)) return NULL;
  if (!is_undefined(env, argv[1]) && !arg_int(env, argv[1], "flags must be a number", &flags)) return NULL;
  return fd_pair(env, pipe2(p, flags), p, out);
}
// #endregion pipe2

void register_io(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("read", Read),
      FN("write", Write),
      FN("writev", Writev),
      FN("sendEach", SendEach),
      FN("sendfile", Sendfile),
      FN("close", Close),
      FN("fcntl", Fcntl),
      FN("pipe2", Pipe2),
  };
  DEFINE_FNS(env, exports, fns);
}
