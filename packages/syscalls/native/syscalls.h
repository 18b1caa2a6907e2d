/*
 * @course/syscalls — what every concern file of the addon shares: the argument and result
 * helpers (common.c), the export macro, and one registration function per concern.
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
 *     context-aware and keeps no per-thread state except the signal slot (signals.c), which is
 *     process-wide.
 *
 * The files, by concern: sockets.c, io.c, readiness.c (poll/epoll/eventfd), process.c,
 * signals.c, constants.c (the C object and errno names); syscalls.c is the module, a list of
 * the register_* calls below.
 */
#ifndef COURSE_SYSCALLS_H
#define COURSE_SYSCALLS_H

#include <node_api.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers (common.c). Each returns false after throwing, so callers write
 * `if (!x) return NULL`. `what` is the message thrown. */

/* Fetch up to `want` arguments; missing ones are `undefined` (napi fills them in). */
bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, size_t *argc);
bool throw_type(napi_env env, const char *msg);
bool throw_range(napi_env env, const char *msg);
bool arg_int(napi_env env, napi_value v, const char *what, int32_t *out);
bool arg_int64(napi_env env, napi_value v, const char *what, int64_t *out);
bool is_undefined(napi_env env, napi_value v);
/* A Uint8Array (Buffer is one) or another byte-element typed array: its bytes and byte length. */
bool arg_bytes(napi_env env, napi_value v, const char *what, uint8_t **data, size_t *len);
/* An Int32Array with at least `min_len` elements. */
bool arg_i32s(napi_env env, napi_value v, const char *what, size_t min_len, int32_t **data, size_t *len);
/* sendEach's (fds, bufs, count, results) at argv[0..3]: checked; bufs stays a JS array. */
bool arg_send_batch(napi_env env, napi_value *argv, const char *who, int32_t **fds, int32_t *count, int32_t **results);
/* (buf, offset, length) at argv[0..2] → a checked pointer and count; see common.c. */
bool arg_span(napi_env env, napi_value *argv, bool optional, uint8_t **ptr, size_t *count);

/* ------------------------------------------------------------------------------------------ */
/* Result helpers (common.c). */

/* A JS number: int32 when it fits, else int64 (exact up to 2^53). */
napi_value num(napi_env env, int64_t v);
/* A syscall's return value `r` if it succeeded, else -errno. Call it before errno can change. */
napi_value result(napi_env env, int64_t r);
/* What pipe2 or socketpair made: `r` their return, `fds` the pair → out[0], out[1]; 0 or -errno. */
napi_value fd_pair(napi_env env, int r, const int fds[2], int32_t *out);

/* ------------------------------------------------------------------------------------------ */
/* Registration: each concern file defines its functions on `exports` in one call. */

/* One enumerable function property named `js`, implemented by `c`. */
#define FN(js, c) {js, NULL, c, NULL, NULL, NULL, napi_enumerable, NULL}

/* napi_define_properties over a static table; a failure leaves a pending exception. */
#define DEFINE_FNS(env, exports, fns) napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns)

void register_sockets(napi_env env, napi_value exports);
void register_io(napi_env env, napi_value exports);
void register_readiness(napi_env env, napi_value exports);
void register_process(napi_env env, napi_value exports);
void register_signals(napi_env env, napi_value exports);
void register_constants(napi_env env, napi_value exports);
void register_uring(napi_env env, napi_value exports); /* uring.c: io_uring */

/* ------------------------------------------------------------------------------------------ */
/* Between concerns. */

/* signals.c: reset the signal slot in a freshly forked child (process.c's fork calls it). */
void signals_after_fork(void);

#endif
