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
import { closeFile, OutputQueue, type FileSegment } from '@course/server-kit';

/**
 * Part of an open file still to send: `offset` and `length` are what is left to *read*;
 * `buffered`, bytes read from it and not yet sent.
 */
interface BufferedFile extends FileSegment {
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

export class CompletionSink extends OutputQueue<BufferedFile> {
  /** An output request of this sink is in flight: wait for its completion before the next. */
  inFlight = false;
  /**
   * The queue `dispose` dropped while a request was in flight: the kernel may still be reading
   * those buffers, so they are kept alive until its completion (the proactor clears this).
   */
  retired: unknown = undefined;

  private readonly single: [Uint8Array] = [new Uint8Array(0)];
  private readonly bytesOut: NextOutput & { kind: 'bytes' } = { kind: 'bytes', bufs: this.queue as Uint8Array[], start: 0, count: 0 };
  private readonly readOut: NextOutput & { kind: 'read' } = { kind: 'read', fd: -1, offset: 0, length: 0 };

  /** `onOutput` is called (once until the proactor clears `flushScheduled`) when output appears. */
  constructor(private readonly onOutput: (sink: CompletionSink) => void) {
    super();
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
    const item = this.queue[this.head] as BufferedFile;
    item.buffered = fileBuffer.subarray(0, n);
    item.offset += n;
    item.length -= n;
  }

  /** The connection is over: drop what was not sent and close its files. Idempotent. */
  override dispose(): void {
    // An output request still in flight reads the old array until it completes: keep it alive.
    if (this.inFlight) this.retired = this.queue;
    super.dispose();
  }

  protected fileSegment(fd: number, offset: number, length: number): BufferedFile {
    return { fd, offset, length, buffered: undefined };
  }

  protected schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    this.onOutput(this);
  }
}
