/*
 * io_uring for @course/syscalls, by raw syscalls: io_uring_setup(2), io_uring_enter(2),
 * io_uring_register(2) and mmap(2) of the rings. No liburing, so the addon still builds with only
 * Node's headers and a C compiler.
 *
 * The shape of it (io_uring(7)):
 *
 *   user space                       shared memory                       kernel
 *   prep*: fill an SQE, bump tail → [ SQ ring: head ... tail ] → consumes from head, runs the op
 *   harvest: read CQEs up to tail ← [ CQ ring: head ... tail ] ← posts one CQE per completion
 *
 * Each ring has one producer and one consumer. The producer writes an entry, then publishes it by
 * storing the new tail with *release* ordering; the consumer loads the tail with *acquire*
 * ordering, reads the entries below it, then stores the new head with *release* ordering so the
 * producer may reuse the slots. Those four atomics are the only synchronisation there is; each is
 * marked "barrier" below where it happens.
 *
 * Conventions, as in the rest of the addon: calls return a result or -errno and throw only for a
 * programming error (a wrong argument type, an unknown ring). A ring is named by a small integer
 * handle. It belongs to the thread that created it: only that thread may call the functions below
 * with it (SQ and CQ have one producer and one consumer; IORING_SETUP_SINGLE_ISSUER, when the
 * caller asks for it, makes the kernel enforce that). The handle table alone is shared, under a
 * mutex.
 *
 * Buffers: a buffer handed to prepSend/prepWritev/prepRead must stay alive and unchanged until its
 * completion arrives; the caller (the JS loop) keeps a reference for that long. The iovec arrays
 * and timespecs the kernel reads at submission are this file's, kept in a per-ring arena until the
 * kernel has consumed the SQEs naming them (IORING_FEAT_SUBMIT_STABLE: after submission the kernel
 * has its own copy).
 */
#include "syscalls.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RINGS 64
#define MAX_BUF_GROUPS 8
#define ARENA_IOVS 4096 /* iovecs per submission batch; prepWritev says -EBUSY past it */
#define ARENA_TS 64     /* timespecs per submission batch (prepTimeout) */
#define MAX_WRITEV_IOVS 1024

/* One registered provided-buffer ring (IORING_REGISTER_PBUF_RING, kernel 5.19). */
typedef struct {
  int used;
  unsigned bgid, count, size;
  struct io_uring_buf_ring *br; /* the ring the kernel takes buffers from (count entries) */
  size_t br_len;
  uint8_t *data; /* count * size bytes, shown to JS as an external ArrayBuffer */
  size_t data_len;
  unsigned short tail; /* local tail: entries added and not yet published */
  int *refs;           /* data is unmapped when the ring and the ArrayBuffer have both let go */
} buf_group;

typedef struct {
  int fd;
  unsigned features;
  /* SQ ring: kernel consumes at *sq_head, we produce at sq_local (published to *sq_tail). */
  unsigned *sq_head, *sq_tail, *sq_array, sq_mask, sq_entries;
  unsigned sq_local;
  /* CQ ring: kernel produces at *cq_tail, we consume at *cq_head. */
  unsigned *cq_head, *cq_tail, cq_mask;
  struct io_uring_cqe *cqes;
  struct io_uring_sqe *sqes;
  struct io_uring_sqe *last; /* the SQE prepared last (setSqeFlags amends it) */
  void *sq_map, *cq_map;
  size_t sq_map_len, cq_map_len, sqes_len;
  /* Stable memory for what the kernel reads at submission. */
  struct iovec iovs[ARENA_IOVS];
  unsigned iov_used;
  struct __kernel_timespec ts[ARENA_TS];
  unsigned ts_used;
  buf_group groups[MAX_BUF_GROUPS];
} ring_t;

static ring_t *rings[MAX_RINGS];
static pthread_mutex_t rings_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers beyond syscalls.h's (each returns false after throwing). */

/* user_data is a 32-bit token here (harvest returns it in an Int32Array slot). */
static bool u_token(napi_env env, napi_value v, uint64_t *out) {
  uint32_t t;
  if (napi_get_value_uint32(env, v, &t) != napi_ok) return throw_type(env, "userData must be a number (0..2^32-1)");
  *out = t;
  return true;
}

