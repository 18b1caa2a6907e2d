/**
 * The reactor: one epoll instance, one thread, every connection it was given (step 05; each
 * sub-reactor of step 06 is one of these). Shaped after Redis' ae.c and muduo's EventLoop.
 *
 *   runOnce:  epoll_wait   sleep until an fd is ready or the next deadline is due
 *             dispatch     each ready fd: a connection (read → session → output queued) or a watcher
 *             expire       close connections whose deadline passed; run due one-shot timers
 *             flush        write every connection that has output; EPOLLOUT only if the kernel said "full"
 *             close        close(2) the fds of connections that ended during this turn
 *
 * State is flat, as in ae.c: `conns[fd]` holds a connection's state, `watchers[fd]` a callback for
 * any other fd (the listening socket, an eventfd). epoll hands back the fd itself, so finding the
 * state is one array index. The state is dropped *before* the fd is closed: the kernel gives the
 * same number to the very next accept.
 *
 * Writes are not made inside `receive`. Whatever a session answers is queued in its sink, the
 * sink puts the connection on the dirty list, and the dirty list is flushed once per turn, just
 * before sleeping (Redis' handleClientsWithPendingWrites). So every response of one read leaves
 * in one writev, and an answer written outside `receive` (a worker's result in step 06) leaves
 * before the next epoll_wait too. The flush crosses into the addon once for all connections whose
 * output is one chunk, so a turn that writes to 10,000 connections — a broadcast — pays the
 * JS-to-C crossing once, not 10,000 times. With `sendBatch: 'uring'` (06's default) those sends
 * enter the kernel once too, as one io_uring submission (sys.SendRing), not a send(2) each.
 *
 * Faults: every call into a session goes through server-kit's guard (session-guard.ts). A session
 * that throws ends its own connection — a 500 if no answer had begun, one log line naming the fd
 * and peer — and the loop and every other connection go on.
 *
 * Threads: a Reactor belongs to the thread that created it; every method must be called there.
 * With COURSE_CHECK_THREADS=1 in the environment (the tests set it) every public method checks.
 */
import * as sys from '@course/syscalls';
import type { PeerInfo, Protocol, Session } from '@course/protocol';
import {
  guardedClose,
  guardedDrained,
  guardedOpen,
  guardedPeerClosed,
  guardedReceive,
  guardedTimeout,
  LINGER_MS,
  log,
  NonBlockingSink,
  RETIRED,
  ThreadAffinity,
  type FlushScheduler,
  type GuardedConnection,
} from '@course/server-kit';

const { C } = sys;
const { EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP, EPOLLET, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL } = C;

/** How readiness is reported and consumed; see `readConn`. */
export type ReactorMode = 'lt' | 'et' | 'et-nodrain';

export interface ReactorOptions {
  protocol: Protocol;
  /** Level-triggered (default), edge-triggered, or the edge-triggered bug kept for teaching. */
  mode?: ReactorMode;
  /** A request that has begun must be complete within this many ms (slowloris). Default 10000. */
  headerTimeoutMs?: number;
  /** A keep-alive connection with nothing in flight is closed after this many ms. Default 60000. */
  idleTimeoutMs?: number;
  /** Stop reading from a connection whose unsent output exceeds this many bytes. Default 1 MiB. */
  highWaterMark?: number;
  /** Events taken per epoll_wait. Default 1024. */
  maxEvents?: number;
  /**
   * How a turn's batch of sends enters the kernel: `calls` (default), a send(2) each, all made
   * in one call into the addon; or `uring`, one io_uring_enter for all of them (sys.SendRing;
   * where io_uring is refused, as `calls`). Step 05 keeps to readiness and plain syscalls by
   * default, so that step 07's comparison with it is readiness against completion; step 06,
   * the library, defaults to `uring`.
   */
  sendBatch?: SendBatchMode;
}

