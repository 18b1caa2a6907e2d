/**
 * Child processes: forking one safely from inside Node, reaping it, stopping them all.
 *
 * Everything here runs on the parent's only JavaScript thread (the server runs under
 * `node --single-threaded`, see relaunch.ts), except the body passed to `ChildSet.fork`, which
 * runs in the child.
 */
import * as sys from '@course/syscalls';
import { log } from '@course/server-kit';

const { C } = sys;

let stopping = false;

/**
 * The parent's signals: SIGTERM and SIGINT stop the server; SIGCHLD says a child has exited
 * (UNP §5.9: catch it, or children stay zombies until somebody calls waitpid). All three are
 * caught without SA_RESTART, so they interrupt the blocking call the parent sits in (accept,
 * poll, waitpid), which returns -EINTR.
 *
 * We cannot use server-kit's `shutdownRequested()` here: it treats every caught signal as "stop",
 * and SIGCHLD is not.
 */
export function catchParentSignals(): void {
  sys.check(sys.catchSignals([C.SIGTERM, C.SIGINT, C.SIGCHLD]), 'sigaction');
}

/**
 * Read the signal slot; true once SIGTERM or SIGINT arrived. SIGCHLD needs no action of its own:
 * its job was to wake us, and the caller reaps after every wake-up anyway.
 * The addon keeps one flag per signal, so a SIGCHLD landing together with a SIGTERM hides
 * nothing: each call takes the lowest pending one (SIGINT 2 < SIGTERM 15 < SIGCHLD 17).
 */
export function stopRequested(): boolean {
  const sig = sys.takeSignal();
  if (sig === C.SIGTERM || sig === C.SIGINT) stopping = true;
  return stopping;
}

/** Sleep up to `ms` on this thread; a signal ends the nap early, which is what callers want. */
export function nap(ms: number): void {
  sys.poll(new Int32Array(0), 0, ms);
}

/** How a reaped child ended, for the log. */
function describe(status: number): string {
  const s = sys.exitStatus(status);
  return s.exited ? `exited with code ${s.code}` : `was killed by signal ${s.signal}`;
}

/**
 * The parent's live children. Owns their pids: a pid joins when forked and leaves when reaped.
 * Parent's main thread only.
 */
export class ChildSet {
  private readonly live = new Set<number>();
  private readonly status = new Int32Array(1);

  get size(): number {
    return this.live.size;
  }

  // #region child-fork
  /**
   * fork(2). In the parent: returns the child's pid (or -errno when fork failed, e.g. EAGAIN when
   * the process limit is hit). In the child: runs `body` and never returns.
   *
   * The precautions, each for a measured failure (docs/appendix-fork-in-node.md tells the story):
   * - The addon's fork() first marks every mapping MADV_DOFORK, in the same native call. Node
   *   marks V8's heap MADV_DONTFORK (so spawning is cheap); without this the child has no heap
   *   and segfaults on its first JavaScript instruction.
   * - The server runs under `node --single-threaded` (relaunch.ts): the child is a copy of one
   *   thread only, and must not depend on V8 helper threads that do not exist in it.
   * - The child makes synchronous calls only. Its event loop is a copy of the parent's and shares
   *   the parent's epoll instance (the fd is inherited): running it would change the parent's
   *   registrations, and a callback, promise or timer would wake code that expects a whole Node.
   * - The child ends with _exit(2), never process.exit(): exit runs Node's teardown, which joins
   *   threads that do not exist in the child and flushes state it shares with the parent
   *   (process.exit crashed every child in our measurements).
   * - The child asks the kernel for SIGTERM when the parent dies (PR_SET_PDEATHSIG), so a child
   *   holding a stalled connection cannot outlive a parent killed with SIGKILL.
   */
  fork(body: () => void): number {
    const parent = sys.getpid();
    const pid = sys.fork();
    if (pid !== 0) {
      if (pid > 0) this.live.add(pid);
      return pid;
    }
    // ---- in the child from here on ----
    sys.setParentDeathSignal(C.SIGTERM);
    // The parent may have died before prctl ran, and then no signal will ever come: check.
    if (sys.getppid() !== parent) sys._exit(0);
    try {
      body();
    } catch (err) {
      log(`child ${sys.getpid()}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      sys._exit(1);
    }
    return sys._exit(0);
  }
  // #endregion child-fork

  // #region reap
  /**
   * Reap every child that has exited, without blocking: waitpid(-1, WNOHANG) in a loop, because
   * several children may have exited for one SIGCHLD (signals do not queue; UNP §5.10).
   * Returns the pids reaped. A child that crashed or failed is logged.
   */
  reap(): number[] {
    const reaped: number[] = [];
    for (;;) {
      const pid = sys.waitpid(-1, C.WNOHANG, this.status);
      if (pid === -C.EINTR) continue;
      if (pid <= 0) return reaped; // 0: the others still run; -ECHILD: no children at all
      this.noteExit(pid);
      reaped.push(pid);
    }
  }
  // #endregion reap

  /** Block until some child exits (or a signal arrives: then -EINTR). Returns its pid or -errno. */
  waitAny(): number {
    const pid = sys.waitpid(-1, 0, this.status);
    if (pid > 0) this.noteExit(pid);
    return pid;
  }

  // #region stop-all
  /**
   * Stop every child: SIGTERM first (each one's blocking read or accept returns EINTR and it
   * leaves), then SIGKILL for any still running after `graceMs` — a child blocked writing to a
   * client that never reads retries EINTR and would otherwise keep us waiting forever. Returns
   * once all are reaped: we leave no zombies and no orphans.
   */
  stopAll(graceMs = 2000): void {
    for (const pid of this.live) sys.kill(pid, C.SIGTERM);
    const deadline = Date.now() + graceMs;
    while (this.live.size > 0 && Date.now() < deadline) {
      this.reap();
      if (this.live.size > 0) nap(10); // SIGCHLD cuts the nap short
    }
    for (const pid of this.live) sys.kill(pid, C.SIGKILL);
    while (this.live.size > 0) {
      const pid = this.waitAny();
      if (pid === -C.ECHILD) break; // nothing left to wait for (should not happen)
    }
  }
  // #endregion stop-all

  private noteExit(pid: number): void {
    this.live.delete(pid);
    const s = sys.exitStatus(this.status[0]!);
    if (!stopping && !(s.exited && s.code === 0)) log(`02-fork: child ${pid} ${describe(this.status[0]!)}`);
  }
}