static bool u_ring(napi_env env, napi_value v, ring_t **out) {
  int32_t h;
  if (!arg_int(env, v, "ring must be a handle from uringSetup", &h)) return false;
  ring_t *r = (h >= 0 && h < MAX_RINGS) ? rings[h] : NULL;
  if (!r) {
    napi_throw_range_error(env, NULL, "ring: not an open io_uring handle");
    return false;
  }
  *out = r;
  return true;
}


/* ------------------------------------------------------------------------------------------ */
/* The rings */

static int sys_setup(unsigned entries, struct io_uring_params *p) {
  return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned wait, unsigned flags, void *arg, size_t argsz) {
  return (int)syscall(__NR_io_uring_enter, fd, submit, wait, flags, arg, argsz);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned nr) {
  return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

static void free_group(buf_group *g) {
  if (!g->used) return;
  if (g->br) munmap(g->br, g->br_len);
  if (--*g->refs == 0) {
    munmap(g->data, g->data_len);
    free(g->refs);
  }
  memset(g, 0, sizeof *g);
}

static void free_ring(ring_t *r) {
  for (int i = 0; i < MAX_BUF_GROUPS; i++) free_group(&r->groups[i]);
  if (r->sqes) munmap(r->sqes, r->sqes_len);
  if (r->cq_map && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_map_len);
  if (r->sq_map) munmap(r->sq_map, r->sq_map_len);
  if (r->fd >= 0) close(r->fd); /* cancels what is still in flight and unregisters everything */
  free(r);
}

/*
 * uringSetup(entries, cqEntries, flags) → handle, or -errno (-ENOSYS: no io_uring in this
 * kernel; -EPERM: kernel.io_uring_disabled or a seccomp filter). cqEntries 0: the kernel's
 * default (twice entries).
 */
static napi_value Setup(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t entries, cq_entries, flags;
  if (!get_args(env, info, 3, argv, NULL) || !arg_int(env, argv[0], "entries must be a number", &entries) ||
      !arg_int(env, argv[1], "cqEntries must be a number", &cq_entries) || !arg_int(env, argv[2], "flags must be a number", &flags))
    return NULL;
  if (entries <= 0 || cq_entries < 0) {
    napi_throw_range_error(env, NULL, "entries must be > 0 and cqEntries >= 0");
    return NULL;
  }
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = (unsigned)flags;
  if (cq_entries > 0) {
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = (unsigned)cq_entries;
  }
  int fd = sys_setup((unsigned)entries, &p);
  if (fd < 0) return num(env, -errno);

  ring_t *r = calloc(1, sizeof *r);
  if (!r) {
    close(fd);
    return num(env, -ENOMEM);
  }
  r->fd = fd;
  r->features = p.features;
  r->sq_map_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  r->cq_map_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0; /* 5.4+: SQ and CQ rings in one mapping */
  if (single && r->cq_map_len > r->sq_map_len) r->sq_map_len = r->cq_map_len;
  r->sq_map = mmap(NULL, r->sq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (r->sq_map == MAP_FAILED) goto fail;
  if (single) {
    r->cq_map = r->sq_map;
  } else {
    r->cq_map = mmap(NULL, r->cq_map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    if (r->cq_map == MAP_FAILED) {
      r->cq_map = NULL;
      goto fail;
    }
  }
  r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
  r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) {
    r->sqes = NULL;
    goto fail;
  }
  uint8_t *sq = r->sq_map, *cq = r->cq_map;
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_entries = p.sq_entries;
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->sq_local = *r->sq_tail;
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);

  pthread_mutex_lock(&rings_lock);
  int h = -1;
  for (int i = 0; i < MAX_RINGS; i++) {
    if (!rings[i]) {
      rings[i] = r;
      h = i;
      break;
    }
  }
  pthread_mutex_unlock(&rings_lock);
  if (h < 0) {
    free_ring(r);
    return num(env, -EMFILE);
  }
  return num(env, h);

fail: {
  int e = errno;
  if (r->sq_map == MAP_FAILED) r->sq_map = NULL;
  free_ring(r);
  return num(env, -e);
}
}

/* uringExit(ring): close the ring (in-flight requests are cancelled) and free its memory. */
static napi_value Exit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  ring_t *r;
  if (!get_args(env, info, 1, argv, NULL) || !u_ring(env, argv[0], &r)) return NULL;
  pthread_mutex_lock(&rings_lock);
  for (int i = 0; i < MAX_RINGS; i++)
    if (rings[i] == r) rings[i] = NULL;
  pthread_mutex_unlock(&rings_lock);
  free_ring(r);
  return num(env, 0);
}