/** See `ReactorOptions.sendBatch`. */
export type SendBatchMode = 'uring' | 'calls';
export const SEND_BATCH_MODES: readonly SendBatchMode[] = ['uring', 'calls'];

/** Counters, updated in place by the reactor's thread; another thread may read them only racily. */
export interface ReactorStats {
  /** Connections open now. */
  connections: number;
  /** Connections adopted in total. */
  accepted: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * One connection's state. Owned by its reactor; lives in `conns[fd]` from `adopt` to `closeConn`.
 */
// #region conn
class Conn implements GuardedConnection {
  session!: Session;
  /** Events currently registered with epoll, so that epoll_ctl is called only on a change. */
  interest = 0;
  /** When the connection is closed unless something happens first (ms, Date.now clock). */
  deadline = 0;
  /** True while `deadline` is a header (request) deadline rather than an idle one. */
  headerClock = false;
  /** Back-pressure: output is over the high-water mark, so we stopped reading. */
  paused = false;
  /** The peer half-closed (read returned 0): there is nothing more to read. */
  eof = false;
  /**
   * ET only: reading stopped before the socket was empty (back-pressure), so bytes may be
   * waiting that no new edge will report. The next registration update must re-arm with
   * epoll_ctl(MOD) even if the event mask did not change.
   */
  rearm = false;
  /**
   * Lingering close (see nonblocking-sink.ts): the answer is sent and the write side shut down;
   * input is read and discarded until the client closes its side or `deadline` passes.
   */
  lingering = false;
  closed = false;
  /** Index in `live`, for O(1) removal. */
  slot = 0;

  constructor(
    readonly fd: number,
    readonly sink: NonBlockingSink,
    readonly peer: PeerInfo | undefined,
    /** Where the session came from: the reactor's protocol, or the one a client brought to `adopt`. */
    readonly protocol: Protocol,
  ) {}
}
// #endregion conn

/** A one-shot timer (`Reactor.after`). Rare (the acceptor's back-off), so a sorted array is enough. */
interface Timer {
  at: number;
  fn: () => void;
}

/** One epoll loop. Owned by one thread; every method must be called on that thread. */
// #region reactor
export class Reactor implements FlushScheduler {
  readonly epfd: number;
  readonly stats: ReactorStats = { connections: 0, accepted: 0, bytesIn: 0, bytesOut: 0 };
  readonly mode: ReactorMode;

  private readonly protocol: Protocol;
  private readonly headerTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  /** EPOLLET in every connection's registration, or 0 (level-triggered). */
  private readonly edge: number;
  /** Read until the socket is empty on each event (only `et`); otherwise read once. */
  private readonly drainReads: boolean;

  /** Per-fd state, indexed by fd (ae.c's `events[]`). */
  private readonly conns: Array<Conn | undefined> = [];
  private readonly watchers: Array<((events: number) => void) | undefined> = [];
  /** Every open connection, densely, for the timeout sweep and shutdown. */
  private readonly live: Conn[] = [];
  /** Connections with output queued since the last flush. */
  private readonly dirty: Conn[] = [];
  /** fds to close(2) at the end of this turn. */
  private readonly closing: number[] = [];
  /** The connections `flushDirty` sends in one batch, and their chunks. */
  private readonly batch = new SendBatch();
  /** The batch's way into the kernel: a send ring (opened at the first batch) or a plain one. */
  private sendRing: sys.SendRing | undefined;
  private readonly timers: Timer[] = [];

  /** epoll_wait's output: (events, fd) pairs. Allocated once. */
  private readonly events: Int32Array;
  private readonly maxEvents: number;
  /** One read buffer for every connection: sessions copy what they keep. */
  private readonly readBuffer = Buffer.allocUnsafe(64 * 1024);

  /** Time of this turn (Date.now, read once per turn). */
  private now = Date.now();
  /** Deadlines are checked by a sweep every `sweepMs`, not by a timer per connection; see `expire`. */
  private readonly sweepMs: number;
  private nextSweep = 0;
  private draining = false;
  /** The thread that created this reactor: the only one that may call it. */
  private readonly affinity = new ThreadAffinity('Reactor');

