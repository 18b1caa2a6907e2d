/**
 * Step 03 — a thread per connection, and the pool of threads that fixes it
 * (Stevens, UNP §30.10 "TCP concurrent server, one thread per client" and §30.11 "TCP
 * prethreaded server, each thread calls accept"; muduo's models 2 and 4).
 *
 *   --mode per-connection (default)
 *     main thread: loop { accept (blocks) → start a Worker, handing it the fd as an integer }
 *     Worker:      serve that one connection with blocking calls → the thread ends
 *
 *   --mode pool --threads N (default: one per core)
 *     main thread: start N Workers, wait for SIGTERM
 *     Worker:      loop { accept on the shared listening socket (blocks) → serve → close }
 *
 * Same lesson as step 02, with threads instead of processes: fds are process-wide, so handing a
 * connection over is just passing a number. But a Node Worker is a whole V8 isolate — its own
 * heap, its own copy of every module — so it costs nearly what a process does: tens of
 * milliseconds to start and megabytes per idle connection (packages/bench measures both).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { createProtocol, type Protocol } from '@course/protocol';
import { announce, catchShutdownSignals, exitNow, listenOrExit, log, parseCommandLine, shutdownRequested, type Listener } from '@course/server-kit';
import { FAILED, READY, type ConnectionJob, type PoolJob } from './jobs.js';

const PKG = '03-threads';
const { C } = sys;

/**
 * A thread per connection has no natural limit, and a Node Worker holds 4 fds of its own (its
 * event loop's epoll and wake-up fds), the connection's, and while it loads up to ~10 more: the
 * ESM loader reads a module graph in parallel (sampled from /proc/self/fd around `new Worker`).
 * Past RLIMIT_NOFILE a new Worker fails half-made (seen under `ulimit -n 64`). So concurrent
 * threads are capped at what the fd limit allows; past the cap, connections wait in the kernel's
 * accept queue: the server slows down instead of failing.
 */
// #region thread-cap
const FDS_PER_THREAD = 16;
const fdLimit = sys.getrlimitNofile();
const defaultMaxThreads = Math.max(1, Math.min(1024, Math.floor(((fdLimit > 0 ? fdLimit : 1024) - 32) / FDS_PER_THREAD)));
// #endregion thread-cap

const opts = parseCommandLine(PKG, {
  mode: { kind: 'enum', default: 'per-connection', values: ['per-connection', 'pool'], help: 'a thread per connection, or a pool of N' },
  threads: { kind: 'int', default: availableParallelism(), min: 1, max: 1024, help: 'pool: number of threads' },
  'max-threads': { kind: 'int', default: defaultMaxThreads, min: 1, max: 4096, help: 'per-connection: at most this many threads at once (default from ulimit -n)' },
});
const protocol = createProtocol(opts.protocol, { root: opts.root, codec: opts.codec }); // each Worker makes its own
// SIGTERM interrupts main's blocking calls with EINTR instead of killing us. The kernel hands a
// process-wide signal to the main thread when it can (main does not block it); if it lands on a
// Worker instead, the addon's handler forwards it to main, the thread that decides to stop.
catchShutdownSignals();
const listener = listenOrExit(PKG, opts); // blocking listening socket

if (opts.mode === 'pool') await threadPool(listener, protocol, opts.threads);
else await threadPerConnection(listener, protocol, opts['max-threads']);