/* uringFeatures(ring): the IORING_FEAT_* bits the kernel reported at setup. */
static napi_value Features(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  ring_t *r;
  if (!get_args(env, info, 1, argv, NULL) || !u_ring(env, argv[0], &r)) return NULL;
  return num(env, r->features);
}

/* uringFd(ring): the ring's own fd (for strace readers and fdinfo; not for closing). */
static napi_value RingFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  ring_t *r;
  if (!get_args(env, info, 1, argv, NULL) || !u_ring(env, argv[0], &r)) return NULL;
  return num(env, r->fd);
}

/* ------------------------------------------------------------------------------------------ */
/* Submission: prep* fill one SQE each and return 0, or -EBUSY when the SQ (or the arena) is full:
 * the caller submits (submitAndWait) and prepares again. Nothing is published until then. */

// #region next-sqe
static struct io_uring_sqe *next_sqe(ring_t *r) {
  /* barrier: acquire, pairs with the kernel's release of sq_head once it has consumed SQEs. */
  unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
  if (r->sq_local - head >= r->sq_entries) return NULL;
  unsigned idx = r->sq_local & r->sq_mask;
  struct io_uring_sqe *sqe = &r->sqes[idx];
  memset(sqe, 0, sizeof *sqe);
  r->sq_array[idx] = idx;
  r->sq_local++;
  r->last = sqe;
  return sqe;
}
// #endregion next-sqe

#define PREP(nargs)                                          \
  napi_value argv[nargs];                                    \
  ring_t *r;                                                 \
  if (!get_args(env, info, nargs, argv, NULL)) return NULL;  \
  if (!u_ring(env, argv[0], &r)) return NULL

/* uringPrepAccept(ring, fd, flags, multishot, userData): accept4(2); multishot (5.19) keeps it
 * armed, one CQE per connection (IORING_CQE_F_MORE set while it stays armed). */
static napi_value PrepAccept(napi_env env, napi_callback_info info) {
  PREP(5);
  int32_t fd, flags;
  bool multishot;
  uint64_t token = 0;
  if (!arg_int(env, argv[1], "fd must be a number", &fd) || !arg_int(env, argv[2], "flags must be a number", &flags)) return NULL;
  if (napi_get_value_bool(env, argv[3], &multishot) != napi_ok) return throw_type(env, "multishot must be a boolean"), NULL;
  if (!u_token(env, argv[4], &token)) return NULL;
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  sqe->opcode = IORING_OP_ACCEPT;
  sqe->fd = fd;
  sqe->accept_flags = (unsigned)flags;
  if (multishot) sqe->ioprio |= IORING_ACCEPT_MULTISHOT;
  sqe->user_data = token;
  return num(env, 0);
}

/* uringPrepRecv(ring, fd, bgid, flags, multishot, userData): recv(2) into a buffer the kernel
 * picks from provided-buffer group `bgid` when data arrives (IOSQE_BUFFER_SELECT). The CQE's
 * flags carry IORING_CQE_F_BUFFER and the buffer id in their upper 16 bits; -ENOBUFS if the group
 * was empty. Multishot (6.0) stays armed until an error, ENOBUFS or end of stream. */
static napi_value PrepRecv(napi_env env, napi_callback_info info) {
  PREP(6);
  int32_t fd, bgid, flags;
  bool multishot;
  uint64_t token = 0;
  if (!arg_int(env, argv[1], "fd must be a number", &fd) || !arg_int(env, argv[2], "bgid must be a number", &bgid) ||
      !arg_int(env, argv[3], "flags must be a number", &flags))
    return NULL;
  if (napi_get_value_bool(env, argv[4], &multishot) != napi_ok) return throw_type(env, "multishot must be a boolean"), NULL;
  if (!u_token(env, argv[5], &token)) return NULL;
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  sqe->opcode = IORING_OP_RECV;
  sqe->fd = fd;
  sqe->msg_flags = (unsigned)flags;
  sqe->flags = IOSQE_BUFFER_SELECT;
  sqe->buf_group = (uint16_t)bgid;
  if (multishot) sqe->ioprio |= IORING_RECV_MULTISHOT;
  sqe->user_data = token;
  return num(env, 0);
}

/*
 * The SQE of a buffer operation, send or read: (ring, fd, buf, offset, length, extra, userData),
 * where `extra` is send's msg_flags or read's file offset.
 */
