/**
 * A connection's fault stays with that connection: the guard every model puts around its calls
 * into a protocol session (steps 01-03 through `serveConnection`, 04's loop, 05's Reactor and so
 * 06's SubReactors).
 *
 * A session that throws — a protocol bug, an application hook, a broken invariant — would
 * otherwise unwind through the model's loop: one bad request would end the accept loop (01), the
 * busy loop (04) or the reactor (05, 06) and with it every other connection. The guard catches
 * it at the seam and turns it into the end of *that* connection:
 *
 *   session call throws → log one line (fd, peer, what threw)
 *                       → the protocol's fault answer (HTTP: 500, Connection: close), but only
 *                         if no answer to the current request has begun
 *                       → the session is retired: the connection gets a stand-in that takes no
 *                         more input, and the model closes it once what was queued is sent
 *
 * "An answer has begun" is read from the sink: every sink counts the bytes ever queued
 * (`totalQueued`), and the guard compares the count before and after the call that threw. The
 * HTTP session queues each answer whole within the call that completes its request (headers and
 * file together), so a call that queued nothing has begun no answer, and a 500 is exactly right.
 * A call that queued something may have stopped half-way through an answer: appending a 500
 * there would corrupt the stream, so the connection is closed after the bytes already queued
 * (the client sees a short response or none, never a wrong one).
 *
 * Threads: the guard holds no state; it runs on the thread that serves the connection, like the
 * session and sink it guards.
 */
import type { PeerInfo, Protocol, Session, Sink } from '@course/protocol';
import { log } from './process.js';

/** A sink the guard can look into: the two sinks of server-kit (blocking and non-blocking). */
export interface CountingSink extends Sink {
  /** Bytes ever queued, never decreasing: compared before and after a call to see whether it answered. */
  readonly totalQueued: number;
}

/**
 * What the guard needs of a model's connection: its socket (for the log line), peer, sink, and
 * the session slot, which the guard overwrites with `RETIRED` when the session fails.
 */
export interface GuardedConnection {
  readonly fd: number;
  readonly peer: PeerInfo | undefined;
  readonly sink: CountingSink;
  session: Session;
}

/**
 * Stands in for a session that threw: takes no input (`paused`), owes nothing, holds nothing.
 * The sink was ended by the guard, so the model closes the connection once its queue is empty.
 * Stateless, so one instance serves every failed connection of every thread.
 */
export const RETIRED: Session = {
  midRequest: false,
  awaiting: false,
  paused: true,
  receive(): void {},
  peerClosed(): void {},
  drained(): void {},
  close(): void {},
};

/** `session.receive(data)`, guarded. */
export function guardedReceive(conn: GuardedConnection, protocol: Protocol, data: Uint8Array): void {
  guarded(conn, protocol, 'receive', data);
}

/** `session.peerClosed()`, guarded. */
export function guardedPeerClosed(conn: GuardedConnection, protocol: Protocol): void {
  guarded(conn, protocol, 'peerClosed', undefined);
}

/** `session.drained()`, guarded. */
export function guardedDrained(conn: GuardedConnection, protocol: Protocol): void {
  guarded(conn, protocol, 'drained', undefined);
}

/** One session call; a throw retires the session. No closure: this runs on every read. */
function guarded(conn: GuardedConnection, protocol: Protocol, call: 'receive' | 'peerClosed' | 'drained', data: Uint8Array | undefined): void {
  const before = conn.sink.totalQueued;
  try {
    if (call === 'receive') conn.session.receive(data!);
    else if (call === 'peerClosed') conn.session.peerClosed();
    else conn.session.drained();
  } catch (err) {
    retire(conn, protocol, before, call, err);
  }
}

/**
 * `session.close()`, guarded: the connection is going anyway, so a throw is only logged. The slot
 * is left holding `RETIRED`, so that close runs once whatever happens.
 */
export function guardedClose(conn: GuardedConnection): void {
  const session = conn.session;
  conn.session = RETIRED;
  try {
    session.close();
  } catch (err) {
    logFault(conn, 'close', err, 'closed');
  }
}

/**
 * `protocol.open(sink, peer)`, guarded. Returns the session, or undefined if open threw: the
 * caller then closes the socket at once (there is no session to answer with).
 */
export function guardedOpen(conn: Omit<GuardedConnection, 'session'>, protocol: Protocol): Session | undefined {
  try {
    return protocol.open(conn.sink, conn.peer);
  } catch (err) {
    logFault(conn, 'open', err, 'closed');
    return undefined;
  }
}

/** The session threw in `call`: answer if nothing of an answer was queued yet, end the sink, retire it. */
function retire(conn: GuardedConnection, protocol: Protocol, queuedBefore: number, call: string, err: unknown): void {
  const failed = conn.session;
  conn.session = RETIRED;
  let outcome = 'closed';
  if (conn.sink.totalQueued === queuedBefore) {
    const answer = protocol.faultResponse?.();
    if (answer !== undefined) {
      conn.sink.write(answer);
      outcome = 'answered with the protocol\'s fault response, closing';
    }
  } else {
    outcome = 'an answer had begun: closing after what was queued';
  }
  conn.sink.end();
  logFault(conn, call, err, outcome);
  try {
    failed.close(); // let it release what it holds (files of answers not handed to the sink)
  } catch {
    // Already failing; its first error is the one logged.
  }
}

/** One line: which connection, which call, what was thrown (and where), what the model did. */
function logFault(conn: Omit<GuardedConnection, 'session'>, call: string, err: unknown, outcome: string): void {
  const peer = conn.peer === undefined ? 'unknown peer' : `${conn.peer.address.includes(':') ? `[${conn.peer.address}]` : conn.peer.address}:${conn.peer.port}`;
  let what: string;
  if (err instanceof Error) {
    const frame = err.stack?.split('\n').find((l) => l.trimStart().startsWith('at '))?.trim();
    what = `${err.name}: ${err.message}${frame === undefined ? '' : ` (${frame})`}`;
  } else {
    what = `non-error thrown: ${String(err)}`;
  }
  log(`connection fd ${conn.fd} (${peer}): session.${call} threw ${what.replace(/\s*\n\s*/g, ' ')}; ${outcome}`);
}
