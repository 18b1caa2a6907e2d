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

export class ThreadAffinity {
  /** The thread that built the owner object. */
  private readonly owner = threadId;

  constructor(private readonly what: string) {}

  /** Throws if the calling thread is not the owner's (only when the check is switched on). */
  check(): void {
    if (CHECK && threadId !== this.owner) throw new Error(`${this.what} belongs to thread ${this.owner}; thread ${threadId} called it`);
  }
}
