/**
 * One thread, one connection (03 --mode per-connection). Runs on the Worker's own thread.
 *
 * The thread serves its connection with blocking calls, exactly as step 01 does on the main
 * thread, and then simply runs out of work: nothing is left on its event loop, so Node ends the
 * thread. The OS thread is gone at once; the main thread joins it (frees its stack, emits 'exit')
 * the next time its own event loop turns — see main.ts.
 *
 * Diagnostics go to fd 2 with writeSync (server-kit's `log`): console.log from a Worker travels
 * through the main thread's event loop, which does not run while main is blocked in accept.
 */
import { workerData } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { createProtocol } from '@course/protocol';
import { log, peerOf, serveConnection } from '@course/server-kit';
import type { ConnectionJob } from './jobs.js';

const job = workerData as ConnectionJob;
Atomics.store(job.taken, 0, 1); // the fd is ours now (see ConnectionJob.taken)
let handedOver = false; // true once serveConnection owns the fd (it closes it, come what may)
try {
  const protocol = createProtocol(job.protocol, { root: job.root, codec: job.codec });
  handedOver = true;
  serveConnection(job.fd, protocol, peerOf(job.fd)); // blocks this thread only
} catch (err) {
  // Never close a fd we no longer own: its number may already name another thread's connection.
  if (!handedOver) sys.close(job.fd);
  log(`03-threads: connection on fd ${job.fd}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
}
