/**
 * Step 07 — one thread, one io_uring: a proactor (io_uring(7); Windows IOCP; Boost.Asio).
 *
 *   listen (non-blocking) → proactor: loop { io_uring_enter (submit + wait) → for each completion:
 *                                            accepted | received | sent }
 *
 * Step 05 waits for *readiness* and then makes every accept, read and write itself. Here the
 * kernel is handed the operations and reports them *done*: one io_uring_enter per turn both
 * submits the turn's requests and sleeps until some complete, and the completions are read from
 * memory shared with the kernel, without a syscall. Same single thread, same HTTP core, same
 * Sink/Session seam — only the way bytes move changes.
 *
 * Where io_uring is unavailable (an old kernel: ENOSYS; kernel.io_uring_disabled or a container's
 * seccomp profile: EPERM) the server says so in one line and exits 1. The test hook
 * COURSE_URING_SETUP_ERRNO=ENOSYS|EPERM|... simulates that (see @course/syscalls' uring.ts).
 */
import { createProtocol } from '@course/protocol';
import * as sys from '@course/syscalls';
import { announce, catchShutdownSignals, exitNow, listenOrExit, log, parseCommandLine, shutdownRequested } from '@course/server-kit';
import { Proactor, UringUnavailable } from './proactor.js';

const PKG = '07-io-uring';
const opts = parseCommandLine(PKG, {
  'header-timeout-ms': { kind: 'int', default: 10_000, min: 1, max: 3_600_000, help: 'close a connection whose request is not complete within this time' },
  'idle-timeout-ms': { kind: 'int', default: 60_000, min: 1, max: 3_600_000, help: 'close a keep-alive connection idle this long' },
  'high-water-mark': { kind: 'int', default: 1024 * 1024, min: 1, max: 1 << 30, help: 'stop reading from a connection with more unsent output than this (bytes)' },
  'ring-entries': { kind: 'int', default: 1024, min: 8, max: 32768, help: 'submission queue entries (the completion queue gets 4x)' },
  buffers: { kind: 'enum', default: '256', values: ['16', '32', '64', '128', '256', '512', '1024', '2048', '4096'], help: 'provided receive buffers (a power of two)' },
  'buffer-size': { kind: 'int', default: 16 * 1024, min: 512, max: 1 << 20, help: 'bytes per provided receive buffer' },
});
const protocol = createProtocol(opts.protocol, { root: opts.root });

// The ring first: if io_uring is missing, say why before anything else is set up.
let proactor: Proactor;
try {
  proactor = new Proactor({
    protocol,
    headerTimeoutMs: opts['header-timeout-ms'],
    idleTimeoutMs: opts['idle-timeout-ms'],
    highWaterMark: opts['high-water-mark'],
    ringEntries: opts['ring-entries'],
    bufferCount: Number(opts.buffers),
    bufferSize: opts['buffer-size'],
  });
} catch (err) {
  if (!(err instanceof UringUnavailable)) throw err;
  log(`${PKG}: ${err.message}`);
  exitNow(1);
}

catchShutdownSignals(); // SIGTERM makes io_uring_enter return -EINTR instead of killing us
// Non-blocking only for the rare synchronous accept that sheds a connection when out of fds.
const listener = listenOrExit(PKG, opts, { nonBlocking: true });
proactor.listen(listener.fd);
announce(listener, protocol, PKG, { model: 'io-uring-proactor', entries: proactor.ringEntries, buffers: `${proactor.bufferCount}x${proactor.bufferSize}` });

// #region the-loop
while (!shutdownRequested()) proactor.runOnce(-1); // sleeps in io_uring_enter until something completes
// #endregion the-loop

// Shutting down: stop accepting, let answers in flight finish (for at most 2 s), then close all.
const giveUpAt = Date.now() + 2000;
while (!proactor.drain() && Date.now() < giveUpAt) proactor.runOnce(50);
proactor.close();
sys.close(listener.fd);
exitNow(0);
