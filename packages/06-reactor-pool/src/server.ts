/**
 * The library's front door, modelled on swoole's Server, gnet's engine and appnet:
 *
 *   const server = await createServer({ port: 8080, app: './my-app.js' });
 *   process.once('SIGTERM', () => void server.close());   // if the host wants signals
 *   await server.serve();          // until close(), then a graceful drain; every thread ended
 *
 * Threads (defaults: as many SubReactors and WorkerPool threads as cores):
 *
 *   main thread      MainReactor: listening socket, accept, balance; supervises the threads,
 *                    runs the shutdown
 *   SubReactor × N   step 05's epoll loop for the connections it was given; runs the app's
 *                    connection hooks (onConnect, onReceive, onRequest, onClose, onFinish, onTick)
 *                    and posts tasks straight to the pool
 *   WorkerPool × M   runs onTask: blocking or CPU-heavy work, off every reactor; replies straight
 *                    to the SubReactor that asked
 *
 * `app` is a module path or URL that every thread imports (functions cannot cross threads);
 * app.ts lists its hooks. The library leaves the process's signals alone: the command line
 * (main.ts) catches SIGTERM/SIGINT, a host program decides for itself. createServer, serve and
 * close run on the main thread (the thread that created the server).
 */
import * as sys from '@course/syscalls';
import type { Listener } from '@course/server-kit';
import { LocalServer, loadApp } from './app.js';
import { openListeners } from './balancer.js';
import { MainReactor } from './main-reactor.js';
import { DEMO_APP, resolveOptions, type ServerOptions, type Settings } from './options.js';
import { StatsBoard, type ServerStats } from './stats.js';

export { DEMO_APP, type ServerOptions, type Settings };

/** A running server. Main thread only. */
export interface Server {
  /** The listening socket and the address it really got (with `accept: 'reuseport'`, the first of them). */
  readonly listener: Listener;
  /** The options, defaults filled in. */
  readonly options: Settings;
  /** Counters of every thread (shared memory; no messages). */
  stats(): ServerStats;
  /**
   * Accept and serve until close() — or SIGTERM/SIGINT, if the process caught them with
   * server-kit's catchShutdownSignals, as the command line does — then drain and end every
   * thread. Resolves true if every connection finished within `drainTimeoutMs`.
   */
  serve(): Promise<boolean>;
  /**
   * Stop: drain as on SIGTERM (in-flight responses get `drainTimeoutMs`), then end every thread
   * and close every fd the server opened. Once it resolves the port is free again and nothing
   * of the server keeps the process alive.
   */
  close(): Promise<void>;
  /**
   * Graceful reload (swoole's reload; the command line runs it on SIGHUP): import the app module
   * afresh on every thread without closing a connection or failing a request — each WorkerPool
   * thread is replaced by a new one, one at a time, and each SubReactor re-imports the module
   * between two turns of its loop. Resolves once every thread runs the new module; rejects, and
   * changes nothing, if the new module fails to load. See the 06 chapter for what is not reloaded.
   */
  reload(): Promise<void>;
}

/**
 * Validate the options, load the app (on this thread too, so that a broken module fails here
 * with its own error), listen, start every thread and wait until each is ready. Throws a
 * RangeError for a bad option and a SysError (`code` = errno name) if listening fails.
 */
export async function createServer(options: ServerOptions = {}): Promise<Server> {
  const settings = resolveOptions(options);
  const board = StatsBoard.create(settings.reactors, settings.workers);
  const app = await loadApp(settings.app);
  await app.onStart?.(new LocalServer('main', 0, board));

  // One listener, or one per SubReactor (reuseport): the MainReactor closes them all on close().
  const listeners = openListeners(settings.accept, settings.host, settings.port, settings.reactors);
  let main: MainReactor;
  try {
    main = await MainReactor.start(listeners.map((l) => l.fd), settings, board);
  } catch (err) {
    for (const l of listeners) sys.close(l.fd);
    throw err;
  }
  return {
    listener: listeners[0]!,
    options: settings,
    stats: () => board.snapshot(),
    serve: () => main.serve(),
    close: () => main.close(),
    reload: () => main.reload(),
  };
}
