/**
 * An app module for 06-reactor-pool (`--app`), for the accept-modes measurement
 * (accept-modes.ts). Everything is answered on the SubReactor that owns the connection:
 *
 *   /reactor         which SubReactor serves this connection (its index)
 *   /spin?ms=N       burn N ms of CPU right here, inline: this reactor serves nobody meanwhile
 *                    (the "busy reactor" of the measurement); answers the reactor's index
 *   /stats           the server's counters (06's stats(): per reactor, accept wake-ups...)
 *   anything else    static files
 *
 * 06 imports it on every thread; only SubReactor threads call onRequest. Types are written out
 * structurally so that the bench does not depend on 06's package.
 */

interface Request {
  readonly path: string;
  readonly query: string;
}

interface Responder {
  send(status: number, headers: Record<string, string>, body: string | Uint8Array): void;
}

interface Conn {
  readonly reactor: number;
  readonly server: { stats(): unknown };
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
const MAX_SPIN_MS = 10_000;

export function onRequest(req: Request, res: Responder, conn: Conn): boolean {
  switch (req.path) {
    case '/reactor':
      res.send(200, TEXT, `${conn.reactor}\n`);
      return true;
    case '/spin': {
      const ms = Math.min(MAX_SPIN_MS, Number(new URLSearchParams(req.query).get('ms') ?? 0) || 0);
      const until = Date.now() + ms;
      while (Date.now() < until) { /* the CPU-heavy inline handler: this reactor is busy */ }
      res.send(200, TEXT, `${conn.reactor}\n`);
      return true;
    }
    case '/stats':
      res.send(200, { 'Content-Type': 'application/json' }, JSON.stringify(conn.server.stats()));
      return true;
    default:
      return false;
  }
}