  constructor(opts: ReactorOptions) {
    this.protocol = opts.protocol;
    this.mode = opts.mode ?? 'lt';
    this.headerTimeoutMs = positive(opts.headerTimeoutMs ?? 10_000, 'headerTimeoutMs');
    this.idleTimeoutMs = positive(opts.idleTimeoutMs ?? 60_000, 'idleTimeoutMs');
    this.highWaterMark = positive(opts.highWaterMark ?? 1024 * 1024, 'highWaterMark');
    this.lowWaterMark = this.highWaterMark >>> 1;
    this.maxEvents = positive(opts.maxEvents ?? 1024, 'maxEvents');
    this.events = new Int32Array(2 * this.maxEvents);
    if (this.mode !== 'lt' && this.mode !== 'et' && this.mode !== 'et-nodrain') throw new RangeError(`mode must be lt, et or et-nodrain, got ${String(this.mode)}`);
    this.edge = this.mode === 'lt' ? 0 : EPOLLET;
    const sendBatch = opts.sendBatch ?? 'calls';
    if (!SEND_BATCH_MODES.includes(sendBatch)) throw new RangeError(`sendBatch must be uring or calls, got ${String(sendBatch)}`);
    if (sendBatch === 'calls') this.sendRing = sys.SendRing.plain();
    this.drainReads = this.mode === 'et';
    // A timeout fires at most one sweep late: a tenth of the shorter timeout, within 10 ms..1 s.
    this.sweepMs = Math.min(1000, Math.max(10, Math.floor(Math.min(this.headerTimeoutMs, this.idleTimeoutMs) / 10)));
    this.epfd = sys.check(sys.epoll_create1(C.EPOLL_CLOEXEC), 'epoll_create1');
  }

  // --- the loop ------------------------------------------------------------------------------

  /**
   * One turn: epoll_wait (timeout = min(maxWaitMs, next deadline); -1 = no limit) → dispatch
   * events → expire deadlines → flush pending output → close what ended. Returns the number of
   * events (0 on timeout or when a signal interrupted the wait).
   */
  // #region run-once
  runOnce(maxWaitMs: number): number {
    this.affinity.check('runOnce');
    const timeout = this.dirty.length > 0 ? 0 : this.waitTime(maxWaitMs);
    const n = sys.epoll_wait(this.epfd, this.events, this.maxEvents, timeout);
    if (n < 0 && n !== -C.EINTR) sys.check(n, 'epoll_wait'); // EINTR: a signal; the caller looks at it
    this.now = Date.now();
    const events = this.events;
    for (let i = 0; i < n; i++) this.dispatch(events[2 * i]!, events[2 * i + 1]!);
    this.expire();
    this.flushDirty();
    this.closeFds();
    return n > 0 ? n : 0;
  }
  // #endregion run-once

