/**
 * A connection's output queue for a completion-based loop: the Sink of step 07.
 *
 * Step 05's sink (server-kit's NonBlockingSink) *makes* the writes: flush() calls writev until the
 * kernel says EAGAIN. Here nobody writes directly. The proactor asks this queue what to submit
 * next, submits it to io_uring, and reports the completion back:
 *
 *   write/sendFile → queue → next() → the proactor submits a send/writev (or a file read) → sent(n) / fileRead(n)
 *
 * One output request per connection is in flight at a time. That keeps the bytes in order (two
 * sends in flight on one socket may complete in either order) and makes a short send simple: the
 * rest is simply the head of the next one.
 *
 * Large files. io_uring has no sendfile opcode. This queue reads a file into the connection's
 * own 64 KiB buffer (IORING_OP_READ at an explicit offset) and sends that buffer, one read and
 * one send per 64 KiB: simple, no extra fds, and the read is served from the page cache. The
 * in-kernel alternative, splice(2) file → pipe → socket as two linked SQEs, saves that copy but
 * costs a pipe (two fds) per connection, and a short splice breaks the link: see the chapter.
 *
 * Ownership: one sink per connection, owned by the proactor serving it; only the proactor's thread
 * may call it. Buffers handed to `write` are kept by reference until sent. The sink owns every
 * file fd given to `sendFile` until that file is sent or `dispose` runs. While an output request
 * is in flight the kernel reads the queued buffers: nothing here changes them until `sent`.
 */
import type { Sink } from '@course/protocol';
import { closeFile } from '@course/server-kit';

/** Part of an open file still to send. `buffered`: bytes read from it and not yet sent. */
interface FileSegment {
  fd: number;
  /** Next file offset to read, and the bytes left to read from there. */
  offset: number;
  length: number;
  buffered: Uint8Array | undefined;
}

/** What the proactor should submit next for this connection. Reused: read it before calling again. */
export type NextOutput =
  /** writev(2) (or send(2) when count is 1) of `bufs[start, start + count)`. */
  | { kind: 'bytes'; bufs: readonly Uint8Array[]; start: number; count: number }
  /** read(2) `length` bytes of `fd` at `offset` into the connection's file buffer. */
  | { kind: 'read'; fd: number; offset: number; length: number };

/** At most this many buffers per writev (the kernel's IOV_MAX is 1024). */
const MAX_IOV = 256;
/** Bytes read from a large file per request. */
export const FILE_CHUNK = 64 * 1024;

export class CompletionSink implements Sink {
  /** Items not yet fully sent: byte chunks and file segments, oldest at `head`. */
  private queue: Array<Uint8Array | FileSegment> = [];
  private head = 0;
  private queued = 0;
  /** Bytes ever queued; the proactor compares it before and after `receive` to see whether a session answered. */
  totalQueued = 0;
  /** The session called `end()`: close once everything queued has been sent. */
  ended = false;
  /** The connection is gone: later writes are dropped (a late answer has nowhere to go). */
  disposed = false;
  /** An output request of this sink is in flight: wait for its completion before the next. */
  inFlight = false;
  /** Set while this sink sits on the proactor's list of connections to flush this turn. */
  flushScheduled = false;
  /**
   * The queue `dispose` dropped while a request was in flight: the kernel may still be reading
   * those buffers, so they are kept alive until its completion (the proactor clears this).
   */
  retired: unknown = undefined;

  private readonly single: [Uint8Array] = [new Uint8Array(0)];
  private readonly bytesOut: NextOutput & { kind: 'bytes' } = { kind: 'bytes', bufs: this.queue as Uint8Array[], start: 0, count: 0 };
  private readonly readOut: NextOutput & { kind: 'read' } = { kind: 'read', fd: -1, offset: 0, length: 0 };

  /** `onOutput` is called (once until the proactor clears `flushScheduled`) when output appears. */
  constructor(private readonly onOutput: (sink: CompletionSink) => void) {}

  get pendingBytes(): number {
    return this.queued;
  }

  write(bytes: Uint8Array): void {
    if (this.disposed || bytes.length === 0) return;
    this.queue.push(bytes);
    this.queued += bytes.length;
    this.totalQueued += bytes.length;
    this.schedule();
  }

  sendFile(fd: number, offset: number, length: number): void {
    if (this.disposed || length === 0) {
      closeFile(fd); // ours from this call on: nothing to send, so close it now
      return;
    }
    this.queue.push({ fd, offset, length, buffered: undefined });
    this.queued += length;
    this.totalQueued += length;
    this.schedule();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.schedule(); // the proactor closes the connection once the queue is empty
  }

  /**
   * The next request to submit, or undefined when nothing is queued. `fileBuffer` is the
   * connection's buffer for large files: a `read` fills it, then the bytes it holds are sent.
   */
  next(): NextOutput | undefined {
    const queue = this.queue;
    if (this.head >= queue.length) return undefined;
    const item = queue[this.head]!;
    if (item instanceof Uint8Array) {
      // Gather every consecutive byte chunk into one writev; the queue itself is the iovec list.
      let end = this.head;
      while (end < queue.length && end - this.head < MAX_IOV && queue[end] instanceof Uint8Array) end++;
      const out = this.bytesOut;
      out.bufs = queue as Uint8Array[];
      out.start = this.head;
      out.count = end - this.head;
      return out;
    }
    if (item.buffered !== undefined) {
      this.single[0] = item.buffered;
      const out = this.bytesOut;
      out.bufs = this.single;
      out.start = 0;
      out.count = 1;
      return out;
    }
    const out = this.readOut;
    out.fd = item.fd;
    out.offset = item.offset;
    out.length = Math.min(item.length, FILE_CHUNK);
    return out;
  }

  /** A send/writev of what `next()` named completed with `n` > 0 bytes taken. */
  sent(n: number): void {
    this.queued -= n;
    const queue = this.queue;
    while (n > 0) {
      const item = queue[this.head]!;
      if (item instanceof Uint8Array) {
        if (n >= item.length) {
          n -= item.length;
          this.head++;
        } else {
          queue[this.head] = item.subarray(n); // a short send: keep the tail
          n = 0;
        }
      } else {
        const buf = item.buffered!;
        item.buffered = n >= buf.length ? undefined : buf.subarray(n);
        n = 0; // a file's buffered bytes are sent on their own (next() never gathers them)
        if (item.buffered === undefined && item.length === 0) {
          closeFile(item.fd);
          this.head++;
        }
      }
    }
    this.compact();
  }

  /**
   * A file read named by `next()` completed with `n` > 0 bytes in `fileBuffer[0, n)`; they are sent
   * next. (0 means the file shrank under us: the caller ends the connection.)
   */
  fileRead(n: number, fileBuffer: Uint8Array): void {
    const item = this.queue[this.head] as FileSegment;
    item.buffered = fileBuffer.subarray(0, n);
    item.offset += n;
    item.length -= n;
  }

  /** The connection is over: drop what was not sent and close its files. Idempotent. */
  dispose(): void {
    this.disposed = true;
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      if (!(item instanceof Uint8Array)) closeFile(item.fd);
    }
    // A new array: an output request still in flight reads the old one until it completes.
    if (this.inFlight) this.retired = this.queue;
    this.queue = [];
    this.head = 0;
    this.queued = 0;
  }

  private compact(): void {
    const queue = this.queue;
    if (this.head === queue.length) {
      queue.length = 0; // everything sent: reuse the array
      this.head = 0;
    } else if (this.head >= 64) {
      queue.splice(0, this.head); // a long-lived backlog: drop what was sent
      this.head = 0;
    }
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.onOutput(this);
  }
}
