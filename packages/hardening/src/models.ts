/**
 * Every way to run a model, in one table: each hardening suite runs once per row
 * (`describe.each(MODEL_CONFIGS)`). A row says how to start the server and which behaviours its
 * design promises, so that a suite can tell "this model cannot, by design" (01 serves one
 * connection at a time) from "this model is broken".
 *
 * Immutable data; any thread. (Loading it asks the kernel once whether io_uring works here.)
 */
import { uringSupport } from '07-io-uring';

/** What a model does when its process runs out of file descriptors. */
export type FdExhaustion =
  /**
   * Closes the connections it cannot serve at once: the client sees a clean close. 05 and 06
   * accept them with a spare fd (muduo's trick).
   */
  | 'sheds'
  /** Stops accepting; new clients wait in the kernel's accept queue until an fd frees up. */
  | 'queues'
  /**
   * Stops accepting at a cap on threads derived from the fd limit (03 per-connection), so most
   * clients wait in the accept queue; a thread that still cannot load its modules for lack of
   * fds closes its one connection cleanly.
   */
  | 'caps'
  /** Connections cannot exhaust the process's fds: it holds a fixed few at a time (01, prefork,
   * pool) or one per process (02 per-connection). */
  | 'not-applicable';

export interface ModelConfig {
  /** Unique label, used in test names: `05-epoll-native --mode et`. */
  name: string;
  /** Package directory under packages/. */
  pkg: string;
  /** Flags after `--port 0 --root <site>`. */
  args: readonly string[];
  /** Serves other clients while one connection is held open (every model but 01). */
  concurrent: boolean;
  /** Has `--header-timeout-ms` (slowloris) and `--idle-timeout-ms` (keep-alive, and stalled readers). */
  timeouts: boolean;
  fdExhaustion: FdExhaustion;
  /** Busy-polls: burns a core even when idle, so its CPU time says nothing about spinning. */
  busyPolls: boolean;
  /** fd limit for the out-of-fds suite; default 64. */
  fdLimit?: number;
}

function config(pkg: string, args: string[], traits: Omit<ModelConfig, 'name' | 'pkg' | 'args'>): ModelConfig {
  return Object.freeze({ name: [pkg, ...args].join(' '), pkg, args: Object.freeze(args), ...traits });
}

const BLOCKING = { timeouts: false, fdExhaustion: 'not-applicable', busyPolls: false } as const;

/**
 * 01-07, every variant. Pools are pinned to 2 processes/threads/reactors (the default is one per
 * core) so that the suites behave the same on any machine.
 */
export const MODEL_CONFIGS: readonly ModelConfig[] = Object.freeze([
  config('01-blocking', [], { ...BLOCKING, concurrent: false }),
  config('02-fork', ['--mode', 'per-connection'], { ...BLOCKING, concurrent: true }),
  config('02-fork', ['--mode', 'prefork', '--workers', '2'], { ...BLOCKING, concurrent: true }),
  // Threads share the process's fd table: each connection costs its socket and its Worker's own
  // fds. So 03 caps its threads by the fd limit (--max-threads): the rest wait in the accept queue.
  config('03-threads', ['--mode', 'per-connection'], { ...BLOCKING, concurrent: true, fdExhaustion: 'caps' }),
  config('03-threads', ['--mode', 'pool', '--threads', '2'], { ...BLOCKING, concurrent: true }),
  config('04-nonblocking', ['--poller', 'busy'], { concurrent: true, timeouts: false, fdExhaustion: 'queues', busyPolls: true }),
  config('04-nonblocking', ['--poller', 'poll'], { concurrent: true, timeouts: false, fdExhaustion: 'queues', busyPolls: false }),
  config('05-epoll-native', ['--mode', 'lt'], { concurrent: true, timeouts: true, fdExhaustion: 'sheds', busyPolls: false }),
  config('05-epoll-native', ['--mode', 'et'], { concurrent: true, timeouts: true, fdExhaustion: 'sheds', busyPolls: false }),
  // 06 starts four threads that each import the app's module graph at once: the files they hold
  // open meanwhile pass 64 before the server listens, and at 128 a start-up still ran out now and
  // then (about 1 in 10), so it runs under 256.
  config('06-reactor-pool', ['--reactors', '2', '--workers', '2'], { concurrent: true, timeouts: true, fdExhaustion: 'sheds', busyPolls: false, fdLimit: 256 }),
  // 07 needs io_uring. Where the kernel refuses it (a container's seccomp profile,
  // kernel.io_uring_disabled), 07's own tests check that it says so and exits 1 instead.
  ...(uringSupport() === 0 ? [config('07-io-uring', [], { concurrent: true, timeouts: true, fdExhaustion: 'sheds', busyPolls: false })] : []),
]);

/** The rows that have header and idle timeouts (05, 06, 07). */
export const WITH_TIMEOUTS: readonly ModelConfig[] = MODEL_CONFIGS.filter((c) => c.timeouts);

/** The rows whose process can run out of fds because of connections. */
export const FD_BOUND: readonly ModelConfig[] = MODEL_CONFIGS.filter((c) => c.fdExhaustion !== 'not-applicable');
