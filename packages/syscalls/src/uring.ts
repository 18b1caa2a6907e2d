/**
 * io_uring, one to one (native/uring.c): io_uring_setup(2), io_uring_enter(2), io_uring_register(2)
 * and the two rings mapped into this process (io_uring(7)).
 *
 *   const ring = uringSetup(256, 1024, 0);                 // a handle, or -errno
 *   uringPrepAccept(ring, listenFd, C.SOCK_CLOEXEC, true, 1);
 *   uringSubmitAndWait(ring, 1, -1);                        // ONE syscall: submit + wait
 *   const n = uringHarvest(ring, cqes, 256);                // no syscall: read the CQ ring
 *   for (let i = 0; i < n; i++) handle(cqes[3*i], cqes[3*i+1], cqes[3*i+2]); // userData, res, flags
 *
 * Conventions, as for every raw call: a result or `-errno`, never a throw except for a
 * programming error (wrong types, an unknown ring handle: RangeError).
 *
 * - `prep*` fill one submission queue entry (SQE) and return 0, or `-EBUSY` when the queue is
 *   full: submit with `uringSubmitAndWait(ring, 0, 0)` and prepare again. Nothing reaches the
 *   kernel until `uringSubmitAndWait`.
 * - `userData` is a 32-bit token (0..2^32-1) that comes back in the completion (CQE). Harvest
 *   writes it as an Int32: read it with `>>> 0` if you use the top bit.
 * - A buffer given to `uringPrepSend`, `uringPrepWritev` or `uringPrepRead` must stay alive and
 *   unchanged until its completion is harvested: the kernel works on it meanwhile.
 *
 * Threads: a ring belongs to the thread that created it; only that thread may use its handle.
 */
import { addon, nativeFn } from './addon.js';
import { C } from './constants.js';
import { sendEach as plainSendEach } from './raw.js';

/** Names of the io_uring constants in `URING`, read from <linux/io_uring.h> at build time. */
const URING_NAMES = [
  'IORING_SETUP_CQSIZE', 'IORING_SETUP_SUBMIT_ALL', 'IORING_SETUP_COOP_TASKRUN',
  'IORING_SETUP_SINGLE_ISSUER', 'IORING_SETUP_DEFER_TASKRUN',
  'IORING_FEAT_SINGLE_MMAP', 'IORING_FEAT_NODROP', 'IORING_FEAT_SUBMIT_STABLE', 'IORING_FEAT_EXT_ARG',
  'IORING_FEAT_FAST_POLL',
  'IORING_CQE_F_BUFFER', 'IORING_CQE_F_MORE', 'IORING_CQE_F_SOCK_NONEMPTY', 'IORING_CQE_BUFFER_SHIFT',
  'IOSQE_IO_LINK', 'IOSQE_IO_HARDLINK', 'IOSQE_ASYNC',
  'ETIME', 'ECANCELED', 'ENOENT', 'EBUSY', 'ENOBUFS', 'EEXIST', 'EALREADY',
  // send/recv flags for uringPrepSend and uringPrepRecv
  'MSG_NOSIGNAL', 'MSG_WAITALL', 'MSG_DONTWAIT',
] as const;

export type UringConstantName = (typeof URING_NAMES)[number];

/** io_uring's flags, the errnos its completions carry, and the send/recv flags. Immutable; any thread may read it. */
export const URING: Readonly<Record<UringConstantName, number>> = Object.freeze(checkUring(addon['URING']));

function checkUring(c: unknown): Record<UringConstantName, number> {
  const table = c as Record<string, unknown>;
  for (const name of URING_NAMES) {
    if (typeof table?.[name] !== 'number') throw new Error(`@course/syscalls: the addon lacks constant ${name}; rebuild it`);
  }
  return table as Record<UringConstantName, number>;
}

// --- the ring --------------------------------------------------------------------------------

const rawSetup = nativeFn<(entries: number, cqEntries: number, flags: number) => number>('uringSetup');

/**
 * The environment variable that makes `uringSetup` fail without asking the kernel, with the errno
 * it names (`ENOSYS`, `EPERM`, `EINVAL`, `ENOMEM`): a test hook, so that the "io_uring is
 * unavailable" path can be run on a kernel that has it, without touching global sysctls.
 */
export const URING_SETUP_ERRNO_ENV = 'COURSE_URING_SETUP_ERRNO';

/**
 * io_uring_setup(2) and the mmap of its rings: a ring handle (>= 0), or -errno. `entries` SQEs
 * (rounded up to a power of two); `cqEntries` CQEs (0: twice `entries`); `flags` IORING_SETUP_*.
 * -ENOSYS: the kernel has no io_uring; -EPERM: `kernel.io_uring_disabled` or a seccomp filter
 * forbids it; -EINVAL: a flag this kernel does not know.
 */
