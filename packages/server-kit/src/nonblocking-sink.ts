/**
 * A connection's output queue for non-blocking sockets: the Sink of steps 04, 05 and 06.
 *
 * A blocking `write` waits until the kernel took every byte. A non-blocking one takes what fits
 * in the socket's send buffer and returns: a *short write*. Whatever it did not take must be kept,
 * in order, and retried when the socket is writable again. That is all this class does (the queue
 * itself, and the Sink calls that fill it, are OutputQueue's, shared with step 07's sink):
 *
 *   write/sendFile → queue (no syscall) → flush() → writev/sendfile until EAGAIN → keep the rest
 *
 * Everything a session answers during one `receive` is queued first and leaves in one `writev`
 * (pipelined responses cost one syscall, not one each). Files are sent with sendfile(2).
 *
 * A connection the server ends (`end()`: an error answer, `Connection: close`) is not closed
 * outright once its queue is empty: if the client is still sending — the rest of a rejected
 * 1 MB request, more pipelined requests — close(2) with unread input sends an RST instead of a
 * FIN, and an RST makes the client's kernel drop what it had not read yet: often the very
 * error answer just sent. So the loops close in two steps, as nginx's lingering close does:
 * `lingerStart` shuts the write side down (the FIN follows the answer), and `lingerRead` reads
 * and discards what still arrives until the client closes its side or `LINGER_MS` has passed.
 *
 * Ownership and threads: one sink per connection, owned by the loop serving it; only that loop's
 * thread may call it. It does not own the socket (the loop closes it), but it owns every file fd
 * handed to `sendFile` until that file is sent or `dispose` runs.
 */
import * as sys from '@course/syscalls';
import { closeFile } from './files.js';
import { OutputQueue, type FileSegment } from './output-queue.js';

const { C } = sys;

/**
 * Told when a sink gets output while no flush is scheduled, so that output written outside a
 * `receive` (a deferred answer, step 06) still leaves before the loop sleeps again. Called on
 * the sink's thread; at most once until the scheduler calls `sink.flushScheduled = false`.
 */
export interface FlushScheduler {
  scheduleFlush(sink: NonBlockingSink): void;
}

/** At most this many buffers per writev (the kernel's IOV_MAX is 1024). */
const MAX_IOV = 256;

/**
 * How long a lingering connection waits for the client to stop sending before it is closed
 * anyway (nginx's lingering_timeout is 5 s too): long enough for a client to read an error
 * answer, short enough that a client that never closes cannot hold the fd.
 */
export const LINGER_MS = 5000;

// #region sink
export class NonBlockingSink extends OutputQueue {
  /** `fd` is the connected socket (not owned). `scheduler` is told when output appears. */
  constructor(
    readonly fd: number,
    private readonly scheduler?: FlushScheduler,
  ) {
    super();
  }

  /**
   * Send as much as the kernel takes now, without blocking. Returns the bytes sent (0 when the
   * socket buffer is full: EAGAIN is normal, the rest stays queued) or -errno when the peer is
   * gone (EPIPE, ECONNRESET): the caller closes the connection.
   */
  // #region flush
  flush(): number {
    const queue = this.queue;
    let sent = 0;
    while (this.head < queue.length) {
      const item = queue[this.head]!;
      if (item instanceof Uint8Array) {
        // Gather every consecutive byte chunk into one writev.
        let end = this.head;
        let want = 0;
        while (end < queue.length && end - this.head < MAX_IOV) {
          const c = queue[end]!;
          if (!(c instanceof Uint8Array)) break;
          want += c.length;
          end++;
        }
        // One chunk (a WebSocket frame, a whole response): write(2), no iovec array to build.
        // Otherwise a queue of byte chunks only is passed as it is: no allocation.
        const n =
          end - this.head === 1
            ? sys.write(this.fd, item as Uint8Array)
            : sys.writev(this.fd, this.head === 0 && end === queue.length ? (queue as Uint8Array[]) : (queue.slice(this.head, end) as Uint8Array[]));
        if (n < 0) {
          if (n === -C.EINTR) continue;
          if (n === -C.EAGAIN) break;
          return n;
        }
        sent += n;
        this.queued -= n;
        this.consume(n);
        if (n < want) break; // a short write: the send buffer is full, the next call would say EAGAIN
      } else {
        const n = sys.sendfile(this.fd, item.fd, item.offset, item.length);
        if (n < 0) {
          if (n === -C.EINTR) continue;
          if (n === -C.EAGAIN) break;
          return n;
        }
        if (n === 0) return -C.EIO; // the file shrank under us: the response cannot be completed
        sent += n;
        this.queued -= n;
        item.offset += n;
        item.length -= n;
        if (item.length > 0) break; // short: the send buffer is full
        closeFile(item.fd);
        this.head++;
      }
    }
    this.compact();
    return sent;
  }
  // #endregion flush

  /**
   * The queue's only item, if it is one byte chunk (a response, a WebSocket frame: the usual
   * case), else null. A loop sends it with other connections' in one batch (`sys.sendEach`)
   * and reports what went with `sent`; anything else goes through `flush`.
   */
  soleChunk(): Uint8Array | null {
    if (this.queue.length - this.head !== 1) return null;
    const item = this.queue[this.head]!;
    return item instanceof Uint8Array ? item : null;
  }

  /** `n` bytes of the chunk `soleChunk` gave were sent by the loop's batch (n ≥ 0). */
  sent(n: number): void {
    this.queued -= n;
    this.consume(n);
    this.compact();
  }

  // #region lingering-close
  /**
   * Lingering close, step 1 (call once the queue is empty after `end()`, the peer not at EOF):
   * send a FIN after the answer with shutdown(SHUT_WR), keep the read side open. Returns false if
   * the socket is already gone (ENOTCONN: the peer reset it): close it at once.
   */
  lingerStart(): boolean {
    return sys.shutdown(this.fd, C.SHUT_WR) === 0;
  }

  /**
   * Lingering close, step 2 (on every readable event meanwhile): read and discard until EAGAIN.
   * `buf` is the loop's read buffer. Returns true while the peer is still connected, false once
   * it closed its side (read 0) or reset: then close(2) sends no RST.
   */
  lingerRead(buf: Uint8Array): boolean {
    for (;;) {
      const n = sys.read(this.fd, buf, 0, buf.length);
      if (n > 0) continue; // discarded: nobody will answer it
      if (n === -C.EAGAIN) return true;
      if (n !== -C.EINTR) return false; // 0: the client closed; ECONNRESET: it is gone
    }
  }
  // #endregion lingering-close

  /** Drop `n` written bytes from the byte chunks at the head of the queue. */
  private consume(n: number): void {
    const queue = this.queue;
    while (n > 0) {
      const c = queue[this.head] as Uint8Array;
      if (n >= c.length) {
        n -= c.length;
        this.head++;
      } else {
        queue[this.head] = c.subarray(n); // a partly written chunk: keep its tail
        n = 0;
      }
    }
  }

  protected fileSegment(fd: number, offset: number, length: number): FileSegment {
    return { fd, offset, length };
  }

  protected schedule(): void {
    if (this.flushScheduled || this.scheduler === undefined) return;
    this.flushScheduled = true;
    this.scheduler.scheduleFlush(this);
  }
}
// #endregion sink
