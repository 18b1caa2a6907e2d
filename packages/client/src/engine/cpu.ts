/**
 * CPU time of the calling thread, so that a load generator can say what it cost itself — the
 * number that tells whether a run measured the server or the client.
 *
 * process.cpuUsage() counts every thread of the process (the engine may run in a worker next to
 * a busy main thread), so this reads the kernel's per-thread counter instead:
 * /proc/thread-self/schedstat, whose first field is the time on CPU in nanoseconds (proc(5)).
 * Where it is missing (a kernel without schedstats) it falls back to the whole process.
 */
import { readFileSync } from 'node:fs';

/** CPU time of this thread in ms since it started (any thread may call it, for itself). */
export function threadCpuMs(): number {
  try {
    const text = readFileSync('/proc/thread-self/schedstat', 'latin1');
    const ns = Number(text.slice(0, text.indexOf(' ')));
    if (Number.isFinite(ns)) return ns / 1e6;
  } catch {
    // fall through: no per-thread counter here
  }
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}
