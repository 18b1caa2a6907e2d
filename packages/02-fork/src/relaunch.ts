/**
 * Why `node dist/main.js` starts a second `node`: fork() is only safe in a single-threaded V8.
 *
 * fork(2) copies the calling thread and nothing else. A plain `node` runs V8 with helper threads
 * (concurrent GC marking, background compilation); in the child they do not exist, so the first
 * time the child's V8 waits for one of them — at a GC, say — it waits forever. Measured here:
 * 23 of 30 plain-`node` children hung; with `node --single-threaded` (V8 does all of that work on
 * the JS thread) none did, and 2,000 of 2,000 connections were served.
 *
 * V8 reads that flag once, at start-up; it cannot be switched on later. So if we were started
 * without it, we start a copy of ourselves with it and turn into a thin wrapper: stdio is shared
 * (the banner and logs still come from the real server), SIGTERM/SIGINT are passed on, and the
 * wrapper exits with the server's exit code — as close to exec(2) as Node lets us get.
 *
 * Main thread of the wrapper only; the wrapper runs Node's event loop normally.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { log } from '@course/server-kit';

/** Set in the server's environment to the wrapper's pid, so the server can tie its life to ours. */
export const WRAPPER_PID_ENV = 'COURSE_FORK_WRAPPER_PID';

/** True when this process already runs with V8's helper threads switched off. */
export function isSingleThreaded(): boolean {
  return process.execArgv.includes('--single-threaded');
}

// #region relaunch
/**
 * Start `node --single-threaded <our node flags> <this script> <our arguments>` and mirror it.
 * Returns at once; Node's event loop keeps this process alive until the server exits, and then
 * this process exits with the same code (128 + signal number if the server was killed).
 */
export function relaunchSingleThreaded(): void {
  const server = spawn(process.execPath, ['--single-threaded', ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [WRAPPER_PID_ENV]: String(process.pid) },
  });
  // Whoever stops the wrapper means the server. (Ctrl-C in a terminal reaches both processes
  // anyway — the whole foreground group gets SIGINT — and a second SIGINT is harmless.)
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => { server.kill(sig); });
  }
  server.on('error', (err) => {
    log(`02-fork: cannot start node --single-threaded: ${err.message}`);
    process.exit(1);
  });
  server.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
  });
}
// #endregion relaunch
