/**
 * The demo app — what `pnpm --filter 06-reactor-pool start` runs. Every thread imports this
 * module; each calls only its own hooks (see app.ts).
 *
 *   GET /*            the demo site (static files: the HTTP protocol answers, not this app)
 *   GET /api/fib?n=N  fib(N), computed by naive recursion in the WorkerPool: CPU-heavy on purpose.
 *                     The reactor stays free meanwhile; n must be an integer from 0 to 40.
 *   GET /api/stats    server.stats() as JSON: per-reactor connections and requests, bytes, tasks.
 *   WS  /ws/chat      the chat room of /chat.html: a message is published to the topic `chat`,
 *                     so it reaches the users of every SubReactor (who is online: each reactor
 *                     publishes its own users every tick).
 *   WS  /ws/stats     server.stats() pushed every tick, for /dashboard.html.
 *   WS  /ws/echo      the protocol's echo endpoint, as on every model.
 *   TCP (--protocol auto, the default: whatever does not start like an HTTP request)
 *                     the same chat room in lines (`nc 127.0.0.1 8080`): `/nick NAME` joins, each
 *                     line is said, the room's messages come back as `name: text` lines.
 *
 * Test only, when the environment has COURSE_ALLOW_CRASH=1 (never by default):
 *   GET /api/crash?thread=worker    the WorkerPool thread running the task exits → 500, replaced
 *   GET /api/crash?thread=reactor   the SubReactor serving the request exits → the server exits 1
 */
import { Buffer } from 'node:buffer';
import type { HttpRequest, HttpResponder } from '@course/protocol';
import { TASK_TIMED_OUT, type Conn, type ThreadServer } from './app.js';

/**
 * Naive fib grows by ~1.6x per step of n, so the cap bounds how long one task may hold a worker:
 * a client cannot ask for hours of CPU. (While a task runs the connection is `awaiting`: no
 * timeout cuts it off.)
 */
export const MAX_N = 40;

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };
const JSON_TYPE = { 'Content-Type': 'application/json' };
const allowCrash = process.env.COURSE_ALLOW_CRASH === '1';
/** Overload is answered, not queued: 503 and when to come back (RFC 9110 §10.2.3). */
const BUSY = { ...TEXT, 'Retry-After': '1' };

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
      // null: the WorkerPool's queue is full — refuse now rather than make the client wait.
      if (conn.server.task({ fib: n } satisfies Job, conn, res) === null) res.send(503, BUSY, '503 Service Unavailable: the worker pool is full\n');
      return true;
    }
    case '/api/stats':
      res.send(200, JSON_TYPE, JSON.stringify(conn.server.stats()) + '\n');
      return true;
    case '/api/crash':
      if (!allowCrash) return false; // 404, as for any unknown path
      if (new URLSearchParams(req.query).get('thread') === 'reactor') process.exit(1); // ends this thread only
      if (conn.server.task({ crash: true } satisfies Job, conn, res) === null) res.send(503, BUSY, '503 Service Unavailable: the worker pool is full\n');
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
  if (error === TASK_TIMED_OUT) (res as HttpResponder).send(503, BUSY, '503 Service Unavailable: the task timed out\n');
  else (res as HttpResponder).send(500, TEXT, `500 Internal Server Error: ${error}\n`);
}

/** `n` from a query string: digits only (no sign, no fraction, no exponent), at most MAX_N. */
function parseN(query: string): number | null {
  const raw = new URLSearchParams(query).get('n');
  if (raw === null || !/^\d{1,3}$/.test(raw)) return null;
  const n = Number(raw);
  return n <= MAX_N ? n : null;
}

// --- SubReactor threads: the WebSocket endpoints -------------------------------------------------

// #region demo-chat
export const webSocketPaths = ['/ws/chat', '/ws/stats'];

/** The room's messages as JSON, for /chat.html: {type: 'say' | 'roster', ...}. */
const CHAT = 'chat';
/** The same room rendered as text lines, for TCP users (`alice: hi`, `* bob joined`). */
const CHAT_LINES = 'chat.lines';
const MAX_NICK = 24;
const MAX_TEXT = 500;

/** The TCP side's framing: one line per message, `\n` or `\r\n` (nc, telnet); a longer line closes the connection. */
export const codec = 'line:max=4096';

/** Per connection (conn.context). `line`: a TCP chat user. */
type Peer = { kind: 'stats' } | { kind: 'chat' | 'line'; nick: string | null };

// Module state is per thread: these are THIS reactor's users and dashboards.
const dashboards = new Set<Conn>();
const chatters = new Map<Conn, string>();

export function onOpen(conn: Conn, req: HttpRequest): void {
  if (req.path === '/ws/stats') {
    conn.context = { kind: 'stats' } satisfies Peer;
    dashboards.add(conn);
    sendStats(conn.server, [conn]); // the first numbers at once, not a tick later
  } else {
    conn.context = { kind: 'chat', nick: null } satisfies Peer;
  }
}

