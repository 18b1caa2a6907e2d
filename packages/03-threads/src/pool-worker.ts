/**
 * One thread of the prethreaded pool (03 --mode pool). Runs on the Worker's own thread, forever:
 *
 *   loop { accept on the shared listening socket (blocks) → serve that connection → close }
 *
 * Every pool thread sleeps in accept on the same socket; for each connection the kernel wakes
 * exactly one of them (see main.ts on the thundering herd). The thread ends only when the process
 * does: main calls _exit on SIGTERM, which takes every thread with it.
 */
import { workerData } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { createProtocol, type Protocol } from '@course/protocol';
import { log, peerOf, serveConnection } from '@course/server-kit';
import { FAILED, READY, type PoolJob } from './jobs.js';

const { C } = sys;
const job = workerData as PoolJob;

let protocol: Protocol;
try {
  protocol = createProtocol(job.protocol, { root: job.root, codec: job.codec });
} catch (err) {
  log(`03-threads: pool thread cannot start: ${err instanceof Error ? err.message : String(err)}`);
  Atomics.add(job.ready, FAILED, 1);
  Atomics.notify(job.ready, READY);
  throw err;
}

Atomics.add(job.ready, READY, 1); // main waits for all N before printing the banner
Atomics.notify(job.ready, READY);

// #region accept-loop
for (;;) {
  const fd = sys.accept4(job.listenFd, C.SOCK_CLOEXEC);
  // -EINTR: a signal landed on this thread; main (which the addon forwards it to) decides about
  // shutdown, so we must not consume it with shutdownRequested() here. -ECONNABORTED: the client
  // left while queued. -EMFILE: out of fds; pause so we do not spin while the queue stays full.
  if (fd < 0) {
    if (fd === -C.EMFILE || fd === -C.ENFILE) sys.poll(new Int32Array(0), 0, 10);
    continue;
  }
  try {
    serveConnection(fd, protocol, peerOf(fd)); // closes fd whatever happens
  } catch (err) {
    log(`03-threads: connection on fd ${fd}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  }
}
// #endregion accept-loop
