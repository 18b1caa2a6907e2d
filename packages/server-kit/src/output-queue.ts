/**
 * What every event-driven Sink shares: the queue of a connection's output, in order — byte
 * chunks kept by reference, and file segments the sink owns until sent — and the Sink calls that
 * fill it. How the queue is emptied is the model's: NonBlockingSink (steps 04-06) makes the
 * writes itself until EAGAIN; step 07's CompletionSink hands the head of the queue to io_uring and
 * is told what completed. Each subclass says when a loop must be told that output appeared
 * (`schedule`).
 *
 * Ownership and threads: one queue per connection, owned by the loop serving it; only that loop's
 * thread may call it. It owns every file fd given to `sendFile` until that file is sent or
 * `dispose` runs.
 */
import type { Sink } from '@course/protocol';
import { closeFile } from './files.js';

/** Part of an open file still to send: `length` bytes from `offset`. The queue owns `fd`. */
export interface FileSegment {
  fd: number;
  offset: number;
  length: number;
}

export abstract class OutputQueue<F extends FileSegment = FileSegment> implements Sink {
  /** Items not yet fully sent: byte chunks and file segments, oldest at `head`. */
  protected queue: Array<Uint8Array | F> = [];
  protected head = 0;
  /** Bytes queued and not yet sent, files included. */
  protected queued = 0;
  /** Bytes ever queued; a loop compares it before and after `receive` to see whether a session answered. */
  totalQueued = 0;
  /** The session called `end()`: close once everything queued has been sent. */
  ended = false;
  /** The connection is gone: later writes are dropped (a late answer has nowhere to go). */
  disposed = false;
  /** Set while this sink sits on its loop's list of connections to flush; the loop clears it. */
  flushScheduled = false;

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
    this.queue.push(this.fileSegment(fd, offset, length));
    this.queued += length;
    this.totalQueued += length;
    this.schedule();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.schedule(); // the loop closes the connection once the queue is empty
  }

  /** The connection is over: drop what was not sent and close its files. Idempotent. */
  dispose(): void {
    this.disposed = true;
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      if (!(item instanceof Uint8Array)) closeFile(item.fd);
    }
    this.queue = []; // a new array: a request still in flight may read the old one (step 07)
    this.head = 0;
    this.queued = 0;
  }

  /** The queue entry for a file to send. */
  protected abstract fileSegment(fd: number, offset: number, length: number): F;

  /** Output appeared: make sure the loop flushes this sink before it sleeps. */
  protected abstract schedule(): void;

  /** After sending: reuse the array once everything is sent; drop a long-lived backlog's sent head. */
  protected compact(): void {
    const queue = this.queue;
    if (this.head === queue.length) {
      // pop() for the usual single chunk: setting `length` is a call into the V8 runtime.
      if (queue.length === 1) queue.pop();
      else queue.length = 0;
      this.head = 0;
    } else if (this.head >= 64) {
      queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