export function uringSetup(entries: number, cqEntries: number, flags: number): number {
  const forced = process.env[URING_SETUP_ERRNO_ENV];
  if (forced) {
    const errno = (C as Record<string, number>)[forced];
    if (errno === undefined) throw new RangeError(`${URING_SETUP_ERRNO_ENV}=${forced}: not an errno name the addon knows`);
    return -errno;
  }
  return rawSetup(entries, cqEntries, flags);
}

/** Close the ring (the kernel cancels what is still in flight) and unmap it. Returns 0. */
export const uringExit = nativeFn<(ring: number) => number>('uringExit');

/** The IORING_FEAT_* bits the kernel reported at setup. */
export const uringFeatures = nativeFn<(ring: number) => number>('uringFeatures');

/** The ring's own fd (what strace shows as io_uring_enter's first argument). Not for closing. */
export const uringFd = nativeFn<(ring: number) => number>('uringFd');

/**
 * io_uring_enter(2), once: submit every SQE prepared since the last call, then wait until at least
 * `waitNr` completions are in the CQ ring or `timeoutMs` passed (-1: no limit; 0 with waitNr 0:
 * just submit and collect). Returns how many SQEs were submitted, or -errno: -ETIME (the time
 * passed and nothing was submitted), -EINTR (a signal arrived: look at it), -EBUSY (the kernel
 * holds overflowed completions: harvest, then call again).
 */
export const uringSubmitAndWait = nativeFn<(ring: number, waitNr: number, timeoutMs: number) => number>('uringSubmitAndWait');

/**
 * Copy up to `max` completions into `out` as (userData, res, flags) triplets (`out` holds at least
 * 3·max Int32 slots) and mark them consumed. No syscall: the CQ ring is mapped memory.
 */
export const uringHarvest = nativeFn<(ring: number, out: Int32Array, max: number) => number>('uringHarvest');

// --- preparing requests (no syscall; 0 or -EBUSY) --------------------------------------------

/** accept4(2) on `fd` with `flags` (`C.SOCK_CLOEXEC`...). `multishot`: one CQE per connection, armed while `IORING_CQE_F_MORE`. */
export const uringPrepAccept = nativeFn<(ring: number, fd: number, flags: number, multishot: boolean, userData: number) => number>('uringPrepAccept');

/**
 * recv(2) into a buffer the kernel picks from provided-buffer group `bgid` when bytes arrive (see
 * `uringBufRing`): the CQE's flags have `IORING_CQE_F_BUFFER`, and `flags >>> IORING_CQE_BUFFER_SHIFT`
 * is the buffer id. res 0: end of stream; -ENOBUFS: the group was empty.
 */
export const uringPrepRecv = nativeFn<(ring: number, fd: number, bgid: number, flags: number, multishot: boolean, userData: number) => number>('uringPrepRecv');

/** send(2) of `buf[offset, offset + length)` with `flags` (`URING.MSG_NOSIGNAL`, `URING.MSG_WAITALL`). */
export const uringPrepSend = nativeFn<(ring: number, fd: number, buf: Uint8Array, offset: number, length: number, flags: number, userData: number) => number>('uringPrepSend');

/** writev(2) of `bufs[start, start + count)` (count ≤ 1024). The iovec array is the addon's; the buffers stay yours. */
export const uringPrepWritev = nativeFn<(ring: number, fd: number, bufs: readonly Uint8Array[], start: number, count: number, userData: number) => number>('uringPrepWritev');

/** pread(2): `length` bytes of `fd` at `fileOffset` into `buf[offset...]`. */
export const uringPrepRead = nativeFn<(ring: number, fd: number, buf: Uint8Array, offset: number, length: number, fileOffset: number, userData: number) => number>('uringPrepRead');

/** close(2) of `fd`, in order with the other requests (link it after a cancel). */
export const uringPrepClose = nativeFn<(ring: number, fd: number, userData: number) => number>('uringPrepClose');

/** A completion with res -ETIME after `ms` milliseconds. */
export const uringPrepTimeout = nativeFn<(ring: number, ms: number, userData: number) => number>('uringPrepTimeout');

/** Cancel the request submitted with `targetUserData`. res: 0, -ENOENT (none), -EALREADY (running). */
export const uringPrepCancel = nativeFn<(ring: number, targetUserData: number, userData: number) => number>('uringPrepCancel');

/** Cancel every request on `fd`. res: how many were cancelled (0 if none). */
export const uringPrepCancelFd = nativeFn<(ring: number, fd: number, userData: number) => number>('uringPrepCancelFd');

/** OR `IOSQE_*` flags (`IOSQE_IO_LINK`, `IOSQE_IO_HARDLINK`) into the SQE prepared last. 0, or -EINVAL if none. */
export const uringSetSqeFlags = nativeFn<(ring: number, flags: number) => number>('uringSetSqeFlags');

// --- many sends, one submission ---------------------------------------------------------------