  /** One ready fd: a connection, or a watched fd. */
  // #region dispatch
  private dispatch(events: number, fd: number): void {
    const c = this.conns[fd];
    if (c === undefined) {
      this.watchers[fd]?.(events); // undefined too for a connection closed earlier in this batch
      return;
    }
    // Lingering (our FIN is sent): discard what arrives until the client's FIN, which, both
    // sides now shut, comes as EPOLLHUP. Read to it even then, or unread bytes make close an RST.
    if (c.lingering) {
      if (!c.sink.lingerRead(this.readBuffer)) this.closeConn(c);
      return;
    }
    // A reset or an error: nothing more can be read or sent. (A FIN alone is EPOLLRDHUP: the
    // peer may still want the answer to what it sent, so that is read like data.)
    if ((events & (EPOLLERR | EPOLLHUP)) !== 0) return this.closeConn(c);
    if ((events & EPOLLOUT) !== 0) {
      this.flushConn(c, true); // the socket has room again: send what waited
      if (c.closed) return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP)) !== 0) this.readConn(c, (events & EPOLLRDHUP) !== 0);
  }
  // #endregion dispatch

  /**
   * Read what the peer sent and feed it to the session. The three modes differ only here:
   *
   *  lt          one read per event. If more is waiting, epoll_wait reports the fd again.
   *  et          read until the socket is empty: epoll reports an *edge* (new data arrived),
   *              not a level, so bytes left behind would never be reported again.
   *  et-nodrain  the classic bug: edge-triggered, but one read per event as in lt. A request
   *              bigger than one read leaves its tail in the socket, and nothing wakes us for it.
   */
  // #region read-conn
  private readConn(c: Conn, peerSentFin: boolean): void {
    if (!this.wantsInput(c)) {
      c.rearm = this.edge !== 0; // paused or done reading: in ET this edge is lost, so re-arm on resuming
      return;
    }
    const buf = this.readBuffer;
    for (;;) {
      const n = sys.read(c.fd, buf, 0, buf.length);
      if (n > 0) {
        this.stats.bytesIn += n;
        const before = c.sink.totalQueued;
        guardedReceive(c, c.protocol, buf.subarray(0, n));
        this.touch(c, c.sink.totalQueued !== before);
        if (!this.drainReads) break; // lt, et-nodrain: one read per event
        // et: a short read emptied the socket (epoll(7)) — unless a FIN came with this edge:
        // then read on to the 0 that reports it, as no later edge will.
        if (n < buf.length && !peerSentFin) break;
        if (c.sink.pendingBytes > this.highWaterMark) c.paused = true;
        if (!this.wantsInput(c)) {
          c.rearm = true; // et: bytes may be left; epoll_ctl(MOD) on resuming reports them again
          break;
        }
      } else if (n === 0) {
        c.eof = true; // the peer sent FIN: answer what it asked, then close
        guardedPeerClosed(c, c.protocol);
        break;
      } else if (n === -C.EAGAIN) {
        break; // empty: wait for the next event
      } else if (n !== -C.EINTR) {
        return this.closeConn(c); // ECONNRESET and friends
      }
    }
    // With output queued the flush at the end of this turn updates the registration; otherwise
    // do it now (in LT, a peer at EOF must stop being reported as readable, or we spin).
    if (!c.sink.flushScheduled && !c.closed) this.updateInterest(c);
  }
  // #endregion read-conn

  /**
   * Send what `c` has queued (if `tryWrite`; false when EPOLLOUT is armed, i.e. the kernel said
   * the socket is full), then decide: close, pause or resume reading, arm or disarm EPOLLOUT.
   */
  private flushConn(c: Conn, tryWrite: boolean): void {
    const sink = c.sink;
    if (tryWrite && sink.pendingBytes > 0) {
      const n = sink.flush();
      if (n < 0) return this.closeConn(c); // EPIPE, ECONNRESET: the peer is gone
      if (n > 0) {
        this.stats.bytesOut += n;
        this.touch(c, true);
      }
    }
    this.afterWrite(c);
  }

  /** After a write (or none): close, pause or resume reading, arm or disarm EPOLLOUT. */
  private afterWrite(c: Conn): void {
    const sink = c.sink;
    // Room again: a session that held pipelined requests back answers more. That put the
    // connection back on the dirty list, and its flush, later this turn, decides the rest (here,
    // EPOLLOUT would be armed for output the socket may well take at once).
    if (sink.pendingBytes <= this.lowWaterMark) {
      guardedDrained(c, c.protocol);
      if (sink.flushScheduled) return;
    }
    if (sink.pendingBytes === 0) {
      // Nothing left to send: close if the peer left or we shut down with nothing in flight.
      const inFlight = busy(c.session);
      if ((c.eof && (sink.ended || !inFlight)) || (this.draining && !inFlight)) return this.closeConn(c);
      // The session ended (an error answer, Connection: close) while the client may still be
      // sending: close lingering, or its unread input would turn our FIN into an RST.
      if (sink.ended) return this.startLingering(c);
    }
    // Back-pressure, with hysteresis so that we do not flip on every write.
    if (sink.pendingBytes > this.highWaterMark) c.paused = true;
    else if (sink.pendingBytes <= this.lowWaterMark) c.paused = false;
    this.updateInterest(c);
  }

  /** Register exactly what `c` waits for: input unless paused or done, output while any is queued. */
  // #region update-interest
  private updateInterest(c: Conn): void {
    const reading = this.wantsInput(c);
    const want = (reading ? EPOLLIN | EPOLLRDHUP : 0) | (c.sink.pendingBytes > 0 ? EPOLLOUT : 0) | this.edge;
    if (want === c.interest && !(c.rearm && reading)) return;
    // In ET, MOD re-arms: the kernel polls the fd again (ep_modify), and if it is readable now,
    // epoll reports it. That is how a paused connection resumes without a new edge.
    if (sys.epoll_ctl(this.epfd, EPOLL_CTL_MOD, c.fd, want) < 0) return this.closeConn(c);
    c.interest = want;
    if (reading) c.rearm = false;
  }
  // #endregion update-interest

  /**
   * Lingering close: FIN after the answer (shutdown SHUT_WR), then read and discard until the
   * client closes its side or LINGER_MS passes (the deadline sweep closes it). The session is
   * done: it is closed now, and the connection waits for input only.
   */
  // #region start-lingering
  private startLingering(c: Conn): void {
    if (!c.sink.lingerStart()) return this.closeConn(c); // already reset: nothing to wait for
    c.lingering = true;
    guardedClose(c);
    c.deadline = this.now + LINGER_MS;
    const want = EPOLLIN | EPOLLRDHUP | this.edge;
    if (want === c.interest && !c.rearm) return;
    // ET: MOD re-arms, so input that arrived while we were answering is reported again.
    if (sys.epoll_ctl(this.epfd, EPOLL_CTL_MOD, c.fd, want) < 0) return this.closeConn(c);
    c.interest = want;
    c.rearm = false;
  }
  // #endregion start-lingering

  private wantsInput(c: Conn): boolean {
    // While shutting down, only a request already begun is read to its end.
    return !c.paused && !c.session.paused && !c.eof && !c.sink.ended && (!this.draining || busy(c.session));
  }

  // --- output scheduling ---------------------------------------------------------------------

  /** FlushScheduler: a sink got output; flush it before the next epoll_wait. */
  scheduleFlush(sink: NonBlockingSink): void {
    this.affinity.check('scheduleFlush');
    const c = this.conns[sink.fd];
    if (c !== undefined && c.sink === sink) this.dirty.push(c);
  }

  // #region flush-dirty
  /**
   * Write every connection that got output this turn. Those whose output is one byte chunk (a
   * response, a WebSocket frame — every receiver of a broadcast) are sent together in one call
   * into the addon (`sendBatch`); the others one by one (writev, sendfile). A connection armed
   * for EPOLLOUT is not written: the kernel said its socket is full. Output queued meanwhile (a
   * session that answers more once drained) puts a connection back on the list: round again.
   */
  private flushDirty(): void {
    const dirty = this.dirty;
    for (let i = 0; i < dirty.length; ) {
      const end = dirty.length;
      for (; i < end; i++) {
        const c = dirty[i]!;
        c.sink.flushScheduled = false;
        if (c.closed) continue;
        const armed = (c.interest & EPOLLOUT) !== 0;
        const chunk = armed ? null : c.sink.soleChunk();
        if (chunk === null) {
          this.flushConn(c, !armed);
          this.afterFlush(c);
        } else {
          this.batch.add(c, chunk);
        }
      }
      if (this.batch.size > 0) this.sendBatch();
    }
    dirty.length = 0;
  }

  /** The batch's sends, all in one call (and one submission), then each connection's decisions. */
  // #region send-batch
  private sendBatch(): void {
    const b = this.batch;
    const k = b.size;
    (this.sendRing ??= openSendRing()).send(b.fds, b.bufs, k, b.results);
    b.size = 0;
    for (let j = 0; j < k; j++) {
      const c = b.conns[j]!;
      const n = b.results[j]!;
      b.release(j);
      if (c.closed) continue; // closed by a hook that ran after it joined the batch: nothing to account
      if (n > 0) {
        c.sink.sent(n);
        this.stats.bytesOut += n;
        this.touch(c, true);
      } else if (n < 0 && n !== -C.EAGAIN && n !== -C.EINTR) {
        this.closeConn(c); // EPIPE, ECONNRESET: the peer is gone
        continue;
      }
      this.afterWrite(c); // a short write or EAGAIN: the rest stays queued, EPOLLOUT armed
      this.afterFlush(c);
    }
  }
  // #endregion send-batch

  private afterFlush(c: Conn): void {
    if (!c.closed && !c.lingering) this.takeSoonerDeadline(c);
  }
  // #endregion flush-dirty

  /**
   * Output queued outside a read of this connection (a push from another connection's hook, a
   * close the server began) may come with a session deadline of its own that moved sooner: a
   * WebSocket's close wait. `touch` runs on input and on bytes sent, and a peer that reads
   * nothing gives neither, so take it up here, or that peer would never meet it.
   */
  private takeSoonerDeadline(c: Conn): void {
    const own = c.session.deadline ?? 0;
    if (own > 0 && own < c.deadline) c.deadline = own;
  }

  // --- deadlines -----------------------------------------------------------------------------

  /**
   * Each connection has one deadline, a number set on activity: no heap, no timer object per
   * request. A sweep every `sweepMs` closes those past due (Redis' clientsCron does the same),
   * so a timeout fires up to one sweep late, and a turn costs nothing extra.
   *
   *  - nothing in flight: the idle timeout, restarted by any activity;
   *  - a request begun (midRequest): the header timeout, started when the request began and
   *    restarted only by progress (an answer queued or sent), so a client dribbling one byte at
   *    a time cannot keep extending it (slowloris);
   *  - an answer owed and still being computed (awaiting, step 06's tasks): no deadline — the
   *    client is waiting for us, not the other way round. The answer's flush sets one again;
   *  - a session that keeps its own time (`session.deadline`, a WebSocket's heartbeat or close
   *    wait): that deadline instead of ours, and at it `session.timeout` rather than a close.
   */
  // #region touch
  private touch(c: Conn, progressed: boolean): void {
    if (c.lingering) return; // its deadline is the linger time, whatever arrives
    const own = c.session.deadline ?? 0;
    if (own > 0) {
      c.deadline = own;
    } else if (!c.session.midRequest) {
      c.headerClock = false;
      c.deadline = c.session.awaiting ? Infinity : this.now + this.idleTimeoutMs;
    } else if (progressed || !c.headerClock) {
      c.headerClock = true;
      c.deadline = this.now + this.headerTimeoutMs;
    }
  }
  // #endregion touch

  // #region expire
  private expire(): void {
    const now = this.now;
    if (now >= this.nextSweep) {
      this.nextSweep = now + this.sweepMs;
      // Backwards: closeConn moves the last connection into the freed slot, already visited.
      for (let i = this.live.length - 1; i >= 0; i--) {
        const c = this.live[i]!;
        if (c.deadline > now) continue;
        // A session with its own deadline acts (a ping) or asks to be cut; ours just close.
        if ((c.session.deadline ?? 0) > 0 && !guardedTimeout(c, this.protocol, now)) this.touch(c, false);
        else this.closeConn(c);
      }
    }
    while (this.timers.length > 0 && this.timers[0]!.at <= now) this.timers.shift()!.fn();
  }
  // #endregion expire

  /** How long epoll_wait may sleep: until the next sweep (if any connection is open) or timer. */
  private waitTime(maxWaitMs: number): number {
    let due = Infinity;
    if (this.live.length > 0) due = this.nextSweep;
    if (this.timers.length > 0) due = Math.min(due, this.timers[0]!.at);
    if (due === Infinity) return maxWaitMs;
    const ms = Math.max(0, Math.ceil(due - Date.now()));
    return maxWaitMs < 0 ? ms : Math.min(ms, maxWaitMs);
  }

  /** Run `fn` on this thread once `delayMs` have passed (checked once per turn). */
  after(delayMs: number, fn: () => void): void {
    this.affinity.check('after');
    const at = Date.now() + delayMs;
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1]!.at > at) i--;
    this.timers.splice(i, 0, { at, fn });
  }

  // --- connections ---------------------------------------------------------------------------

  /**
   * Take ownership of a connected non-blocking socket: register it, open a protocol session —
   * of the reactor's protocol, or of `protocol` (a client connection brings its own: packages/client).
   */
  adopt(fd: number, peer?: PeerInfo, protocol: Protocol = this.protocol): void {
    this.affinity.check('adopt');
    if (this.conns[fd] !== undefined || this.watchers[fd] !== undefined) throw new Error(`reactor: fd ${fd} adopted twice (state must be dropped before close)`);
    // TCP_NODELAY: send a response at once rather than wait for the ACK of the previous packet
    // (Nagle's algorithm; with delayed ACKs that wait can be 40 ms).
    sys.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
    const c = new Conn(fd, new NonBlockingSink(fd, this), peer, protocol);
    c.interest = EPOLLIN | EPOLLRDHUP | this.edge;
    if (sys.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, c.interest) < 0) {
      sys.close(fd); // ENOMEM, ENOSPC (max_user_watches): refuse this one connection
      return;
    }
    this.conns[fd] = c; // before open(): a protocol may greet, and its output must find the connection
    c.slot = this.live.length;
    this.live.push(c);
    this.stats.accepted++;
    this.stats.connections = this.live.length;
    c.deadline = Date.now() + this.idleTimeoutMs;
    const session = guardedOpen(c, protocol);
    if (session === undefined) {
      c.session = RETIRED;
      return this.closeConn(c); // the protocol could not open a session (logged)
    }
    c.session = session;
    // A session mid-request from the start (auto's sniffer, undecided until the first bytes)
    // gets the header timeout now: a client that connects and says nothing is cut at it.
    if (session.midRequest) this.touch(c, true);
  }

  /**
   * End a connection now: the session and sink let go first, then the per-fd state is dropped,
   * and the fd itself is closed at the end of the turn — a later event in the same epoll_wait
   * batch may still name this fd, and must not find a new connection that reused the number.
   */
  // #region close-conn
  private closeConn(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    guardedClose(c);
    c.sink.dispose(); // closes files never sent
    this.conns[c.fd] = undefined;
    const last = this.live.pop()!;
    if (last !== c) {
      this.live[c.slot] = last;
      last.slot = c.slot;
    }
    this.stats.connections = this.live.length;
    // close(2) also removes the fd from the epoll set — because no other descriptor refers to
    // the same open file: epoll watches the open file, and drops it only when its last
    // reference is closed (epoll(7), "Will closing a file descriptor cause it to be removed").
    this.closing.push(c.fd);
  }

  private closeFds(): void {
    for (const fd of this.closing) sys.close(fd);
    this.closing.length = 0;
  }
  // #endregion close-conn

  // --- other fds -----------------------------------------------------------------------------

  /**
   * Watch another fd (a listening socket, an eventfd): `onReady(events)` runs on this thread
   * when epoll reports it, level-triggered unless `edgeTriggered`. The caller still owns `fd`.
   * `events` is what to wait for: EPOLLIN, or EPOLLOUT for a connect in progress (packages/client).
   */
  watch(fd: number, onReady: (events: number) => void, edgeTriggered = false, events = EPOLLIN): void {
    this.affinity.check('watch');
    if (this.conns[fd] !== undefined || this.watchers[fd] !== undefined) throw new Error(`reactor: fd ${fd} is already registered`);
    sys.check(sys.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, events | (edgeTriggered ? EPOLLET : 0)), 'epoll_ctl', `ADD ${fd}`);
    this.watchers[fd] = onReady;
  }

  /** Stop watching `fd` (it stays open: the caller owns it). */
  unwatch(fd: number): void {
    this.affinity.check('unwatch');
    if (this.watchers[fd] === undefined) return;
    this.watchers[fd] = undefined;
    sys.epoll_ctl(this.epfd, EPOLL_CTL_DEL, fd, 0);
  }

  // --- shutdown ------------------------------------------------------------------------------

  /**
   * Graceful shutdown step: stop reading new requests, close idle keep-alive connections now,
   * keep sending in-flight output (a request already begun is still read and answered). Returns
   * true once no connection remains. Call repeatedly between runOnce turns.
   */
  drain(): boolean {
    this.affinity.check('drain');
    this.draining = true;
    for (let i = this.live.length - 1; i >= 0; i--) {
      const c = this.live[i]!;
      if (c.sink.pendingBytes === 0 && !busy(c.session)) this.closeConn(c);
      else this.updateInterest(c);
    }
    this.closeFds();
    return this.live.length === 0;
  }

  /** Close every connection and the epoll fd. Watched fds stay open (their owners close them). */
  close(): void {
    this.affinity.check('close');
    for (let i = this.live.length - 1; i >= 0; i--) this.closeConn(this.live[i]!);
    this.closeFds();
    this.watchers.length = 0;
    this.timers.length = 0;
    this.sendRing?.close();
    sys.close(this.epfd);
  }
}
// #endregion reactor

