/**
 * The server's options: what `createServer` accepts (`ServerOptions`, every field optional) and
 * the one resolved form (`Settings`, defaults filled in, validated) that travels from there down
 * to every thread. Plain data, so it crosses threads in `workerData` as it is.
 *
 * Ownership: `resolveOptions` runs once, on the main thread, in createServer; every thread then
 * gets its own read-only copy of the Settings.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CodecSpecError, DEMO_SITE_ROOT, parseCodecSpec } from '@course/protocol';
import { SEND_BATCH_MODES, type ReactorMode, type SendBatchMode } from '05-epoll-native';
import { appUrl } from './app.js';
import { ACCEPT_MODES, BALANCE_POLICIES, type AcceptMode, type BalancePolicy } from './balancer.js';

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
  /**
   * Who accepts (balancer.ts): 'main' (the MainReactor, then `balance`), 'reuseport' (a
   * SO_REUSEPORT listener per SubReactor), 'exclusive' (one listener in every SubReactor's epoll
   * set, EPOLLEXCLUSIVE) or 'shared' (the same without it: the thundering herd). Default 'main'.
   */
  accept?: AcceptMode;
  /**
   * 'http' (static files + the app's onRequest), 'echo' (TCP: the app's onReceive, or echo), or
   * 'auto': both on one listener, each connection told apart by its first bytes (an HTTP method
   * and a space: HTTP; anything else: the TCP side). Default 'http' here; the command line's
   * default is 'auto' (main.ts).
   */
  protocol?: 'http' | 'echo' | 'auto';
  /**
   * A `--codec` spec framing TCP (`line`, `length:size=2`, ...; see CODEC_SPEC_HELP): echo then
   * answers frame by frame, and an app's onReceive gets whole frames and its `conn.send` is
   * encoded. Default 'none': the app's own `codec` export if it has one, else raw bytes.
   */
  codec?: string;
  /** Static document root (HTTP). Default: the course's demo site. */
  root?: string;
  /**
   * The app module every thread loads. Default: the demo app — except with protocol 'echo',
   * where it is none (NO_APP), so that `--protocol echo` is the protocol's echo as on every
   * model, not the demo's TCP chat.
   */
  app?: string | URL;
  /** Recycle a WorkerPool thread after this many tasks (swoole's max_request); 0 = never. */
  maxRequests?: number;
  /**
   * Tasks that may wait for a pool thread, beyond one running on each: past it `server.task()`
   * refuses at once (returns null) and the app answers 503. A bound turns overload into fast
   * refusals instead of latency (see the 06 chapter, Little's law). Default 1024.
   */
  maxQueuedTasks?: number;
  /**
   * Connections open at once, over every SubReactor; past it a new connection is accepted and
   * refused at once (HTTP: a 503; echo: closed), and counted. 0 = no limit. Default 0.
   */
  maxConnections?: number;
  /** A task not answered this long after it was submitted fails with TASK_TIMED_OUT; its late result is dropped. 0 = never. Default 0. */
  taskTimeoutMs?: number;
  /**
   * Level- or edge-triggered SubReactors. Default 'lt': it cannot lose a wake-up, and in ET
   * every read must go on until EAGAIN (gnet, too, warns against ET unless you are sure).
   */
  mode?: 'lt' | 'et';
  /**
   * How a SubReactor's turn of sends to many sockets enters the kernel: 'uring', one io_uring
   * submission for all of them (as 'calls' where io_uring is refused), or 'calls', a send(2)
   * each. Default 'uring'.
   */
  sendBatch?: SendBatchMode;
  /** A request begun must be complete within this (an answer owed is not timed out). Default 10 s. */
  headerTimeoutMs?: number;
  /** Close a keep-alive connection idle this long. Default 60 s. */
  idleTimeoutMs?: number;
  /** Period of onTick on every SubReactor. Default 1000 ms. */
  tickMs?: number;
  /** On close() or SIGTERM, give in-flight responses this long, then close them anyway. Default 10 s. */
  drainTimeoutMs?: number;
  /** WebSocket limits (`/ws/echo` and the app's webSocketPaths). */
  websocket?: WebSocketLimits;
}

/** What happens to a slow consumer, one holding `maxBackpressure` unsent bytes (push.ts). */
export type SlowConsumerPolicy = 'drop' | 'close';
export const SLOW_CONSUMER_POLICIES: readonly SlowConsumerPolicy[] = ['drop', 'close'];

/** `--ws-max-message`, `--ws-ping`, `--max-backpressure` and `--slow-consumer`. Plain data. */
export interface WebSocketLimits {
  /** Largest message accepted (larger: close 1009). Default 1 MiB. */
  maxMessage?: number;
  /** Heartbeat: ping a connection silent this long, cut it if silent as long again; 0 = off. Default 0. */
  pingIntervalMs?: number;
  /** Unsent bytes at which the app's frames to a connection are refused by `slowConsumer` (push.ts). Default 1 MiB. */
  maxBackpressure?: number;
  /**
   * A frame for a connection holding `maxBackpressure` unsent bytes: 'drop' it (counted in
   * stats' `dropped`), or 'close' the connection (a WebSocket with 1008; counted in `slowClosed`).
   * Default 'drop'.
   */
  slowConsumer?: SlowConsumerPolicy;
}

