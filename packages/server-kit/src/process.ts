/**
 * Start-up and shut-down plumbing shared by every model: the listening socket, the banner,
 * signals and exit. Main thread only, except `log`/`fail`, which any thread may call.
 */
import { writeSync } from 'node:fs';
import * as sys from '@course/syscalls';
import type { Protocol } from '@course/protocol';
import type { CommonOptions } from './cli.js';

/** One line on stderr. Synchronous, so it appears even while the thread then blocks in a syscall. */
export function log(line: string): void {
  writeSync(2, line + '\n');
}

/**
 * A syscall failure during start-up is the user's to fix (port in use, no permission): say which
 * call failed with the errno name and exit 1 — no stack trace.
 */
export function fail(pkg: string, err: unknown): never {
  if (err instanceof sys.SysError) {
    log(`${pkg}: ${err.message}`);
    exitNow(1);
  }
  throw err;
}

/** Options for the listening socket; each model picks what its lesson needs. */
export interface ListenOptions {
  /** O_NONBLOCK on the listening socket (steps 04-06). */
  nonBlocking?: boolean;
  /** SO_REUSEPORT, for models with one listener per thread or process. */
  reusePort?: boolean;
  backlog?: number;
}

/** Listening socket plus the address it really got (port 0 becomes a real port). */
export interface Listener {
  fd: number;
  host: string;
  port: number;
}

/** socket + bind + listen, or one error line and exit 1. */
export function listenOrExit(pkg: string, opts: CommonOptions, how: ListenOptions = {}): Listener {
  try {
    return sys.listenTcp({ host: opts.host, port: opts.port, backlog: how.backlog ?? 511, reusePort: how.reusePort ?? false, nonBlocking: how.nonBlocking ?? false });
  } catch (err) {
    return fail(pkg, err);
  }
}

/**
 * The line benchmarks, tests and readers wait for: `listening on http://HOST:PORT`, then the
 * model's name and settings. Print it only once the socket accepts connections.
 */
export function announce(listener: Listener, protocol: Protocol, model: string, settings: Record<string, string | number | boolean> = {}): void {
  const extras = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ');
  writeSync(1, `listening on ${protocol.scheme}://${sys.formatHostPort(listener.host, listener.port)} ${model} protocol=${protocol.name}${protocol.codec ? ` codec=${protocol.codec}` : ''}${extras ? ' ' + extras : ''} pid=${process.pid}\n`);
}

let shutdown = false;

/**
 * Make SIGTERM and SIGINT interrupt this thread's blocking syscalls (they return -EINTR) instead
 * of killing the process. The models' JS threads sit in accept/read/epoll_wait, where Node's own
 * `process.on('SIGTERM')` could never run. Call once, on the thread whose loop decides to stop.
 */
export function catchShutdownSignals(): void {
  sys.check(sys.catchSignals([sys.C.SIGTERM, sys.C.SIGINT]), 'sigaction');
}

/** Whether SIGTERM/SIGINT has arrived. Cheap: check it after every -EINTR. */
export function shutdownRequested(): boolean {
  if (!shutdown && sys.takeSignal() !== 0) shutdown = true;
  return shutdown;
}

/**
 * Leave now with `code`, without running Node's exit sequence: that sequence joins worker
 * threads, and a worker blocked in a syscall can never be joined. Output already written with
 * writeSync is safe; nothing else is pending in these models.
 */
export function exitNow(code: number): never {
  sys._exit(code);
  throw new Error('unreachable');
}
