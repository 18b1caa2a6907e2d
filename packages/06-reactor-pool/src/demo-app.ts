/**
 * The demo app — what `pnpm --filter 06-reactor-pool start` runs. Every thread imports this
 * module; each calls only its own hooks (see app.ts).
 *
 *   GET /*            the demo site (static files: the HTTP protocol answers, not this app)
 *   GET /api/fib?n=N  fib(N), computed by naive recursion in the WorkerPool: CPU-heavy on purpose.
 *                     The reactor stays free meanwhile; n must be an integer from 0 to 40.
 *   GET /api/stats    server.stats() as JSON: per-reactor connections and requests, bytes, tasks.
 *
 * Test only, when the environment has COURSE_ALLOW_CRASH=1 (never by default):
 *   GET /api/crash?thread=worker    the WorkerPool thread running the task exits → 500, replaced
 *   GET /api/crash?thread=reactor   the SubReactor serving the request exits → the server exits 1
 */
import type { HttpRequest, HttpResponder } from '@course/protocol';
import type { Conn } from './app.js';

/**
 * Naive fib grows by ~1.6x per step of n, so the cap bounds how long one task may hold a worker:
 * a client cannot ask for hours of CPU. (While a task runs the connection is `awaiting`: no
 * timeout cuts it off.)
 */
export const MAX_N = 40;

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
const JSON_TYPE = { 'Content-Type': 'application/json' };
const allowCrash = process.env.COURSE_ALLOW_CRASH === '1';

/** What a SubReactor sends to the WorkerPool. Plain data: it is copied between threads. */
type Job = { fib: number } | { crash: true };

// --- SubReactor threads ------------------------------------------------------------------------

// #region demo-on-request
export function onRequest(req: HttpRequest, res: HttpResponder, conn: Conn): boolean {
  if (!req.path.startsWith('/api/')) return false; // static files
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.send(405, { ...TEXT, Allow: 'GET, HEAD' }, '405 Method Not Allowed\n');
    return true;
  }
  switch (req.path) {
    case '/api/fib': {
      const n = parseN(req.query);
      if (n === null) {
        res.send(400, TEXT, `n must be an integer from 0 to ${MAX_N}\n`);
        return true;
      }
      // The answer comes later, in onFinish, on this thread; `res` travels as the task's tag.
      conn.server.task({ fib: n } satisfies Job, conn, res);
      return true;
    }
    case '/api/stats':
      res.send(200, JSON_TYPE, JSON.stringify(conn.server.stats()) + '\n');
      return true;
    case '/api/crash':
      if (!allowCrash) return false; // 404, as for any unknown path
      if (new URLSearchParams(req.query).get('thread') === 'reactor') process.exit(1); // ends this thread only
      conn.server.task({ crash: true } satisfies Job, conn, res);
      return true;
    default:
      return false;
  }
}
// #endregion demo-on-request

// #region demo-on-finish
export function onFinish(_conn: Conn, result: unknown, res: unknown): void {
  (res as HttpResponder).send(200, TEXT, `${String(result)}\n`);
}
// #endregion demo-on-finish

export function onTaskError(_conn: Conn, error: string, res: unknown): void {
  (res as HttpResponder).send(500, TEXT, `500 Internal Server Error: ${error}\n`);
}

/** `n` from a query string: digits only (no sign, no fraction, no exponent), at most MAX_N. */
function parseN(query: string): number | null {
  const raw = new URLSearchParams(query).get('n');
  if (raw === null || !/^\d{1,3}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= MAX_N ? n : null;
}

// --- WorkerPool threads ------------------------------------------------------------------------

// #region demo-on-task
export function onTask(payload: unknown): number {
  const job = payload as Job;
  if ('crash' in job) {
    if (!allowCrash) throw new Error('crash jobs are disabled');
    process.exit(1); // in a worker thread this ends the thread, not the process
  }
  return fib(job.fib);
}
// #endregion demo-on-task

/** The slowest way to compute Fibonacci numbers: exactly what a reactor must never run. */
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
