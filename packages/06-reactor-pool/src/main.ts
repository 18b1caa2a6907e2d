/**
 * Step 06 — main reactor + sub-reactor threads + worker pool: the model of gnet, swoole, netty
 * and muduo's "reactors + thread pool" (model 11 of §6.6). The course's destination.
 *
 *   main thread:      MainReactor   listen → epoll: accept until EAGAIN → balancer → hand-off ring
 *   thread × R:       SubReactor    step 05's epoll loop for its own connections (I/O only)
 *   thread × W:       WorkerPool    onTask: CPU-heavy or blocking work, posted to it by the
 *                                   SubReactor, its result posted straight back (port + eventfd)
 *
 * No thread per connection (step 03), no single loop that a slow handler stalls (step 05): every
 * core runs an epoll loop, and slow work runs beside them. The files name the roles:
 * main-reactor.ts, sub-reactor.ts, worker-pool.ts (the pool's supervisor) and worker-thread.ts
 * (a pool thread), balancer.ts, handoff.ts (what crosses threads), stats.ts; the library's API
 * is in server.ts, options.ts and app.ts; the demo app in demo-app.ts. This file is the command
 * line: flags in, one createServer, and the process's signals (SIGTERM/SIGINT: drain and exit 0;
 * SIGHUP: graceful reload of the app module, server.reload()).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createProtocol } from '@course/protocol';
import * as sys from '@course/syscalls';
import { announce, catchShutdownSignals, exitNow, log, parseCommandLine, protocolSettings } from '@course/server-kit';
import { SEND_BATCH_MODES, sendBatchInUse, type SendBatchMode } from '05-epoll-native';
import { ACCEPT_MODES, type AcceptMode, type BalancePolicy } from './balancer.js';
import { SLOW_CONSUMER_POLICIES, type SlowConsumerPolicy } from './options.js';
import { DEMO_APP, createServer, type Server } from './server.js';

const PKG = '06-reactor-pool';
const cores = availableParallelism();
const opts = parseCommandLine(PKG, {
  // 06's default is auto: one port serves the site, the WebSockets and the demo's TCP chat.
  protocol: { kind: 'enum', default: 'auto', values: ['http', 'echo', 'auto'], help: 'http, echo, or auto (both on one port, told apart by the first bytes)' },
  reactors: { kind: 'int', default: cores, min: 1, max: 256, help: 'SubReactor threads (epoll loops)' },
  workers: { kind: 'int', default: cores, min: 1, max: 256, help: 'WorkerPool threads (onTask)' },
  balance: { kind: 'enum', default: 'rr', values: ['rr', 'least', 'hash'], help: 'round-robin, least connections, or source-address hash' },
  accept: { kind: 'enum', default: 'main', values: ACCEPT_MODES, help: 'who accepts: the main reactor, or each SubReactor (SO_REUSEPORT, EPOLLEXCLUSIVE, or shared: the herd)' },
  'max-requests': { kind: 'int', default: 0, min: 0, max: 1e9, help: 'recycle a WorkerPool thread after this many tasks; 0 = never' },
  'max-queued-tasks': { kind: 'int', default: 1024, min: 0, max: 2 ** 31 - 1, help: 'tasks that may wait for a WorkerPool thread; past it, 503 at once' },
  'max-connections': { kind: 'int', default: 0, min: 0, max: 2 ** 31 - 1, help: 'past this many open connections, answer a new one 503 (echo: close it) at once; 0 = no limit' },
  'task-timeout': { kind: 'int', default: 0, min: 0, max: 3_600_000, help: 'answer 503 for a task not done within this many ms (its late result is dropped); 0 = never' },
  mode: { kind: 'enum', default: 'lt', values: ['lt', 'et'], help: 'level- or edge-triggered SubReactors' },
  'send-batch': { kind: 'enum', default: 'uring', values: SEND_BATCH_MODES, help: 'a SubReactor turn\'s sends: one io_uring submission (uring), or a send(2) each (calls)' },
  'header-timeout-ms': { kind: 'int', default: 10_000, min: 1, max: 3_600_000, help: 'close a connection whose request is not complete within this time' },
  'idle-timeout-ms': { kind: 'int', default: 60_000, min: 1, max: 3_600_000, help: 'close a keep-alive connection idle this long' },
  'drain-timeout-ms': { kind: 'int', default: 10_000, min: 1, max: 3_600_000, help: 'on SIGTERM, wait this long for in-flight responses' },
  'max-backpressure': { kind: 'int', default: 1024 * 1024, min: 1, max: 1 << 30, help: 'unsent bytes at which frames to a connection meet --slow-consumer' },
  'slow-consumer': { kind: 'enum', default: 'drop', values: SLOW_CONSUMER_POLICIES, help: 'a frame for a connection past --max-backpressure: drop it, or close the connection (WebSocket: 1008); counted in stats' },
  app: { kind: 'string', default: DEMO_APP, help: 'the app module every thread loads (compiled .js); with --protocol echo, the demo is left out (the bare echo)' },
});

if (!existsSync(opts.app)) {
  log(`${PKG}: --app: "${opts.app}" does not exist`);
  exitNow(2);
}

// The command line takes SIGTERM/SIGINT (the library does not): they end serve() below with a
// drain. Before any thread starts, so that no early signal kills the process instead.
catchShutdownSignals();

// SIGHUP: graceful reload (server.reload(): every thread imports the app afresh, no connection
// is closed). Caught from the start, so that an early SIGHUP does not end the process.
let reload: (() => Promise<void>) | null = null;
process.on('SIGHUP', () => {
  if (reload === null) return log(`${PKG}: SIGHUP before the server is up: ignored`);
  reload().then(
    () => log(`${PKG}: reloaded ${opts.app}`),
    (err: unknown) => log(`${PKG}: reload failed, still serving the previous app module: ${err instanceof Error ? err.message : String(err)}`),
  );
});

let server: Server;
try {
  server = await createServer({
    host: opts.host,
    port: opts.port,
    root: opts.root,
    protocol: opts.protocol,
    codec: opts.codec,
    reactors: opts.reactors,
    workers: opts.workers,
    balance: opts.balance as BalancePolicy,
    accept: opts.accept as AcceptMode,
    maxRequests: opts['max-requests'],
    maxQueuedTasks: opts['max-queued-tasks'],
    taskTimeoutMs: opts['task-timeout'],
    maxConnections: opts['max-connections'],
    mode: opts.mode as 'lt' | 'et',
    sendBatch: opts['send-batch'] as SendBatchMode,
    headerTimeoutMs: opts['header-timeout-ms'],
    idleTimeoutMs: opts['idle-timeout-ms'],
    drainTimeoutMs: opts['drain-timeout-ms'],
    // The demo under --protocol echo would be its line chat: leave the app to createServer's default (none).
    ...(opts.protocol === 'echo' && opts.app === DEMO_APP ? {} : { app: opts.app }),
    websocket: { ...protocolSettings(opts).websocket, maxBackpressure: opts['max-backpressure'], slowConsumer: opts['slow-consumer'] as SlowConsumerPolicy },
  });
} catch (err) {
  // A syscall failure (EADDRINUSE...) is one line; anything else (the app module failed to load)
  // gets its stack. exitNow, not process.exit: threads may already be blocked in epoll_wait.
  log(err instanceof sys.SysError ? `${PKG}: ${err.message}` : `${PKG}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  exitNow(1);
}

reload = () => server.reload();
const sends = sendBatchInUse(PKG, opts['send-batch'] as SendBatchMode);

announce(server.listener, createProtocol(opts.protocol, protocolSettings(opts)), PKG, {
  model: 'reactor-pool',
  reactors: opts.reactors,
  workers: opts.workers,
  balance: opts.balance,
  mode: opts.mode,
  'send-batch': sends,
  accept: opts.accept,
  'max-requests': opts['max-requests'],
  'max-queued-tasks': opts['max-queued-tasks'],
  'task-timeout': opts['task-timeout'],
  'max-connections': opts['max-connections'],
  'max-backpressure': opts['max-backpressure'],
  'slow-consumer': opts['slow-consumer'],
});

const drained = await server.serve(); // until SIGTERM/SIGINT, then the drain and every thread ended
if (!drained) log(`${PKG}: drain timed out after ${opts['drain-timeout-ms']} ms; closing the remaining connections`);
exitNow(0);