export function onMessage(conn: Conn, data: Buffer, isBinary: boolean): void {
  const peer = conn.context as Peer;
  if (peer.kind === 'stats') return; // the dashboard only listens
  const m = isBinary ? null : parseJson(data.toString('utf8'));
  if (m === null || typeof m.type !== 'string') return refuse(conn, 'expected a JSON object with a "type"');
  if (m.type === 'join') join(conn, peer, typeof m.nick === 'string' ? m.nick : '');
  else if (m.type === 'say') say(conn, peer, typeof m.text === 'string' ? m.text : '');
  else refuse(conn, `unknown type ${JSON.stringify(m.type).slice(0, 40)}`);
}

// #region demo-tcp-chat
/**
 * A line from a TCP user (`--protocol auto`: the connection did not start like HTTP). The same
 * room as /ws/chat: `/nick NAME` joins, `/quit` leaves, any other line is said.
 */
export function onReceive(conn: Conn, frame: Uint8Array): void {
  const peer = (conn.context ??= { kind: 'line', nick: null } satisfies Peer) as Peer;
  if (peer.kind !== 'line') return;
  const line = Buffer.from(frame).toString('utf8').trim();
  if (line === '') return;
  if (line === '/quit') return conn.close();
  if (line.startsWith('/nick ')) return join(conn, peer, line.slice(6));
  if (line.startsWith('/')) return refuse(conn, 'commands: /nick NAME, /quit');
  if (peer.nick === null) return refuse(conn, 'say /nick NAME first');
  say(conn, peer, line);
}
// #endregion demo-tcp-chat

/** Join the room: a page's `join` or a TCP user's `/nick`. */
function join(conn: Conn, peer: { kind: 'chat' | 'line'; nick: string | null }, raw: string): void {
  const nick = printable(raw).trim();
  if (peer.nick !== null) return refuse(conn, 'already joined');
  if (nick.length === 0 || nick.length > MAX_NICK) return refuse(conn, `a nickname is 1 to ${MAX_NICK} characters`);
  peer.nick = nick;
  chatters.set(conn, nick);
  if (peer.kind === 'chat') {
    conn.subscribe(CHAT);
    conn.send(JSON.stringify({ type: 'welcome', nick, reactor: conn.reactor, id: conn.id }));
  } else {
    conn.subscribe(CHAT_LINES);
    conn.send(`* welcome, ${nick} (reactor ${conn.reactor}); type a line to say it, /quit to leave`);
  }
  publishRoster(conn.server); // everyone sees the newcomer now
  conn.server.publish(CHAT_LINES, `* ${nick} joined`);
}

/** Say `raw` to the room, in both renderings: JSON for the pages, a line for TCP users. */
function say(conn: Conn, peer: { kind: 'chat' | 'line'; nick: string | null }, raw: string): void {
  if (peer.nick === null) return refuse(conn, 'join first');
  const text = raw.trim();
  if (text.length === 0 || text.length > MAX_TEXT) return refuse(conn, `a message is 1 to ${MAX_TEXT} characters`);
  conn.server.publish(CHAT, JSON.stringify({ type: 'say', nick: peer.nick, reactor: conn.reactor, text, at: Date.now() }));
  conn.server.publish(CHAT_LINES, `${peer.nick}: ${printable(text)}`);
}

export function onClose(conn: Conn): void {
  dashboards.delete(conn);
  const nick = chatters.get(conn);
  if (nick === undefined) return;
  chatters.delete(conn);
  publishRoster(conn.server);
  conn.server.publish(CHAT_LINES, `* ${nick} left`);
}

/** Every tick: the dashboards get fresh numbers; the other reactors hear who is online here. */
export function onTick(server: ThreadServer): void {
  if (dashboards.size > 0) sendStats(server, dashboards);
  // Also when unchanged, while anyone is here: a page that joined since learns of our users
  // (pages forget a reactor that fell silent; the last user leaving publishes an empty roster).
  if (chatters.size > 0) publishRoster(server);
}

function sendStats(server: ThreadServer, to: Iterable<Conn>): void {
  const text = JSON.stringify({ type: 'stats', at: Date.now(), stats: server.stats() });
  for (const c of to) c.send(text);
}

function publishRoster(server: ThreadServer): void {
  server.publish(CHAT, JSON.stringify({ type: 'roster', reactor: server.index, users: [...chatters.values()] }));
}
// #endregion demo-chat

/** A bad chat message gets a clear answer (JSON for a page, a line over TCP); the connection stays. */
function refuse(conn: Conn, message: string): void {
  conn.send(conn.isWebSocket ? JSON.stringify({ type: 'error', message }) : `* ${message}`);
}

/** Control characters (a page's newline, a terminal escape) become spaces: one harmless line for nc. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, ' ');
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
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
