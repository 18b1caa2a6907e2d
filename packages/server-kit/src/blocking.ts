/**
 * Serving one connection with blocking syscalls: the inner loop of steps 01, 02 and 03.
 *
 *   for (;;) { n = read(fd); if n == 0 break; session.receive(bytes); write what it answered }
 *
 * Owned by the thread (or process) that accepted or was handed the connection; it blocks that
 * thread until the connection ends. The read buffer is per thread, so each thread that serves
 * connections has its own (module state is per thread in worker_threads).
 */
import * as sys from '@course/syscalls';
import { closeFile } from './files.js';
import type { PeerInfo, Protocol, Sink } from '@course/protocol';
import { shutdownRequested } from './process.js';
import { guardedClose, guardedOpen, guardedPeerClosed, guardedReceive, guardedDrained, guardedTimeout, type GuardedConnection } from './session-guard.js';

const { C } = sys;

/** 64 KiB: one read takes a whole pipelined burst of small requests. Reused; never escapes a call. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
/** poll(2)'s (fd, events, revents) for the one socket, when a session keeps its own time. */
const pollOne = new Int32Array(3);

type Pending = Uint8Array | { fd: number; offset: number; length: number };

// #region blocking-sink
/**
 * A Sink that collects what a session answers during one `receive` and then writes it all with
 * blocking writev/sendfile. Not thread-safe: one connection, one thread.
 */
export class BlockingSink implements Sink {
  private queue: Pending[] = [];
  private queued = 0;
  /** Bytes ever queued; the session guard compares it around a call that threw. */
  totalQueued = 0;
  ended = false;
  /** Set when a write failed (EPIPE, ECONNRESET): the peer is gone, stop serving. */
  broken = false;

  constructor(private readonly fd: number) {}

  get pendingBytes(): number {
    return this.queued;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.totalQueued += bytes.length;
  }

  sendFile(fd: number, offset: number, length: number): void {
    this.queue.push({ fd, offset, length });
    this.queued += length;
    this.totalQueued += length;
  }

  end(): void {
    this.ended = true;
  }

  // #region flush
  /**
   * Write everything queued, blocking until the kernel took it: byte chunks coalesced into
   * writevs, files with sendfile (the addon's blocking helpers). A failed write (EPIPE,
   * ECONNRESET: the peer is gone) or a file that ended early marks the sink broken.
   */
  flush(): void {
    const queue = this.queue;
    this.queue = [];
    this.queued = 0;
    let i = 0;
    while (i < queue.length) {
      const item = queue[i]!;
      if (item instanceof Uint8Array) {
        let j = i;
        while (j < queue.length && queue[j] instanceof Uint8Array) j++;
        const chunks = queue.slice(i, j) as Uint8Array[];
        if (!this.broken) {
          this.broken = !this.tryWrite(() => {
            sys.writevAll(this.fd, chunks);
            return true;
          });
        }
        i = j;
      } else {
        // sendfileAll sends fewer bytes only if the file shrank under us: the response is cut short.
        if (!this.broken) this.broken = !this.tryWrite(() => sys.sendfileAll(this.fd, item.fd, item.offset, item.length) === item.length);
        closeFile(item.fd);
        i++;
      }
    }
  }
  // #endregion flush

  /** One blocking write: its own verdict, or false if it failed (a SysError: the peer is gone). */
  private tryWrite(write: () => boolean): boolean {
    try {
      return write();
    } catch (err) {
      if (err instanceof sys.SysError) return false;
      throw err; // not a syscall failure: a bug, not the peer's doing
    }
  }

  /** The connection is over: close files never sent. */
  dispose(): void {
    for (const item of this.queue) if (!(item instanceof Uint8Array)) closeFile(item.fd);
    this.queue = [];
    this.queued = 0;
  }
}
// #endregion blocking-sink

// #region serve-connection
/**
 * Serve `fd` until the peer closes, the protocol ends the connection, or shutdown is requested;
 * then close it. Blocks the calling thread throughout: that is the lesson of steps 01-03.
 */
