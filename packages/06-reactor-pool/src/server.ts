/**
 * The library's front door, modelled on swoole's Server, gnet's engine and appnet:
 *
 *   const server = await createServer({ port: 8080, app: './my-app.js' });
 *   await server.serve();          // until SIGTERM/SIGINT, then a graceful drain
 *
 * Threads (defaults: as many SubReactors and WorkerPool threads as cores):
 *
 *   main thread      MainReactor: listening socket, accept, balance, relay tasks and results
 *   SubReactor × N   step 05's epoll loop for the connections it was given; runs the app's
 *                    connection hooks (onConnect, onReceive, onRequest, onClose, onFinish, onTick)
 *   WorkerPool × M   runs onTask: blocking or CPU-heavy work, off every reactor
 *
 * `app` is a module path or URL that every thread imports (functions cannot cross threads);
 * app.ts lists its hooks. createServer itself runs on the main thread, once.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as sys from '@course/syscalls';
import { DEMO_SITE_ROOT } from '@course/protocol';
import { catchShutdownSignals, type Listener } from '@course/server-kit';
import { LocalServer, appUrl, loadApp } from './app.js';
import { BALANCE_POLICIES, type BalancePolicy } from './balancer.js';
import { MainReactor } from './main-reactor.js';
import { StatsBoard, type ServerStats } from './stats.js';
import type { WebSocketLimits } from './connection.js';

export interface ServerOptions {
  /** IPv4 or IPv6 literal. Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** SubReactor threads. Default: number of cores. */
  reactors?: number;
  /** WorkerPool threads. Default: number of cores. */
  workers?: number;
  /** How the MainReactor picks a SubReactor. Default 'rr'. */
  balance?: BalancePolicy;
  /** 'http' (static files + the app's onRequest) or 'echo' (TCP: the app's onReceive, or echo). */
  protocol?: 'http' | 'echo';
  /** Static document root (HTTP). Default: the course's demo site. */
  root?: string;
  /** WebSocket limits (`/ws/echo`): largest message, heartbeat period. Default 1 MiB, no heartbeat. */
  websocket?: WebSocketLimits;
  /** The app module every thread loads. Default: the demo app. */
  app?: string | URL;
  /** Recycle a WorkerPool thread after this many tasks (swoole's max_request); 0 = never. */
  maxRequests?: number;
  /**
   * Level- or edge-triggered SubReactors. Default 'lt': it cannot lose a wake-up, and in ET
   * every read must go on until EAGAIN (gnet, too, warns against ET unless you are sure).
   */
  mode?: 'lt' | 'et';
  /** A request begun must be complete within this (an answer owed is not timed out). Default 10 s. */
  headerTimeoutMs?: number;
  /** Close a keep-alive connection idle this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** Period of onTick on every SubReactor. Default 1000 ms. */
  tickMs?: number;
  /** On SIGTERM, give in-flight responses this long before exiting anyway. Default 10 s. */
  drainTimeoutMs?: number;
}

/** A running server. Main thread only. */
export interface Server {
  /** The listening socket and the address it really got. */
  readonly listener: Listener;
  /** The options, defaults filled in. */
  readonly options: Readonly<Required<Omit<ServerOptions, 'app'>> & { app: string }>;
  /** Counters of every thread (shared memory; no messages). */
  stats(): ServerStats;
  /** Run until SIGTERM/SIGINT, then drain. Resolves true if every connection finished in time. */
  serve(): Promise<boolean>;
}

export const DEMO_APP: string = fileURLToPath(new URL('./demo-app.js', import.meta.url));

/**
 * Validate the options, load the app (on this thread too, so that a broken module fails here
 * with its own error), listen, start every thread and wait until each is ready. Throws a
 * RangeError for a bad option and a SysError (`code` = errno name) if listening fails.
 */
export async function createServer(options: ServerOptions = {}): Promise<Server> {
  const cores = availableParallelism();
  const o = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8080,
    reactors: options.reactors ?? cores,
    workers: options.workers ?? cores,
    balance: options.balance ?? 'rr',
    protocol: options.protocol ?? 'http',
    root: options.root ?? DEMO_SITE_ROOT,
    websocket: options.websocket ?? {},
    app: appUrl(options.app ?? DEMO_APP),
    maxRequests: options.maxRequests ?? 0,
    mode: options.mode ?? 'lt',
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    tickMs: options.tickMs ?? 1000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
  };
  integer('port', o.port, 0, 65535);
  integer('reactors', o.reactors, 1, 256);
  integer('workers', o.workers, 1, 256);
  integer('maxRequests', o.maxRequests, 0, Number.MAX_SAFE_INTEGER);
  for (const name of ['headerTimeoutMs', 'idleTimeoutMs', 'tickMs', 'drainTimeoutMs'] as const) integer(name, o[name], 1, 2 ** 31 - 1);
  if (!BALANCE_POLICIES.includes(o.balance)) throw new RangeError(`balance must be one of ${BALANCE_POLICIES.join('|')}, got ${String(o.balance)}`);
  if (o.protocol !== 'http' && o.protocol !== 'echo') throw new RangeError(`protocol must be http or echo, got ${String(o.protocol)}`);
  if (o.mode !== 'lt' && o.mode !== 'et') throw new RangeError(`mode must be lt or et, got ${String(o.mode)}`);

  const board = StatsBoard.create(o.reactors);
  const app = await loadApp(o.app);
  await app.onStart?.(new LocalServer('main', 0, board));

  // Signals before threads: SIGTERM must interrupt the main thread's epoll_wait (see server-kit).
  catchShutdownSignals();
  const listener = sys.listenTcp({ host: o.host, port: o.port, nonBlocking: true });
  const main = await MainReactor.start({
    listenFd: listener.fd,
    reactors: o.reactors,
    workers: o.workers,
    balance: o.balance,
    maxRequests: o.maxRequests,
    protocol: o.protocol,
    root: o.root,
    websocket: o.websocket,
    appUrl: o.app,
    mode: o.mode,
    headerTimeoutMs: o.headerTimeoutMs,
    idleTimeoutMs: o.idleTimeoutMs,
    tickMs: o.tickMs,
    drainTimeoutMs: o.drainTimeoutMs,
    board,
  });
  return {
    listener,
    options: o,
    stats: () => board.snapshot(),
    serve: () => main.serve(),
  };
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
}