static napi_value prep_buffer_op(napi_env env, napi_callback_info info, uint8_t opcode) {
  PREP(7);
  int32_t fd;
  uint8_t *p;
  size_t n;
  int64_t extra;
  uint64_t token = 0;
  if (!arg_int(env, argv[1], "fd must be a number", &fd) || !arg_span(env, argv + 2, false, &p, &n) ||
      !arg_int64(env, argv[5], opcode == IORING_OP_SEND ? "flags must be a number" : "fileOffset must be a number", &extra) ||
      !u_token(env, argv[6], &token))
    return NULL;
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  sqe->opcode = opcode;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)p;
  sqe->len = (unsigned)n;
  if (opcode == IORING_OP_SEND) sqe->msg_flags = (unsigned)extra;
  else sqe->off = (uint64_t)extra;
  sqe->user_data = token;
  return num(env, 0);
}

/* uringPrepSend(ring, fd, buf, offset, length, flags, userData): send(2) of buf[offset, +length). */
static napi_value PrepSend(napi_env env, napi_callback_info info) { return prep_buffer_op(env, info, IORING_OP_SEND); }

/* uringPrepWritev(ring, fd, bufs, start, count, userData): writev(2) of bufs[start, start+count). */
static napi_value PrepWritev(napi_env env, napi_callback_info info) {
  PREP(6);
  int32_t fd, start, count;
  uint64_t token = 0;
  bool is_array = false;
  uint32_t len;
  if (!arg_int(env, argv[1], "fd must be a number", &fd)) return NULL;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) return throw_type(env, "bufs must be an array of Uint8Array"), NULL;
  if (!arg_int(env, argv[3], "start must be a number", &start) || !arg_int(env, argv[4], "count must be a number", &count) ||
      !u_token(env, argv[5], &token))
    return NULL;
  napi_get_array_length(env, argv[2], &len);
  if (start < 0 || count <= 0 || count > MAX_WRITEV_IOVS || (uint32_t)start + (uint32_t)count > len) {
    napi_throw_range_error(env, NULL, "writev: start/count outside bufs (or more than 1024)");
    return NULL;
  }
  if (r->iov_used + (unsigned)count > ARENA_IOVS) return num(env, -EBUSY);
  struct iovec *iov = &r->iovs[r->iov_used];
  for (int32_t i = 0; i < count; i++) {
    napi_value el;
    napi_typedarray_type type;
    size_t blen;
    void *data;
    napi_get_element(env, argv[2], (uint32_t)(start + i), &el);
    if (napi_get_typedarray_info(env, el, &type, &blen, &data, NULL, NULL) != napi_ok || type != napi_uint8_array)
      return throw_type(env, "bufs must be an array of Uint8Array"), NULL;
    iov[i].iov_base = data;
    iov[i].iov_len = blen;
  }
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  r->iov_used += (unsigned)count; /* kept until the kernel has consumed this SQE */
  sqe->opcode = IORING_OP_WRITEV;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)iov;
  sqe->len = (unsigned)count;
  sqe->user_data = token;
  return num(env, 0);
}

/* uringPrepRead(ring, fd, buf, offset, length, fileOffset, userData): pread(2) into buf. */
static napi_value PrepRead(napi_env env, napi_callback_info info) { return prep_buffer_op(env, info, IORING_OP_READ); }

/* An SQE that names only an fd (close, cancel-by-fd): (ring, fd, userData). */
static napi_value prep_fd_op(napi_env env, napi_callback_info info, uint8_t opcode, uint32_t cancel_flags) {
  PREP(3);
  int32_t fd;
  uint64_t token = 0;
  if (!arg_int(env, argv[1], "fd must be a number", &fd) || !u_token(env, argv[2], &token)) return NULL;
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  sqe->opcode = opcode;
  sqe->fd = fd;
  sqe->cancel_flags = cancel_flags;
  sqe->user_data = token;
  return num(env, 0);
}

/* uringPrepClose(ring, fd, userData): close(2). */
static napi_value PrepClose(napi_env env, napi_callback_info info) { return prep_fd_op(env, info, IORING_OP_CLOSE, 0); }

