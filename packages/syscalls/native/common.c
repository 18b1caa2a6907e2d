/*
 * Argument and result helpers shared by every concern file (declared in syscalls.h). They turn
 * JS values into C ones, throwing a TypeError/RangeError only for programming errors, and turn a
 * syscall's return value into the -errno convention.
 */
#include "syscalls.h"

#include <errno.h>
#include <stdio.h>

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers. Each returns false after throwing, so callers write `if (!x) return NULL`. */

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *argc) {
  size_t n = want;
  if (napi_get_cb_info(env, info, &n, argv, NULL, NULL) != napi_ok) return false;
  if (argc) *argc = n;
  return true;
}

bool throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return false;
}

bool throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return false;
}

bool arg_int(napi_env env, napi_value v, const char *what, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) return throw_type(env, what);
  return true;
}

bool arg_int64(napi_env env, napi_value v, const char *what, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) return throw_type(env, what);
  return true;
}

bool is_undefined(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_undefined;
}

/* A Uint8Array (Buffer is one) or another byte-element typed array: its bytes and byte length. */
bool arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len) {
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
bool arg_i32s(napi_env env, napi_value v, const char *what, size_t min_len, int32_t **data, size_t *len) {
  napi_typedarray_type type;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_int32_array)
    return throw_type(env, what);
  if (*len < min_len) return throw_range(env, what);
  *data = p;
  return true;
}

/* (fds, bufs, count, results) of sendEach and uringSendEach: count within every array. */
bool arg_send_batch(napi_env env, napi_value *argv, const char *who, int32_t **fds, int32_t *count, int32_t **results) {
  size_t nfds, nresults;
  bool is_array = false;
  uint32_t nbufs;
  char msg[160];
  if (!arg_i32s(env, argv[0], "fds must be an Int32Array", 0, fds, &nfds)) return false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return throw_type(env, "bufs must be an array of Uint8Array");
  napi_get_array_length(env, argv[1], &nbufs);
  if (!arg_int(env, argv[2], "count must be a number", count)) return false;
  if (!arg_i32s(env, argv[3], "results must be an Int32Array", 0, results, &nresults)) return false;
  if (*count < 0 || (size_t)*count > nfds || (uint32_t)*count > nbufs || (size_t)*count > nresults) {
    snprintf(msg, sizeof msg, "%s: count must be >= 0 and at most the length of fds, bufs and results", who);
    return throw_range(env, msg);
  }
  return true;
}

/*
 * (buf, offset, length) → a checked pointer and count. `offset` and `length` may be undefined
 * when `optional` (defaults: 0 and "to the end"), which read/write allow.
 */
// #region arg-span
bool arg_span(napi_env env, napi_value *argv, bool optional, uint8_t **ptr, size_t *count) {
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
// #endregion arg-span

/* ------------------------------------------------------------------------------------------ */
/* Result helpers: `r` if the call succeeded, else -errno. */

napi_value num(napi_env env, int64_t v) {
  napi_value r;
  if (v >= INT32_MIN && v <= INT32_MAX) napi_create_int32(env, (int32_t)v, &r);
  else napi_create_int64(env, v, &r);
  return r;
}

// #region result
napi_value result(napi_env env, int64_t r) {
  return num(env, r < 0 ? -(int64_t)errno : r);
}
// #endregion result

/* What pipe2 or socketpair made: `r` their return, `fds` the pair → out[0], out[1]; 0 or -errno. */
napi_value fd_pair(napi_env env, int r, const int fds[2], int32_t *out) {
  if (r < 0) return num(env, -errno);
  out[0] = fds[0];
  out[1] = fds[1];
  return num(env, 0);
}