/** The options with every default filled in and `app` as a URL string every thread can import. */
export type Settings = Readonly<
  Required<Omit<ServerOptions, 'app' | 'mode' | 'websocket'>> & { app: string; mode: ReactorMode; websocket: Readonly<Required<WebSocketLimits>> }
>;

export const DEMO_APP: string = fileURLToPath(new URL('./demo-app.js', import.meta.url));
/** An app with no hooks: the protocols alone (HTTP's static files, echo). */
export const NO_APP = 'data:text/javascript,';

/** Fill in the defaults and check every field. Throws a RangeError naming the bad option. */
export function resolveOptions(options: ServerOptions = {}): Settings {
  const cores = availableParallelism();
  const o = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8080,
    reactors: options.reactors ?? cores,
    workers: options.workers ?? cores,
    balance: options.balance ?? 'rr',
    accept: options.accept ?? 'main',
    protocol: options.protocol ?? 'http',
    codec: options.codec ?? 'none',
    root: options.root ?? DEMO_SITE_ROOT,
    app: appUrl(options.app ?? (options.protocol === 'echo' ? NO_APP : DEMO_APP)),
    maxRequests: options.maxRequests ?? 0,
    maxQueuedTasks: options.maxQueuedTasks ?? 1024,
    taskTimeoutMs: options.taskTimeoutMs ?? 0,
    maxConnections: options.maxConnections ?? 0,
    mode: options.mode ?? 'lt',
    sendBatch: options.sendBatch ?? 'uring',
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 60_000,
    tickMs: options.tickMs ?? 1000,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    websocket: Object.freeze({
      maxMessage: options.websocket?.maxMessage ?? 1024 * 1024,
      pingIntervalMs: options.websocket?.pingIntervalMs ?? 0,
      maxBackpressure: options.websocket?.maxBackpressure ?? 1024 * 1024,
      slowConsumer: options.websocket?.slowConsumer ?? 'drop',
    }),
  };
  integer('port', o.port, 0, 65535);
  integer('reactors', o.reactors, 1, 256);
  integer('workers', o.workers, 1, 256);
  integer('maxRequests', o.maxRequests, 0, Number.MAX_SAFE_INTEGER);
  integer('maxQueuedTasks', o.maxQueuedTasks, 0, 2 ** 31 - 1);
  integer('taskTimeoutMs', o.taskTimeoutMs, 0, 2 ** 31 - 1);
  integer('maxConnections', o.maxConnections, 0, 2 ** 31 - 1);
  for (const name of ['headerTimeoutMs', 'idleTimeoutMs', 'tickMs', 'drainTimeoutMs'] as const) integer(name, o[name], 1, 2 ** 31 - 1);
  integer('websocket.maxMessage', o.websocket.maxMessage, 1, 2 ** 31 - 1);
  integer('websocket.pingIntervalMs', o.websocket.pingIntervalMs, 0, 2 ** 31 - 1);
  integer('websocket.maxBackpressure', o.websocket.maxBackpressure, 1, Number.MAX_SAFE_INTEGER);
  if (!SLOW_CONSUMER_POLICIES.includes(o.websocket.slowConsumer)) throw new RangeError(`websocket.slowConsumer must be one of ${SLOW_CONSUMER_POLICIES.join('|')}, got ${String(o.websocket.slowConsumer)}`);
  if (!BALANCE_POLICIES.includes(o.balance)) throw new RangeError(`balance must be one of ${BALANCE_POLICIES.join('|')}, got ${String(o.balance)}`);
  if (!ACCEPT_MODES.includes(o.accept)) throw new RangeError(`accept must be one of ${ACCEPT_MODES.join('|')}, got ${String(o.accept)}`);
  if (o.protocol !== 'http' && o.protocol !== 'echo' && o.protocol !== 'auto') throw new RangeError(`protocol must be http, echo or auto, got ${String(o.protocol)}`);
  try {
    if (parseCodecSpec(o.codec) !== null && o.protocol === 'http') throw new RangeError(`codec frames TCP: it needs protocol echo or auto, got ${o.protocol}`);
  } catch (err) {
    if (err instanceof CodecSpecError) throw new RangeError(`codec: ${err.message}`);
    throw err;
  }
  if (o.mode !== 'lt' && o.mode !== 'et') throw new RangeError(`mode must be lt or et, got ${String(o.mode)}`);
  if (!SEND_BATCH_MODES.includes(o.sendBatch)) throw new RangeError(`sendBatch must be one of ${SEND_BATCH_MODES.join('|')}, got ${String(o.sendBatch)}`);
  return Object.freeze(o);
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
}