export function serveConnection(fd: number, protocol: Protocol, peer?: PeerInfo): void {
  // TCP_NODELAY: a response written as headers then sendfile must not wait for the peer's ACK
  // of the first part (Nagle's algorithm, with delayed ACKs up to 40 ms). Every model sets it.
  sys.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
  const sink = new BlockingSink(fd);
  // Every session call goes through the guard: a session that throws ends this connection
  // (with a 500 if no answer had begun), not the thread that accepts the next one.
  const session = guardedOpen({ fd, peer, sink }, protocol);
  if (session === undefined) {
    sys.close(fd);
    return;
  }
  const conn: GuardedConnection & { sink: BlockingSink } = { fd, peer, sink, session };
  let peerGone = false; // read gave 0 or an error: nothing more can arrive
  try {
    // Look before every read, too: a SIGTERM that arrived while we were writing must not wait for
    // the client's next request (the addon's nudge would interrupt the read anyway, 5 ms later).
    while (!sink.ended && !sink.broken && !shutdownRequested()) {
      // A session with a deadline of its own (a WebSocket's heartbeat): wait in poll(2) until
      // then instead of in read(2), and let it act. This thread is still this client's alone.
      const deadline = conn.session.deadline ?? 0;
      if (deadline > 0 && deadline !== Infinity) {
        pollOne[0] = fd;
        pollOne[1] = C.POLLIN;
        pollOne[2] = 0;
        const ready = sys.poll(pollOne, 1, Math.max(0, Math.ceil(deadline - Date.now())));
        if (ready === -C.EINTR) continue; // a signal: the loop looks for shutdown
        if (ready === 0) {
          if (guardedTimeout(conn, protocol, Date.now())) break; // the peer is gone or never answered: cut
          flushAll(conn, protocol);
          continue;
        }
      }
      const n = sys.read(fd, readBuffer, 0, readBuffer.length);
      if (n === -C.EINTR) {
        if (shutdownRequested()) break;
        continue;
      }
      if (n < 0) {
        peerGone = true; // ECONNRESET and friends: the peer is gone
        break;
      }
      if (n === 0) {
        peerGone = true;
        guardedPeerClosed(conn, protocol);
        flushAll(conn, protocol);
        break;
      }
      guardedReceive(conn, protocol, readBuffer.subarray(0, n));
      flushAll(conn, protocol);
    }
  } finally {
    // We end the connection while the client may still be sending (an error answer, a WebSocket
    // close after an oversize message): close(2) with unread input would send an RST, which can
    // cost the client the answer. So linger, as the non-blocking sink does — briefly, because
    // this thread serves no one else meanwhile.
    if (sink.ended && !sink.broken && !peerGone && !shutdownRequested()) lingerBlocking(fd);
    guardedClose(conn);
    sink.dispose();
    sys.close(fd);
  }
}
// #endregion serve-connection

/** How long a blocking model waits for the client's FIN after its own: this thread is blocked meanwhile. */
export const BLOCKING_LINGER_MS = 1000;

/** Shut the write side (our FIN follows the answer) and discard input until the client's FIN, an error, or the time is up. */
// #region linger-blocking
function lingerBlocking(fd: number): void {
  if (sys.shutdown(fd, C.SHUT_WR) < 0) return;
  const until = Date.now() + BLOCKING_LINGER_MS;
  for (let left = BLOCKING_LINGER_MS; left > 0; left = until - Date.now()) {
    pollOne[0] = fd;
    pollOne[1] = C.POLLIN;
    pollOne[2] = 0;
    const ready = sys.poll(pollOne, 1, left);
    if (ready === -C.EINTR) {
      if (shutdownRequested()) return;
      continue;
    }
    if (ready <= 0) return; // time is up
    if (sys.read(fd, readBuffer, 0, readBuffer.length) <= 0) return; // the client's FIN, or an error
  }
}
// #endregion linger-blocking

/**
 * Write what the session answered; if it held pipelined requests back (output piled up), let it
 * go on and write again, until it has answered everything it has.
 */
function flushAll(conn: GuardedConnection & { sink: BlockingSink }, protocol: Protocol): void {
  const sink = conn.sink;
  for (;;) {
    sink.flush();
    if (sink.broken) return;
    guardedDrained(conn, protocol);
    if (sink.pendingBytes === 0) return;
  }
}

/** The peer's address, for protocols and logs; undefined if the socket is already gone. */
export function peerOf(fd: number): PeerInfo | undefined {
  const addr = sys.getpeername(fd);
  return typeof addr === 'number' ? undefined : { address: addr.address, port: addr.port };
}
