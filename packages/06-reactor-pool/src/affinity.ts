/**
 * A cheap check that an object is used only by the thread that owns it. Every object of step 06
 * belongs to exactly one thread (the MainReactor and WorkerPool supervisor to the main thread, a
 * SubReactor and its connections to its own thread); a call from another thread is a bug that
 * JavaScript would not catch (module state is per thread, so it would silently act on a copy).
 *
 * The check is off unless COURSE_CHECK_THREADS=1 (the tests switch it on): then it costs one
 * comparison of two integers per guarded call; off, one test of a constant.
 */
import { threadId } from 'node:worker_threads';

const CHECK = process.env.COURSE_CHECK_THREADS === '1';

/**
 * Remembers the thread that built its owner. Each owner builds its own ThreadAffinity, on its own
 * thread; `check` may be called from anywhere (that is its point).
 */
export class ThreadAffinity {
  constructor(
    private readonly what: string,
    /** The owning thread: the one building it, unless a test says otherwise. */
    private readonly owner: number = threadId,
  ) {}

  /** Throws if the calling thread is not the owner's (only when the check is switched on). */
  check(): void {
    if (CHECK && threadId !== this.owner) throw new Error(`${this.what} belongs to thread ${this.owner}; thread ${threadId} called it`);
  }
}
