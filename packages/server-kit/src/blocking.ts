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
import { guardedClose, guardedOpen, guardedPeerClosed, guardedReceive, guardedDrained, type GuardedConnection } from './session-guard.js';

const { C } = sys;

/** 64 KiB: one read takes a whole pipelined burst of small requests. Reused; never escapes a call. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

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
  try {
    // Look before every read, too: a SIGTERM that arrived while we were writing must not wait for
    // the client's next request (the addon's nudge would interrupt the read anyway, 5 ms later).
    while (!sink.ended && !sink.broken && !shutdownRequested()) {
      const n = sys.read(fd, readBuffer, 0, readBuffer.length);
      if (n === -C.EINTR) {
        if (shutdownRequested()) break;
        continue;
      }
      if (n < 0) break; // ECONNRESET and friends: the peer is gone
      if (n === 0) {
        guardedPeerClosed(conn, protocol);
        flushAll(conn, protocol);
        break;
      }
      guardedReceive(conn, protocol, readBuffer.subarray(0, n));
      flushAll(conn, protocol);
    }
  } finally {
    guardedClose(conn);
    sink.dispose();
    sys.close(fd);
  }
}
// #endregion serve-connection

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