/** A send ring for this thread, or a plain one (send(2)s) where io_uring is refused. */
function openSendRing(): sys.SendRing {
  const ring = sys.SendRing.open();
  return typeof ring === 'string' ? sys.SendRing.plain() : ring;
}

/**
 * What `sendBatch: mode` will do in this process, for the start-up banner: `mode`, or `calls`
 * when io_uring is refused here, which `pkg` then says in one log line with the reason. Opens
 * and closes a ring to find out.
 */
export function sendBatchInUse(pkg: string, mode: SendBatchMode): SendBatchMode {
  if (mode === 'calls') return mode;
  const ring = sys.SendRing.open();
  if (typeof ring !== 'string') {
    ring.close();
    return mode;
  }
  log(`${pkg}: --send-batch uring: ${ring}; sending with send(2)`);
  return 'calls';
}

/**
 * The arguments of one batch of sends (`sys.sendEach`'s), reused every turn: parallel arrays of
 * connections, their fds and their chunks, and the results. They grow to the largest batch
 * seen. Reactor-owned.
 */
class SendBatch {
  conns: Array<Conn | undefined> = [];
  bufs: Uint8Array[] = [];
  fds = new Int32Array(64);
  results = new Int32Array(64);
  /** Entries added since the last send. */
  size = 0;

  /** Add `c` and its `chunk`. */
  add(c: Conn, chunk: Uint8Array): void {
    const k = this.size++;
    if (k === this.fds.length) {
      const fds = new Int32Array(2 * k);
      fds.set(this.fds);
      this.fds = fds;
      this.results = new Int32Array(2 * k);
    }
    this.conns[k] = c;
    this.bufs[k] = chunk;
    this.fds[k] = c.fd;
  }

  /** Drop index `j`'s references once sent: a closed connection must not be kept alive here. */
  release(j: number): void {
    this.conns[j] = undefined;
    this.bufs[j] = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}

/** A request is arriving or an answer is owed: the connection is in use, not idle. */
function busy(session: Session): boolean {
  return session.midRequest || session.awaiting;
}