/* uringPrepTimeout(ring, ms, userData): a CQE with -ETIME after `ms` milliseconds. */
static napi_value PrepTimeout(napi_env env, napi_callback_info info) {
  PREP(3);
  int64_t ms;
  uint64_t token = 0;
  if (!arg_int64(env, argv[1], "ms must be a number", &ms) || !u_token(env, argv[2], &token)) return NULL;
  if (ms < 0) {
    napi_throw_range_error(env, NULL, "ms must be >= 0");
    return NULL;
  }
  if (r->ts_used >= ARENA_TS) return num(env, -EBUSY);
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  struct __kernel_timespec *ts = &r->ts[r->ts_used++];
  ts->tv_sec = ms / 1000;
  ts->tv_nsec = (ms % 1000) * 1000000;
  sqe->opcode = IORING_OP_TIMEOUT;
  sqe->fd = -1;
  sqe->addr = (uint64_t)(uintptr_t)ts;
  sqe->len = 1;
  sqe->user_data = token;
  return num(env, 0);
}

/* uringPrepCancel(ring, targetUserData, userData): cancel the request submitted with targetUserData. */
static napi_value PrepCancel(napi_env env, napi_callback_info info) {
  PREP(3);
  uint64_t target = 0, token = 0;
  if (!u_token(env, argv[1], &target) || !u_token(env, argv[2], &token)) return NULL;
  struct io_uring_sqe *sqe = next_sqe(r);
  if (!sqe) return num(env, -EBUSY);
  sqe->opcode = IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = target;
  sqe->user_data = token;
  return num(env, 0);
}

/* uringPrepCancelFd(ring, fd, userData): cancel every request on fd (5.19). res: how many (0 if none). */
static napi_value PrepCancelFd(napi_env env, napi_callback_info info) {
  return prep_fd_op(env, info, IORING_OP_ASYNC_CANCEL, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL);
}

/* uringSetSqeFlags(ring, flags): OR IOSQE_* flags (IO_LINK, IO_HARDLINK...) into the SQE prepared
 * last. -EINVAL if nothing was prepared since the last submission. */
static napi_value SetSqeFlags(napi_env env, napi_callback_info info) {
  PREP(2);
  int32_t flags;
  if (!arg_int(env, argv[1], "flags must be a number", &flags)) return NULL;
  if (!r->last) return num(env, -EINVAL);
  r->last->flags |= (uint8_t)flags;
  return num(env, 0);
}

/*
 * uringSubmitAndWait(ring, waitNr, timeoutMs): ONE io_uring_enter(2) that submits every SQE
 * prepared since the last call and waits until at least waitNr completions are in the CQ ring, or
 * timeoutMs passed (-1: no limit). Returns the number of SQEs submitted, or -errno: -ETIME (the
 * timeout passed and nothing was submitted), -EINTR (a signal), -EBUSY (CQ overflow backlog: harvest
 * first).
 */
// #region submit-and-wait
static napi_value SubmitAndWait(napi_env env, napi_callback_info info) {
  PREP(3);
  int32_t wait_nr, timeout_ms;
  if (!arg_int(env, argv[1], "waitNr must be a number", &wait_nr) || !arg_int(env, argv[2], "timeoutMs must be a number", &timeout_ms))
    return NULL;
  /* barrier: release — every SQE written above becomes visible to the kernel before the tail does. */
  __atomic_store_n(r->sq_tail, r->sq_local, __ATOMIC_RELEASE);
  unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
  unsigned to_submit = r->sq_local - head; /* includes any the kernel left unconsumed last time */
  struct __kernel_timespec ts;
  struct io_uring_getevents_arg arg;
  memset(&arg, 0, sizeof arg);
  arg.sigmask_sz = _NSIG / 8;
  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
    arg.ts = (uint64_t)(uintptr_t)&ts;
  }
  unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG; /* EXT_ARG (5.11): a timeout in the same call */
  int ret = sys_enter(r->fd, to_submit, wait_nr > 0 ? (unsigned)wait_nr : 0, flags, &arg, sizeof arg);
  int e = errno;
  r->last = NULL;
  /* The arena may be reused once the kernel consumed every SQE that points into it. */
  if (__atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) == r->sq_local) {
    r->iov_used = 0;
    r->ts_used = 0;
  }
  return num(env, ret < 0 ? -e : ret);
}
// #endregion submit-and-wait

/*
 * uringHarvest(ring, out, max): copy up to `max` CQEs into the caller's Int32Array as
 * (userData, res, flags) triplets and mark them seen. No syscall. Returns the count.
 */
