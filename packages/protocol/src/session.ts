/**
 * The seam between a concurrency model and a protocol.
 *
 * A model moves bytes; a protocol decides what they mean. The model owns the socket and calls
 * `Protocol.open` once per accepted connection; the returned `Session` is fed the bytes read and
 * answers through the model's `Sink`. Models never parse HTTP; protocols never touch sockets.
 *
 * Threading: a Session and its Sink belong to the one thread that serves the connection (the
 * accepting thread in 01, the child process in 02, the worker thread in 03, the reactor thread in
 * 04-06). Neither is ever called from another thread.
 */

// #region sink
/** Where a session's output goes. Implemented by each model, one per connection. */
export interface Sink {
  /**
   * Queue bytes for the peer, after everything queued before. The sink keeps a reference (no
   * copy): the caller must not modify `bytes` afterwards. Output queued during one `receive` may
   * leave in a single write (pipelined responses are answered with one syscall).
   */
  write(bytes: Uint8Array): void;
  /**
   * Queue `length` bytes of the open file `fd`, starting at `offset`, after everything queued
   * before; the model sends them with sendfile(2). The sink owns `fd` from this call on and
   * closes it once sent, or when the connection ends first.
   */
  sendFile(fd: number, offset: number, length: number): void;
  /** Close the connection once everything queued has been sent. Idempotent. */
  end(): void;
  /**
   * Bytes queued and not yet sent (files included). A session may stop producing more while this
   * is large; reactors stop reading from a connection whose backlog is over their high-water mark.
   */
  readonly pendingBytes: number;
}
// #endregion sink

// #region session
/** One connection's protocol state. Created by `Protocol.open`; owned by the serving thread. */
export interface Session {
  /**
   * Bytes read from the peer. `data` is a view of the model's reusable read buffer and is valid
   * only during this call: a session copies whatever must outlive it.
   */
  receive(data: Uint8Array): void;
  /** The peer half-closed (read returned 0). The session answers what it has, then ends the sink. */
  peerClosed(): void;
  /**
   * The model sent what was queued (its backlog fell to its low-water mark). A session that held
   * requests back because output was piling up — a pipelined burst of large files — goes on.
   * Cheap when nothing is held: models call it after every flush that empties the queue.
   */
  drained(): void;
  /** The connection is gone (ended, reset, timed out or shut down). Release resources. Called once. */
  close(): void;
  /**
   * True while a request has begun but is incomplete. Models use it to pick a timeout: the header
   * (slowloris) timeout while true, the keep-alive idle timeout while false.
   */
  readonly midRequest: boolean;
  /**
   * True while the session owes an answer it has not produced yet (step 06: a route waiting for
   * a worker's result). The connection is busy, not idle: models apply neither the idle nor the
   * header timeout meanwhile, and a graceful shutdown waits for the answer.
   */
  readonly awaiting: boolean;
  /**
   * True while the session takes no more requests until `drained()` (output piled up, or too many
   * answers are owed). Models stop reading the connection meanwhile, so the back-pressure reaches
   * the client's TCP window instead of growing buffers here.
   */
  readonly paused: boolean;
  /**
   * When the session itself needs time (ms, Date.now clock), for a connection that outlives
   * requests — a WebSocket's heartbeat, or the wait for the peer's close frame. Absent or 0: the
   * model's own idle and header timeouts apply, as for HTTP. Otherwise they do not: the model
   * calls `timeout(now)` once `now >= deadline` (Infinity: never; the connection is long-lived
   * and keeps no timeout), and reads `deadline` again after `receive` and `timeout`.
   */
  readonly deadline?: number;
  /**
   * `deadline` passed. Returns true if the connection must be closed now (unsent output is
   * dropped), false if the session acted — queued a ping, say — and set a new deadline. Output
   * it queued is flushed like output queued in `receive`.
   */
  timeout?(now: number): boolean;
}
// #endregion session

/** Address of the peer, as the model learnt it from accept/getpeername. */
export interface PeerInfo {
  readonly address: string;
  readonly port: number;
}

// #region protocol
/** A protocol: a factory of sessions. Immutable; one instance may be shared by every connection of a thread. */
export interface Protocol {
  readonly name: 'http' | 'echo';
  /** URL scheme printed in the banner: `http` for HTTP, `tcp` for echo. */
  readonly scheme: 'http' | 'tcp';
  /** The framing of a TCP protocol as its canonical spec (`line:max=65536`); absent for raw bytes and HTTP. */
  readonly codec?: string;
  open(sink: Sink, peer?: PeerInfo): Session;
  /**
   * The bytes a model sends before closing a connection whose session threw before any answer
   * to the current request began (HTTP: a 500 with `Connection: close`). Absent when the
   * protocol has no such answer (echo: the connection is just closed). See server-kit's
   * session-guard.ts.
   */
  faultResponse?(): Uint8Array;
}
// #endregion protocol
