/**
 * An app module for 06-reactor-pool (loaded with its `--app` flag) that computes /api/fib on the
 * SubReactor thread itself, instead of handing it to the WorkerPool as the demo app does. Same
 * server, same answer, one change: the CPU work runs on the reactor — what a single-reactor server
 * does. It is the control of the cpu-task scenario: while a fib runs here, every other connection
 * of this reactor waits.
 *
 * 06 imports this module on every thread; only SubReactor threads call `onRequest`. The types are
 * written out structurally so that the bench does not depend on 06's package.
 */

/** The part of @course/protocol's HttpRequest this app reads. */
interface Request {
  readonly method: string;
  readonly path: string;
  readonly query: string;
}

/** The part of @course/protocol's HttpResponder this app uses. */
interface Responder {
  send(status: number, headers: Record<string, string>, body: string | Uint8Array): void;
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
/** Same cap as 06's demo app. */
const MAX_N = 40;

/** Runs on a SubReactor thread: answers /api/fib now, blocking this reactor; anything else → static files. */
export function onRequest(req: Request, res: Responder): boolean {
  if (req.path !== '/api/fib') return false;
  const raw = new URLSearchParams(req.query).get('n');
  const n = raw !== null && /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(n <= MAX_N)) {
    res.send(400, TEXT, `n must be an integer from 0 to ${MAX_N}\n`);
    return true;
  }
  res.send(200, TEXT, `${fib(n)}\n`);
  return true;
}

function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