// #region harvest
static napi_value Harvest(napi_env env, napi_callback_info info) {
  PREP(3);
  napi_typedarray_type type;
  size_t len;
  void *p;
  int32_t max;
  if (napi_get_typedarray_info(env, argv[1], &type, &len, &p, NULL, NULL) != napi_ok || type != napi_int32_array)
    return throw_type(env, "out must be an Int32Array"), NULL;
  if (!arg_int(env, argv[2], "max must be a number", &max)) return NULL;
  if (max < 0 || (size_t)max * 3 > len) {
    napi_throw_range_error(env, NULL, "out must hold 3 * max Int32 slots");
    return NULL;
  }
  int32_t *out = p;
  unsigned head = *r->cq_head; /* ours: only this thread writes it */
  /* barrier: acquire, pairs with the kernel's release of cq_tail: CQEs below it are complete. */
  unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
  unsigned n = 0;
  while (head != tail && n < (unsigned)max) {
    const struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
    out[3 * n] = (int32_t)(uint32_t)cqe->user_data;
    out[3 * n + 1] = cqe->res;
    out[3 * n + 2] = (int32_t)cqe->flags;
    n++;
    head++;
  }
  /* barrier: release — we are done reading those CQEs before the kernel may overwrite them. */
  if (n > 0) __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  return num(env, n);
}
// #endregion harvest

/*
 * uringSendEach(ring, fds, bufs, count, results): sys.sendEach's contract — bufs[i] to fds[i],
 * MSG_NOSIGNAL | MSG_DONTWAIT, each result (bytes, possibly short, or -errno) into results[i] —
 * but the sends are SQEs and one io_uring_enter(2) submits as many as the ring holds. Why: a
 * broadcast to 10,000 sockets is 10,000 sends, and on this kind of machine entering and leaving
 * the kernel is a good part of each (the 06 chapter measures 06 both ways). MSG_DONTWAIT (and
 * the sockets' O_NONBLOCK) makes the kernel run each send inline at submission and post -EAGAIN
 * rather than park it, so every completion is in the CQ ring when the enter returns and the
 * buffers are free when this returns. The ring must be used for nothing else: every CQE
 * harvested here is taken for one of these sends (user_data = the index). Returns count, or
 * -errno if io_uring_enter failed (results of sends not made are -errno too; a caller may retry
 * them with sendEach).
 */
