/**
 * Step 04 — non-blocking sockets and a busy loop (Bendersky, "Concurrent servers" part 3).
 *
 *   listen (O_NONBLOCK) → loop {
 *     try accept4                                 EAGAIN: nobody new, move on
 *     for each connection: try read               EAGAIN: nothing yet, move on
 *                          try to write its queue short write or EAGAIN: keep the rest for later
 *   }
 *
 * One thread serves every connection and no call ever blocks, so a stalled client costs one
 * EAGAIN per pass instead of the whole server (step 01). Each connection keeps its own state
 * between passes: the session holds a request that arrived in pieces, the sink holds output the
 * kernel did not take yet. The price is the loop itself: with nothing to do it still asks every
 * socket "anything?" as fast as it can, and burns a whole core to hear "no".
 *
 *   --sleep-ms N     rest N ms after a pass that found nothing to do: less CPU, up to N ms more latency
 *   --poller poll    ask poll(2) which sockets are ready, sleeping until one is: no CPU when idle,
 *                    but the whole fd list goes to the kernel and is scanned on every call —
 *                    the bridge to step 05's epoll, which keeps the list in the kernel.
 */
import * as sys from '@course/syscalls';
import { createProtocol, type Session } from '@course/protocol';
import {
  announce, catchShutdownSignals, exitNow, guardedClose, guardedDrained, guardedOpen, guardedPeerClosed, guardedReceive,
  LINGER_MS, listenOrExit, log, NonBlockingSink, parseCommandLine, peerOf, shutdownRequested, type GuardedConnection,
} from '@course/server-kit';

const { C } = sys;
const PKG = '04-nonblocking';
const opts = parseCommandLine(PKG, {
  poller: { kind: 'enum', default: 'busy', values: ['busy', 'poll'], help: 'try every socket on every pass, or ask poll(2) which are ready' },
  'sleep-ms': { kind: 'int', default: 0, min: 0, max: 1000, help: 'with --poller busy: sleep this long after a pass that did nothing' },
});
const usePoll = opts.poller === 'poll';
if (usePoll && opts['sleep-ms'] > 0) {
  log(`${PKG}: --sleep-ms applies to --poller busy only (poll already sleeps until a socket is ready)`);
  exitNow(2);
}
const protocol = createProtocol(opts.protocol, { root: opts.root, codec: opts.codec });

/**
 * One client. Lives in `conns` from accept until it is closed. Main thread only. Every call
 * into its session goes through server-kit's guard: a session that throws ends this connection
 * only (see session-guard.ts).
 */
// #region connection
interface Connection extends GuardedConnection {
  fd: number;
  /** Output not yet taken by the kernel (short writes are kept here). */
  sink: NonBlockingSink;
  /** Protocol state, including a request that has arrived only in part. */
  session: Session;
  /** The peer half-closed: nothing more to read. */
  eof: boolean;
  /**
   * Lingering close (see nonblocking-sink.ts): the answer is sent and the write side shut down;
   * input is read and discarded until the client closes or this time (Date.now ms) passes. 0: not lingering.
   */
  lingerUntil: number;
}
// #endregion connection

/** What a pass over one connection found. */
const IDLE = 0;
const BUSY = 1;
const DONE = 2;

/** Stop reading from a connection with this much unsent output: its client is not keeping up. */
// #region high-water
const HIGH_WATER = 1024 * 1024;
// #endregion high-water

const conns: Connection[] = [];
const readBuffer = Buffer.allocUnsafe(64 * 1024); // one buffer for all: sessions copy what they keep

catchShutdownSignals(); // SIGTERM interrupts poll/sleep with EINTR instead of killing us
// #region listen
const listener = listenOrExit(PKG, opts, { nonBlocking: true }); // accept4 returns -EAGAIN when nobody waits
// #endregion listen
announce(listener, protocol, PKG, { model: 'nonblocking', poller: opts.poller, 'sleep-ms': opts['sleep-ms'] });

// poll(2)'s argument: (fd, events, revents) triplets, the listener first, then every connection.
let pollFds = new Int32Array(3 * 64);
let polled = 0; // connections in the last poll() call
const noFds = new Int32Array(0);

// #region loop
while (!shutdownRequested()) {
  if (usePoll) waitUntilReady(); // sleeps; afterwards only ready sockets are touched

  let worked = false;
  if (!usePoll || pollFds[2] !== 0) worked = acceptAll();

  let kept = 0;
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i]!;
    // busy: try everyone. poll: only those it reported, plus anyone accepted since.
    const due = !usePoll || i >= polled || pollFds[3 * (i + 1) + 2] !== 0;
    const result = due ? serve(c) : IDLE;
    if (result === DONE) closeConnection(c);
    else conns[kept++] = c;
    if (result !== IDLE) worked = true;
  }
  conns.length = kept;

  // Nothing happened in a whole pass. Busy polling goes straight round again: that is the lesson.
  // #region sleep
  if (!worked && opts['sleep-ms'] > 0) sys.poll(noFds, 0, opts['sleep-ms']); // poll with no fds: a sleep a signal can cut short
  // #endregion sleep
}
// #endregion loop