// #region thread-per-connection
/** UNP §30.10: main accepts, a new thread serves each connection. Never returns. */
async function threadPerConnection(listener: Listener, protocol: Protocol, maxThreads: number): Promise<never> {
  announce(listener, protocol, PKG, { model: 'thread-per-connection', 'max-threads': maxThreads });
  const workerUrl = new URL('./connection-worker.js', import.meta.url);
  /** Workers started and not yet joined. Main thread only. */
  const unjoined = new Set<Worker>();
  const wanted = new Int32Array([listener.fd, C.POLLIN, 0]);

  while (!shutdownRequested()) {
    // A Worker that has served its connection ends its OS thread by itself, but Node joins the
    // thread (frees its stack, drops the Worker object, emits 'exit') from *our* event loop, and
    // our event loop does not run while we sit in accept. So: with no Worker left to join, block
    // in accept for as long as it takes; otherwise wait in poll for at most 100 ms. Either way, let
    // the event loop turn once after every wake-up.
    // At the cap, accept nobody: new clients wait in the accept queue until a thread is joined.
    // #region accept-or-wait
    if (unjoined.size >= maxThreads) sys.poll(wanted, 0, 100); // a nap; the event loop joins below
    else if (unjoined.size === 0 || sys.poll(wanted, 1, 100) > 0) {
      const fd = sys.accept4(listener.fd, C.SOCK_CLOEXEC); // blocks; SIGTERM → -EINTR
      // fd < 0 — EINTR: the loop checks for shutdown; ECONNABORTED: the client left while queued
      if (fd >= 0) startConnectionWorker(fd);
    }
    // #endregion accept-or-wait
    await turnEventLoop();
  }
  // Threads still serving die with the process: _exit ends every thread at once.
  exitNow(0);

  // #region start-connection-worker
  function startConnectionWorker(fd: number): void {
    const job: ConnectionJob = { fd, protocol: opts.protocol, codec: opts.codec, root: opts.root, taken: new Int32Array(new SharedArrayBuffer(4)) };
    let worker: Worker;
    try {
      worker = new Worker(workerUrl, { workerData: job });
    } catch (err) {
      log(`${PKG}: cannot start a thread: ${err instanceof Error ? err.message : String(err)}; dropping the connection`);
      sys.close(fd);
      return;
    }
    unjoined.add(worker);
    worker.on('error', (err) => log(`${PKG}: connection thread failed: ${err.stack ?? err.message}`));
    worker.on('exit', () => {
      unjoined.delete(worker);
      // Never got to run: the connection is still ours, and nobody else will ever close it.
      if (Atomics.load(job.taken, 0) === 0) sys.close(fd);
    });
  }
  // #endregion start-connection-worker
}
// #endregion thread-per-connection

// #region pool-design
/**
 * UNP §30.11: N threads, each blocking in accept on the one listening socket. Never returns.
 *
 * The thundering herd: threads asleep in a blocking accept wait as exclusive waiters, so Linux
 * wakes exactly one per connection (see 02-fork's prefork for the story) — no lock around accept
 * is needed, unlike the mutex Stevens puts there for portability (02-fork says why a lock was
 * ever needed: SVR4's accept).
 *
 * The other design (UNP §30.12): main accepts every connection and hands the fd to an idle pool
 * thread through a shared queue — here it would be a ring of fds in a SharedArrayBuffer, with the
 * pool threads sleeping in Atomics.wait and main waking one with Atomics.notify. It centralises
 * accept (one place to count or refuse connections) but adds a hand-off and a wake-up to every
 * connection; Stevens measured it slower than letting each thread accept, and so do we expect.
 */
// #endregion pool-design
// #region thread-pool
async function threadPool(listener: Listener, protocol: Protocol, threads: number): Promise<never> {
  const ready = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const job: PoolJob = { listenFd: listener.fd, protocol: opts.protocol, codec: opts.codec, root: opts.root, ready };
  for (let i = 0; i < threads; i++) {
    const worker = new Worker(new URL('./pool-worker.js', import.meta.url), { workerData: job });
    worker.on('error', (err) => {
      log(`${PKG}: pool thread failed: ${err.stack ?? err.message}`);
      exitNow(1);
    });
  }

  // Print the banner only once all N threads are about to accept. Each one bumps `ready` and
  // notifies; between naps we let the event loop turn so a thread that failed to load reports it.
  const deadline = Date.now() + 30_000;
  // #region wait-until-ready
  while (Atomics.load(ready, READY) < threads) {
    if (Atomics.load(ready, FAILED) > 0 || Date.now() > deadline) {
      log(`${PKG}: the thread pool did not start`);
      exitNow(1);
    }
    Atomics.wait(ready, READY, Atomics.load(ready, READY), 50);
    await turnEventLoop();
  }
  // #endregion wait-until-ready
  announce(listener, protocol, PKG, { model: 'prethreaded', threads });

  // #region pause
  // Main serves nobody; it sleeps until SIGTERM. poll with no fds and no timeout is pause(2):
  // only a signal ends it (-EINTR). Then _exit takes the pool threads, still in accept, with us.
  while (!shutdownRequested()) sys.poll(new Int32Array(0), 0, -1);
  exitNow(0);
  // #endregion pause
}
// #endregion thread-pool

// #region turn-event-loop
/** Let Node's event loop run one round (timers, I/O callbacks, Worker exits), then continue. */
function turnEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
// #endregion turn-event-loop
