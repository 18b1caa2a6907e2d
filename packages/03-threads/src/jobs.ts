/**
 * What the main thread hands a Worker when it starts it (its `workerData`). Structured-cloned
 * into the Worker, except SharedArrayBuffers, which both threads then share.
 *
 * A file descriptor crosses as a plain integer: fds belong to the process, not to a thread, so
 * fd 12 means the same socket in every thread. Ownership is what moves: once handed over, only
 * the receiving thread may use or close it.
 */
import type { ProtocolSettings } from '@course/server-kit';

/** For connection-worker.js: serve this one connection, then end the thread. */
/** Both jobs carry the protocol settings (root, codec spec, WebSocket limits): plain data, so they survive structured clone. */
export interface ConnectionJob extends ProtocolSettings {
  /** The accepted connection. Owned by the Worker once it sets `taken`; then it closes it. */
  fd: number;
  protocol: 'http' | 'echo' | 'auto';
  /**
   * Int32Array(1) over a SharedArrayBuffer. The Worker stores 1 in it as its first act: from then
   * on the fd is the Worker's. A Worker that exits with 0 here never ran (its modules failed to
   * load, say), so main still owns the fd and closes it.
   */
  taken: Int32Array;
}

/** For pool-worker.js: accept and serve connections on the shared listening socket, forever. */
export interface PoolJob extends ProtocolSettings {
  /** The listening socket, shared by every pool thread; owned (and never closed) by main. */
  listenFd: number;
  protocol: 'http' | 'echo' | 'auto';
  /**
   * Start-up handshake, Int32Array over a SharedArrayBuffer: [0] counts threads about to accept,
   * [1] counts threads that failed to start. A blocked main thread never sees postMessage, so
   * the pool reports through shared memory and Atomics.notify.
   */
  ready: Int32Array;
}

/** Slots of `PoolJob.ready`. */
export const READY = 0;
export const FAILED = 1;