/**
 * `sendEach` (raw.ts) through a ring: `bufs[i]` to `fds[i]` for `i < count`, MSG_NOSIGNAL |
 * MSG_DONTWAIT, each result (bytes sent, possibly short, or -errno) into `results[i]` — but one
 * io_uring_enter(2) submits them all (as many as the ring's SQ holds per enter). The sends run
 * inline at submission, so every result is in when it returns and the buffers are free again.
 * The ring must serve these calls only (its completions are all taken for them). Returns
 * `count`, or -errno if io_uring_enter failed (then the sends not made have -errno as their result).
 */
export const uringSendEach = nativeFn<(ring: number, fds: Int32Array, bufs: readonly Uint8Array[], count: number, results: Int32Array) => number>('uringSendEach');

/**
 * Below this many sockets a batch is sent with a plain send(2): an enter for one send is that
 * syscall plus the ring's bookkeeping, so the ring pays only from two sends up.
 */
export const SEND_RING_MIN = 2;

/** SQ entries of a send ring: a broadcast to 10,000 sockets is ten enters. */
const SEND_RING_ENTRIES = 1024;

/**
 * A reactor's batched sends: `sendEach`'s contract, made with one io_uring_enter(2) per batch
 * instead of one send(2) per socket (`uringSendEach`), or with plain sends when the ring is not
 * available (`open` says why) or the batch is small. Owned by the thread that opened it: only
 * that thread may call it (the ring is single-issuer).
 */
export class SendRing {
  /** Takes `ring` (a handle from `uringSetup`, for these sends only; -1: none); `open` makes one. */
  constructor(private ring: number) {}

  /** One without a ring: every batch is plain send(2)s (`sendEach`). */
  static plain(): SendRing {
    return new SendRing(-1);
  }

  /** A send ring, or the reason io_uring cannot be used here (one line). */
  static open(): SendRing | string {
    const flags = URING.IORING_SETUP_SUBMIT_ALL | URING.IORING_SETUP_COOP_TASKRUN | URING.IORING_SETUP_SINGLE_ISSUER;
    const ring = uringSetup(SEND_RING_ENTRIES, 0, flags);
    return ring < 0 ? uringUnavailableReason(ring) : new SendRing(ring);
  }

  /** `sendEach(fds, bufs, count, results)`: every result is in `results` when it returns. */
  send(fds: Int32Array, bufs: readonly Uint8Array[], count: number, results: Int32Array): void {
    if (count < SEND_RING_MIN || this.ring < 0) {
      plainSendEach(fds, bufs, count, results);
      return;
    }
    const r = uringSendEach(this.ring, fds, bufs, count, results);
    if (r >= 0) return;
    // io_uring_enter failed (ENOMEM, a seccomp filter added later...): make the sends it did not
    // make with send(2), and use send(2) from now on. (-ECANCELED: consumed, outcome unknown.)
    this.close();
    for (let j = 0; j < count; j++) {
      if (results[j] === r) plainSendEach(fds.subarray(j, j + 1), [bufs[j]!], 1, results.subarray(j, j + 1));
    }
  }

  /** Close the ring; later sends are plain send(2)s. */
  close(): void {
    if (this.ring >= 0) uringExit(this.ring);
    this.ring = -1;
  }
}

// --- provided buffers ------------------------------------------------------------------------

/**
 * Register a provided-buffer ring (IORING_REGISTER_PBUF_RING): `count` buffers (a power of two) of
 * `size` bytes in group `bgid`, all handed to the kernel. Returns their memory — buffer `bid` is
 * bytes [bid·size, (bid+1)·size) — or -errno. The memory stays valid while you hold the
 * ArrayBuffer, even after `uringExit`.
 */
export const uringBufRing = nativeFn<(ring: number, bgid: number, count: number, size: number) => ArrayBuffer | number>('uringBufRing');

/** Hand buffer `bid` of group `bgid` back to the kernel once its bytes are consumed. 0, or -ENOENT. */
export const uringBufReturn = nativeFn<(ring: number, bgid: number, bid: number) => number>('uringBufReturn');

/**
 * Why io_uring cannot be used, in one line, for an errno from `uringSetup` or from a feature the
 * loop needs (multishot accept, provided-buffer rings: kernel 5.19).
 */
export function uringUnavailableReason(errno: number): string {
  const e = Math.abs(errno);
  if (e === C.ENOSYS) return 'io_uring is not available: this kernel has no io_uring (ENOSYS; it needs Linux 5.1 or newer, built with CONFIG_IO_URING)';
  if (e === C.EPERM) return 'io_uring is not permitted: kernel.io_uring_disabled is set, or a seccomp profile (a container runtime\'s default) forbids it (EPERM)';
  if (e === C.EINVAL) return 'io_uring is too old here: a feature this server needs is missing (EINVAL; it needs Linux 5.19 or newer)';
  if (e === C.ENOMEM) return 'io_uring could not map its rings: out of locked memory (ENOMEM; raise RLIMIT_MEMLOCK or use fewer entries)';
  return `io_uring setup failed (${errnoNameOf(e)})`;
}

const errnoNameOf = nativeFn<(errno: number) => string>('errnoName');
