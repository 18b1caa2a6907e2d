/**
 * What /proc says about a server process: threads, children, memory, CPU time, open fds.
 * Tests use it to prove "a process per connection" or "no leak"; the bench uses it for CPU
 * seconds and peak RSS. Linux only, like the course.
 */
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) is 100 on every Linux this course targets

function readStat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may contain spaces: split after the last ')'
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (from /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (s) out.push(...s.split(/\s+/).map(Number));
    }
    return out;
  } catch {
    return [];
  }
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...childrenOf(all[i]!));
  return all;
}

/** Number of threads of one process. */
export function threadCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

/** Children of `pid` that are zombies (exited, not reaped). */
export function zombieChildren(pid: number): number[] {
  return childrenOf(pid).filter((c) => readStat(c)?.[0] === 'Z');
}

/** Resident memory of one process in KiB (VmRSS). */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** User+system CPU seconds of one process (all its threads), plus its reaped children's. */
export function cpuSeconds(pid: number): number {
  const f = readStat(pid);
  if (!f) return 0;
  // fields after the name: state=0 ... utime=11 stime=12 cutime=13 cstime=14
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** CPU seconds and RSS of a whole process tree (live descendants included). */
export function treeUsage(pid: number): { cpuSeconds: number; rssKb: number; processes: number; threads: number } {
  const pids = processTree(pid);
  let cpu = 0;
  let rss = 0;
  let threads = 0;
  for (const p of pids) {
    cpu += cpuSeconds(p);
    rss += rssKb(p);
    threads += threadCount(p);
  }
  return { cpuSeconds: cpu, rssKb: rss, processes: pids.length, threads };
}

/**
 * User and system (kernel) CPU seconds of a process tree, apart: /proc/PID/stat's utime and stime
 * (all threads, ended ones too), in 10 ms ticks — for shares over a second or more, not for one
 * short burst (see treeCpuNs). System time includes the softirq work the kernel ran on the
 * process's behalf: on loopback, a send also runs the receiver's TCP input.
 */
export function treeCpuSplit(pid: number): { userS: number; systemS: number } {
  let user = 0;
  let system = 0;
  for (const p of processTree(pid)) {
    const f = readStat(p);
    if (!f) continue;
    user += Number(f[11]);
    system += Number(f[12]);
  }
  return { userS: user / CLK_TCK, systemS: system / CLK_TCK };
}

/**
 * CPU time of a process tree's live threads, in nanoseconds: the first field of each thread's
 * /proc/PID/task/TID/schedstat (proc(5)), summed. /proc/PID/stat counts in clock ticks (10 ms
 * here), too coarse for a burst of work that takes tens of milliseconds, such as one broadcast.
 * Only threads alive at the read are counted: compare two reads across which none ended.
 */
export function treeCpuNs(pid: number): number {
  let ns = 0;
  for (const p of processTree(pid)) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // the process ended
    }
    for (const t of tids) {
      try {
        const text = readFileSync(`/proc/${p}/task/${t}/schedstat`, 'latin1');
        ns += Number(text.slice(0, text.indexOf(' ')));
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }
  return ns;
}

/** Open file descriptors of one process. */
export function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Scheduler state of a process's main thread: R running or runnable, S sleeping, Z zombie, ... (undefined once gone). */
export function threadState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    return s.charAt(s.lastIndexOf(')') + 2);
  } catch {
    return undefined;
  }
}

/** A process that still runs: it exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const state = readStat(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/**
 * Watch a server for one second in which nobody talks to it: the CPU seconds it used, and the
 * share of 20 samples in which its main thread was running or runnable (state R) rather than
 * asleep. The state is the robust signal on a loaded machine: a busy loop is always R, even while
 * it waits for a core; the CPU figure also depends on how many cores it was given.
 */
export async function idleSecond(pid: number): Promise<{ cpu: number; running: number }> {
  await new Promise((r) => setTimeout(r, 200)); // let earlier connections finish
  const before = cpuSeconds(pid);
  let running = 0;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (threadState(pid) === 'R') running++;
  }
  return { cpu: cpuSeconds(pid) - before, running: running / 20 };
}

/** Proportional set size of a process tree in KiB: each shared page split between the processes sharing it. */
export function treePssKb(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) total += Number(m[1]);
    } catch { /* the process just exited */ }
  }
  return total;
}

/** Voluntary context switches (times a task went to sleep) summed over every thread of `pids`. */
export function voluntarySwitches(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    let tids: string[];
    try { tids = readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tids) {
      try {
        const m = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
        if (m) total += Number(m[1]);
      } catch { /* thread ended */ }
    }
  }
  return total;
}

/**
 * `syscr` and `syscw` of /proc/PID/io: the read-like (read, readv, recv...) and write-like
 * (write, writev, send...) system calls a process has made, all its threads together. The kernel
 * counts them for free, so unlike strace they do not slow the server. null if absent. Pure.
 */
export function parseProcIo(text: string): { reads: number; writes: number } | null {
  const r = /^syscr:\s*(\d+)$/m.exec(text);
  const w = /^syscw:\s*(\d+)$/m.exec(text);
  return r && w ? { reads: Number(r[1]), writes: Number(w[1]) } : null;
}

/** Read-like and write-like system calls of a process tree so far; null if a process's io file is unreadable. */
export function treeSyscalls(pid: number): { reads: number; writes: number } | null {
  let reads = 0;
  let writes = 0;
  for (const p of processTree(pid)) {
    let io: { reads: number; writes: number } | null = null;
    try { io = parseProcIo(readFileSync(`/proc/${p}/io`, 'utf8')); } catch { /* not ours to read, or gone */ }
    if (!io) return null;
    reads += io.reads;
    writes += io.writes;
  }
  return { reads, writes };
}

/** MemAvailable from /proc/meminfo in KiB (Infinity if unreadable). */
export function memAvailableKb(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

/** The soft "Max open files" limit from /proc/self/limits text (Infinity for unlimited, null if absent). Pure. */
export function parseOpenFilesLimit(limits: string): number | null {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limits);
  if (!m) return null;
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** How many local ports /proc/sys/net/ipv4/ip_local_port_range offers ("32768\t60999"). Pure. */
export function parsePortRange(text: string): number | null {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) return null;
  return Math.max(0, Number(m[2]) - Number(m[1]) + 1);
}

/** This process's soft open-files limit and the local ports it may use; null for what /proc does not say. */
export function connectionLimits(): { openFiles: number | null; ports: number | null } {
  const read = (path: string) => { try { return readFileSync(path, 'utf8'); } catch { return ''; } };
  return {
    openFiles: parseOpenFilesLimit(read('/proc/self/limits')),
    ports: parsePortRange(read('/proc/sys/net/ipv4/ip_local_port_range')),
  };
}