for (const c of conns) closeConnection(c);
sys.close(listener.fd);
exitNow(0);

/** Accept everyone waiting. False if nobody was (EAGAIN at once). */
// #region accept-all
function acceptAll(): boolean {
  let any = false;
  for (;;) {
    const fd = sys.accept4(listener.fd, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
    // EAGAIN: nobody waiting. EMFILE (out of fds) and other errors: the next pass tries again.
    // (With --poller poll that is a spin too: the listener stays readable while connections
    // wait. Step 05's acceptor shows the cure.)
    if (fd < 0) return any;
    sys.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1); // small responses leave at once (no Nagle delay)
    const sink = new NonBlockingSink(fd);
    const peer = peerOf(fd);
    const session = guardedOpen({ fd, peer, sink }, protocol);
    if (session === undefined) sys.close(fd); // the protocol could not open a session (logged)
    else conns.push({ fd, peer, sink, session, eof: false, lingerUntil: 0 });
    any = true;
  }
}
// #endregion accept-all

/** One pass over one connection: one read, then as much writing as the kernel takes. */
// #region pass
function serve(c: Connection): number {
  if (c.lingerUntil !== 0) return linger(c);
  let result = IDLE;
  if (!c.eof && !c.sink.ended && !c.session.paused && c.sink.pendingBytes <= HIGH_WATER) {
    const n = sys.read(c.fd, readBuffer, 0, readBuffer.length);
    if (n > 0) {
      guardedReceive(c, protocol, readBuffer.subarray(0, n)); // may be half a request: the session keeps it
      result = BUSY;
    } else if (n === 0) {
      c.eof = true;
      guardedPeerClosed(c, protocol);
      result = BUSY;
    } else if (n !== -C.EAGAIN && n !== -C.EINTR) {
      return DONE; // ECONNRESET and friends
    }
  }
  if (c.sink.pendingBytes > 0) {
    const n = c.sink.flush(); // writes until EAGAIN; a short write leaves the rest queued
    if (n < 0) return DONE; // EPIPE: the peer is gone
    if (n > 0) result = BUSY;
  }
  if (c.sink.pendingBytes === 0) guardedDrained(c, protocol); // a session holding pipelined requests goes on
  if (c.sink.pendingBytes === 0) {
    // All sent and the peer has left (nothing in flight): done.
    if (c.eof && (c.sink.ended || (!c.session.midRequest && !c.session.awaiting))) return DONE;
    // All sent and the session ended (an error answer, Connection: close) while the client may
    // still be sending: close lingering, or its unread input would turn our FIN into an RST.
    if (c.sink.ended) {
      if (!c.sink.lingerStart()) return DONE;
      c.lingerUntil = Date.now() + LINGER_MS;
      return BUSY;
    }
  }
  return result;
}
// #endregion pass

/** A lingering connection: discard what arrives; done once the client closed or time is up. */
// #region linger
function linger(c: Connection): number {
  if (!c.sink.lingerRead(readBuffer)) return DONE;
  return Date.now() >= c.lingerUntil ? DONE : IDLE;
}
// #endregion linger

function closeConnection(c: Connection): void {
  guardedClose(c);
  c.sink.dispose();
  sys.close(c.fd);
}

/**
 * Fill `pollFds` with every socket and what we wait for on it, and sleep in poll(2) until one is
 * ready (or a signal arrives). poll's cost grows with the number of sockets, ready or not.
 */
// #region wait-until-ready
function waitUntilReady(): void {
  polled = conns.length;
  let lingerUntil = Infinity; // the first lingering connection due: poll must wake for it
  if (pollFds.length < 3 * (polled + 1)) pollFds = new Int32Array(6 * (polled + 1));
  pollFds[0] = listener.fd;
  pollFds[1] = C.POLLIN;
  for (let i = 0; i < polled; i++) {
    const c = conns[i]!;
    const lingering = c.lingerUntil !== 0;
    if (lingering) lingerUntil = Math.min(lingerUntil, c.lingerUntil);
    const wantRead = lingering || (!c.eof && !c.sink.ended && !c.session.paused && c.sink.pendingBytes <= HIGH_WATER);
    pollFds[3 * (i + 1)] = c.fd;
    pollFds[3 * (i + 1) + 1] = (wantRead ? C.POLLIN : 0) | (c.sink.pendingBytes > 0 ? C.POLLOUT : 0);
  }
  const timeout = lingerUntil === Infinity ? -1 : Math.max(0, lingerUntil - Date.now());
  const n = sys.poll(pollFds, polled + 1, timeout); // -EINTR (a signal) leaves every revents 0: the loop checks for shutdown
  // A linger deadline passed: mark its connection due, so that the pass closes it.
  if (n === 0 && lingerUntil !== Infinity) {
    for (let i = 0; i < polled; i++) if (conns[i]!.lingerUntil !== 0) pollFds[3 * (i + 1) + 2] = C.POLLIN;
  }
}
// #endregion wait-until-ready