// #region uring-send-each
static napi_value UringSendEach(napi_env env, napi_callback_info info) {
  PREP(5);
  int32_t *fds, *results, count;
  if (!arg_send_batch(env, argv + 1, "uringSendEach", &fds, &count, &results)) return NULL;
  /* A completion left over from a call that failed half-way is stale: drop it. */
  __atomic_store_n(r->cq_head, __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
  int32_t i = 0;
  while (i < count) {
    /* Fill the SQ ring with as many sends as it holds. */
    unsigned n = 0;
    for (; i < count; i++, n++) {
      napi_value el;
      uint8_t *data;
      size_t len;
      if (napi_get_element(env, argv[2], (uint32_t)i, &el) != napi_ok || !arg_bytes(env, el, "bufs must be an array of Uint8Array", &data, &len)) {
        r->sq_local = *r->sq_tail; /* take back this round's SQEs: the tail never showed them */
        return NULL;
      }
      struct io_uring_sqe *sqe = next_sqe(r);
      if (!sqe) break;
      sqe->opcode = IORING_OP_SEND;
      sqe->fd = fds[i];
      sqe->addr = (uint64_t)(uintptr_t)data;
      sqe->len = (unsigned)len;
      sqe->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
      sqe->user_data = (uint64_t)(uint32_t)i;
      results[i] = -ECANCELED; /* until its completion says otherwise */
    }
    if (n == 0) { /* the SQ ring is full of someone else's SQEs: this ring is not ours alone */
      for (int32_t k = i; k < count; k++) results[k] = -EBUSY;
      return num(env, -EBUSY);
    }
    /* barrier: release — the SQEs above become visible to the kernel before the tail does. */
    __atomic_store_n(r->sq_tail, r->sq_local, __ATOMIC_RELEASE);
    r->last = NULL;
    /* Submit them and wait for all n completions (they are posted during the submission). */
    unsigned pending = n;
    while (pending > 0) {
      unsigned to_submit = r->sq_local - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
      int ret = sys_enter(r->fd, to_submit, pending, IORING_ENTER_GETEVENTS, NULL, 0);
      if (ret < 0 && errno != EINTR) {
        int e = errno;
        /* Take back what the kernel did not consume: those sends were never made (-e). One it
         * consumed but did not complete keeps -ECANCELED: its bytes may or may not have left. */
        unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
        for (unsigned k = head; k != r->sq_local; k++) results[(uint32_t)r->sqes[k & r->sq_mask].user_data] = -e;
        r->sq_local = head;
        __atomic_store_n(r->sq_tail, head, __ATOMIC_RELEASE);
        for (int32_t k = i; k < count; k++) results[k] = -e;
        return num(env, -e);
      }
      unsigned head = *r->cq_head;
      /* barrier: acquire, pairs with the kernel's release of cq_tail. */
      unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
      for (; head != tail; head++) {
        const struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
        uint32_t ud = (uint32_t)cqe->user_data;
        if (ud < (uint32_t)count) results[ud] = cqe->res;
        if (pending > 0) pending--;
      }
      /* barrier: release — done reading those CQEs before the kernel may overwrite them. */
      __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    }
  }
  return num(env, count);
}
// #endregion uring-send-each

/* ------------------------------------------------------------------------------------------ */
/* Provided buffers */

typedef struct {
  int *refs;
  uint8_t *data;
  size_t len;
} data_ref;

static void finalize_data(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  data_ref *d = hint;
  if (--*d->refs == 0) {
    munmap(d->data, d->len);
    free(d->refs);
  }
  free(d);
}

/* Add buffer `bid` to the group's ring at the local tail (published by publish_group). */
// #region buf-ring-add
static void add_buf(buf_group *g, unsigned bid) {
  struct io_uring_buf *b = &g->br->bufs[g->tail & (g->count - 1)];
  b->addr = (uint64_t)(uintptr_t)(g->data + (size_t)bid * g->size);
  b->len = g->size;
  b->bid = (uint16_t)bid;
  g->tail++;
}

static void publish_group(buf_group *g) {
  /* barrier: release — the entries written by add_buf are visible before the kernel sees the tail. */
  __atomic_store_n(&g->br->tail, g->tail, __ATOMIC_RELEASE);
}
// #endregion buf-ring-add

/*
 * uringBufRing(ring, bgid, count, size) → an ArrayBuffer of count * size bytes, or -errno:
 * registers a provided-buffer ring (IORING_REGISTER_PBUF_RING) of `count` buffers (a power of two,
 * at most 32768) of `size` bytes, all given to the kernel. Buffer `bid` is bytes
 * [bid * size, (bid + 1) * size) of the ArrayBuffer. A recv CQE that used one names it; hand it
 * back with uringBufReturn once its bytes are consumed.
 */
static napi_value BufRing(napi_env env, napi_callback_info info) {
  PREP(4);
  int32_t bgid, count, size;
  if (!arg_int(env, argv[1], "bgid must be a number", &bgid) || !arg_int(env, argv[2], "count must be a number", &count) ||
      !arg_int(env, argv[3], "size must be a number", &size))
    return NULL;
  if (bgid < 0 || bgid > 0xffff || count <= 0 || count > 32768 || (count & (count - 1)) != 0 || size <= 0) {
    napi_throw_range_error(env, NULL, "bufRing: bgid 0..65535, count a power of two up to 32768, size > 0");
    return NULL;
  }
  buf_group *g = NULL;
  for (int i = 0; i < MAX_BUF_GROUPS; i++) {
    if (r->groups[i].used && r->groups[i].bgid == (unsigned)bgid) return num(env, -EEXIST);
    if (!g && !r->groups[i].used) g = &r->groups[i];
  }
  if (!g) return num(env, -ENOSPC);
  size_t br_len = (size_t)count * sizeof(struct io_uring_buf);
  size_t data_len = (size_t)count * (size_t)size;
  void *br = mmap(NULL, br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0); /* page-aligned, as required */
  if (br == MAP_FAILED) return num(env, -errno);
  void *data = mmap(NULL, data_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (data == MAP_FAILED) {
    int e = errno;
    munmap(br, br_len);
    return num(env, -e);
  }
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)br;
  reg.ring_entries = (unsigned)count;
  reg.bgid = (uint16_t)bgid;
  if (sys_register(r->fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0) {
    int e = errno;
    munmap(br, br_len);
    munmap(data, data_len);
    return num(env, -e);
  }
  int *refs = malloc(sizeof *refs);
  data_ref *d = malloc(sizeof *d);
  napi_value ab;
  if (!refs || !d) {
    free(refs);
    free(d);
    munmap(br, br_len); /* the ring fd still names it until exit: harmless, it is never read again */
    munmap(data, data_len);
    return num(env, -ENOMEM);
  }
  *refs = 2; /* the ring (until uringExit) and the ArrayBuffer (until collected) */
  d->refs = refs;
  d->data = data;
  d->len = data_len;
  if (napi_create_external_arraybuffer(env, data, data_len, finalize_data, d, &ab) != napi_ok) {
    free(d);
    *refs = 1; /* no ArrayBuffer: the ring alone owns the memory (and frees it at exit) */
  }
  g->used = 1;
  g->bgid = (unsigned)bgid;
  g->count = (unsigned)count;
  g->size = (unsigned)size;
  g->br = br;
  g->br_len = br_len;
  g->data = data;
  g->data_len = data_len;
  g->refs = refs;
  g->tail = 0;
  for (int32_t i = 0; i < count; i++) add_buf(g, (unsigned)i);
  publish_group(g);
  if (*refs == 1) return num(env, -ENOMEM);
  return ab;
}

/* uringBufReturn(ring, bgid, bid): give buffer `bid` back to the kernel. Returns 0. */
static napi_value BufReturn(napi_env env, napi_callback_info info) {
  PREP(3);
  int32_t bgid, bid;
  if (!arg_int(env, argv[1], "bgid must be a number", &bgid) || !arg_int(env, argv[2], "bid must be a number", &bid)) return NULL;
  for (int i = 0; i < MAX_BUF_GROUPS; i++) {
    buf_group *g = &r->groups[i];
    if (g->used && g->bgid == (unsigned)bgid) {
      if (bid < 0 || (unsigned)bid >= g->count) {
        napi_throw_range_error(env, NULL, "bid is outside the group");
        return NULL;
      }
      add_buf(g, (unsigned)bid);
      publish_group(g);
      return num(env, 0);
    }
  }
  return num(env, -ENOENT);
}

/* ------------------------------------------------------------------------------------------ */
/* Registration */

static void set_const(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_set_named_property(env, obj, name, num(env, v));
}

#define UK(name) set_const(env, c, #name, name)

void register_uring(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      FN("uringSetup", Setup),
      FN("uringExit", Exit),
      FN("uringFeatures", Features),
      FN("uringFd", RingFd),
      FN("uringPrepAccept", PrepAccept),
      FN("uringPrepRecv", PrepRecv),
      FN("uringPrepSend", PrepSend),
      FN("uringPrepWritev", PrepWritev),
      FN("uringPrepRead", PrepRead),
      FN("uringPrepClose", PrepClose),
      FN("uringPrepTimeout", PrepTimeout),
      FN("uringPrepCancel", PrepCancel),
      FN("uringPrepCancelFd", PrepCancelFd),
      FN("uringSetSqeFlags", SetSqeFlags),
      FN("uringSubmitAndWait", SubmitAndWait),
      FN("uringHarvest", Harvest),
      FN("uringSendEach", UringSendEach),
      FN("uringBufRing", BufRing),
      FN("uringBufReturn", BufReturn),
  };
  DEFINE_FNS(env, exports, fns);
  napi_value c;
  napi_create_object(env, &c);
  UK(IORING_SETUP_CQSIZE); UK(IORING_SETUP_SUBMIT_ALL); UK(IORING_SETUP_COOP_TASKRUN);
  UK(IORING_SETUP_SINGLE_ISSUER); UK(IORING_SETUP_DEFER_TASKRUN);
  UK(IORING_FEAT_SINGLE_MMAP); UK(IORING_FEAT_NODROP); UK(IORING_FEAT_SUBMIT_STABLE); UK(IORING_FEAT_EXT_ARG);
  UK(IORING_FEAT_FAST_POLL);
  UK(IORING_CQE_F_BUFFER); UK(IORING_CQE_F_MORE); UK(IORING_CQE_F_SOCK_NONEMPTY); UK(IORING_CQE_BUFFER_SHIFT);
  UK(IOSQE_IO_LINK); UK(IOSQE_IO_HARDLINK); UK(IOSQE_ASYNC);
  UK(ETIME); UK(ECANCELED); UK(ENOENT); UK(EBUSY); UK(ENOBUFS); UK(EEXIST); UK(EALREADY);
  UK(MSG_NOSIGNAL); UK(MSG_WAITALL); UK(MSG_DONTWAIT);
  napi_set_named_property(env, exports, "URING", c);
}
