/**
 * The proactor: one io_uring, one thread, every connection (step 07). Where step 05's reactor asks
 * "which sockets are ready?" and then makes each syscall itself, this loop hands the kernel the
 * operations themselves and is told when they are *done* (Windows IOCP, Boost.Asio's proactor,
 * liburing's examples, TigerBeetle's io module).
 *
 *   runOnce:  enter     ONE io_uring_enter: submit every request prepared since the last turn,
 *                       then sleep until at least one completes (or the next deadline is due)
 *             harvest   copy the completions (CQEs) out of the shared ring — no syscall
 *             dispatch  each completion:  accept → open a session, arm a recv
 *                                         recv   → session → output queued; arm the next recv
 *                                         send   → short? send the rest : next output, or close
 *             expire    close connections whose deadline passed; run due one-shot timers
 *             flush     for every connection with new output and none in flight, prepare its send
 *
 * Requests are named by a 32-bit token, `slot * 8 + op`: the connection's slot in `conns` and what
 * was asked. A slot is reused only after every request naming it has completed, so a completion
 * can never be mistaken for another connection's — even when the kernel has already given the fd
 * number to the next accept. (Step 05 had the same hazard, and dropped its state before close(2).)
 *
 * Reads use a provided-buffer ring: the kernel picks one of `bufferCount` buffers when bytes
 * arrive, so an idle connection holds no buffer at all (a recv armed with a buffer of its own
 * would pin 16 KiB per idle connection). Each buffer goes back to the kernel as soon as the
 * session has read it. If they all are out, a recv completes with ENOBUFS and is re-armed at the
 * end of the turn, by which time this turn's buffers are back.
 *
 * Closing is two linked requests: cancel every request on the fd, *then* close it (IOSQE_IO_HARDLINK
 * orders them even if there was nothing to cancel). A plain close(2) would not do: a pending recv
 * holds a reference to the socket, so the connection would stay open until the peer sent something.
 *
 * Threads: a Proactor belongs to the thread that created it; every method must be called there.
 */
import { openSync } from 'node:fs';
import * as sys from '@course/syscalls';
import type { PeerInfo, Protocol, Session } from '@course/protocol';
import {
  closeFile,
  Deadlines,
  guardedClose,
  guardedDrained,
  guardedOpen,
  guardedPeerClosed,
  guardedReceive,
  guardedTimeout,
  LINGER_MS,
  peerOf,
  type Deadlined,
  type GuardedConnection,
} from '@course/server-kit';
import { CompletionSink, FILE_CHUNK } from './completion-sink.js';

const { C, URING } = sys;
const { IORING_CQE_F_BUFFER, IORING_CQE_F_MORE, IORING_CQE_BUFFER_SHIFT, IOSQE_IO_HARDLINK } = URING;

/** What a request asked; the low 3 bits of its token. */
const OP_ACCEPT = 1;
const OP_RECV = 2;
const OP_SEND = 3;
const OP_READ = 4;
const OP_CANCEL = 5;
const OP_CLOSE = 6;
/** The listener's accept is not a connection's: it uses slot 0, which no connection gets. */
const ACCEPT_TOKEN = OP_ACCEPT;
const BUFFER_GROUP = 0;

export interface ProactorOptions {
  protocol: Protocol;
  /** A request that has begun must be complete within this many ms (slowloris). Default 10000. */
  headerTimeoutMs?: number;
  /** A keep-alive connection with nothing in flight is closed after this many ms. Default 60000. */
  idleTimeoutMs?: number;
  /** Stop reading from a connection whose unsent output exceeds this many bytes. Default 1 MiB. */
  highWaterMark?: number;
  /** Submission queue entries (the completion queue gets four times as many). Default 1024. */
  ringEntries?: number;
  /** Provided receive buffers (a power of two). Default 256. */
  bufferCount?: number;
  /** Bytes per receive buffer. Default 16384. */
  bufferSize?: number;
}

/** Counters, updated in place by the proactor's thread; another thread may read them only racily. */
export interface ProactorStats {
  connections: number;
  accepted: number;
  bytesIn: number;
  bytesOut: number;
  /** Receives that found every provided buffer in use (and were re-armed). */
  noBuffers: number;
}

/** Thrown by the constructor when io_uring cannot be used here; `errno` says why. */
export class UringUnavailable extends Error {
  constructor(readonly errno: number) {
    super(sys.uringUnavailableReason(errno));
    this.name = 'UringUnavailable';
  }
}

/** One connection's state. Owned by its proactor; lives in `conns[slot]` from `adopt` until its last completion. */
class Conn implements Deadlined, GuardedConnection {
  session!: Session;
  deadline = 0;
  headerClock = false;
  /** A recv is in flight. */
  receiving = false;
  /** Back-pressure: output is over the high-water mark, so no recv is armed. */
  paused = false;
  /** The peer half-closed (recv completed with 0). */
  eof = false;
  /**
   * Lingering close (as step 05, server-kit's nonblocking-sink.ts): the answer is sent and our
   * write side shut down; what still arrives is discarded until the client's FIN or LINGER_MS.
   */
  lingering = false;
  closed = false;
  /** Requests in flight that name this slot; the slot is free again at 0 once closed. */
  inflight = 0;
  /** Index in `live`, for O(1) removal. */
  liveIndex = 0;
  /** Large files are read into this, then sent (allocated on a connection's first large file). */
  fileBuffer: Buffer | undefined;

  constructor(
    readonly slot: number,
    readonly fd: number,
    readonly peer: PeerInfo | undefined,
    readonly sink: CompletionSink,
  ) {}
}

export class Proactor {
  readonly stats: ProactorStats = { connections: 0, accepted: 0, bytesIn: 0, bytesOut: 0, noBuffers: 0 };
  readonly ringEntries: number;
  readonly bufferCount: number;
  readonly bufferSize: number;

  private readonly ring: number;
  private readonly protocol: Protocol;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;

  /** Per-slot state; slot 0 is the listener's. `freeSlots` are closed slots whose last completion came. */
  private readonly conns: Array<Conn | undefined> = [undefined];
  private readonly freeSlots: number[] = [];
  /** Every open connection, densely, for the timeout sweep and shutdown. */
  private readonly live: Conn[] = [];
  /** Connections with output queued since the last flush. */
  private readonly dirty: Conn[] = [];
  /** Connections whose recv found no free buffer: re-armed at the end of the turn. */
  private readonly starved: Conn[] = [];

  /** The provided buffers, as one view of the memory the kernel writes into. */
  private readonly buffers: Uint8Array;
  /** Harvested completions: (token, res, flags) triplets. Allocated once. */
  private readonly cqes: Int32Array;
  private readonly maxCqes = 1024;

  /** The listening socket and whether its multishot accept is armed. */
  private listenFd = -1;
  private accepting = false;
  private spareFd = -1;

  private now = Date.now();
  private readonly deadlines: Deadlines;
  private draining = false;

  /** Throws UringUnavailable (with the errno) if io_uring, or a feature used here, is missing. */
  constructor(opts: ProactorOptions) {
    this.protocol = opts.protocol;
    this.highWaterMark = positive(opts.highWaterMark ?? 1024 * 1024, 'highWaterMark');
    this.lowWaterMark = this.highWaterMark >>> 1;
    this.ringEntries = positive(opts.ringEntries ?? 1024, 'ringEntries');
    this.bufferCount = positive(opts.bufferCount ?? 256, 'bufferCount');
    this.bufferSize = positive(opts.bufferSize ?? 16 * 1024, 'bufferSize');
    this.deadlines = new Deadlines(positive(opts.headerTimeoutMs ?? 10_000, 'headerTimeoutMs'), positive(opts.idleTimeoutMs ?? 60_000, 'idleTimeoutMs'));
    this.cqes = new Int32Array(3 * this.maxCqes);

    const ring = openRing(this.ringEntries);
    if (ring < 0) throw new UringUnavailable(ring);
    this.ring = ring;
    const mem = sys.uringBufRing(ring, BUFFER_GROUP, this.bufferCount, this.bufferSize); // 5.19+
    if (typeof mem === 'number') {
      sys.uringExit(ring);
      throw new UringUnavailable(mem);
    }
    this.buffers = new Uint8Array(mem);
  }

  // --- the loop ------------------------------------------------------------------------------

  /**
   * One turn: submit and wait (timeout = min(maxWaitMs, next deadline); -1 = no limit) → harvest
   * and dispatch completions → expire deadlines → prepare pending output → re-arm starved reads.
   * Returns the number of completions (0 on timeout or when a signal interrupted the wait).
   */
  // #region run-once
  runOnce(maxWaitMs: number): number {
    // Output and re-armed reads were prepared at the end of the last turn: this call submits them.
    const timeout = this.deadlines.waitTime(maxWaitMs, this.live.length > 0);
    const r = sys.uringSubmitAndWait(this.ring, timeout === 0 ? 0 : 1, timeout);
    if (r < 0 && r !== -URING.ETIME && r !== -C.EINTR && r !== -URING.EBUSY) sys.check(r, 'io_uring_enter');
    this.now = Date.now();
    let total = 0;
    const cqes = this.cqes;
    for (;;) {
      const n = sys.uringHarvest(this.ring, cqes, this.maxCqes);
      for (let i = 0; i < n; i++) this.dispatch(cqes[3 * i]! >>> 0, cqes[3 * i + 1]!, cqes[3 * i + 2]!);
      total += n;
      if (n < this.maxCqes) break; // fewer than asked: the CQ ring is empty
    }
    this.expire();
    this.flushDirty();
    this.rearmStarved();
    return total;
  }
  // #endregion run-once

  /** One completion: what it was is in the token's low bits, whose it was in the rest. */
  // #region dispatch
  private dispatch(token: number, res: number, flags: number): void {
    const op = token & 7;
    if (op === OP_ACCEPT) return this.accepted(res, flags);
    const c = this.conns[token >>> 3];
    if (c === undefined) return; // slot 0: the cancel of the listener's accept (drain)
    c.inflight--;
    switch (op) {
      case OP_RECV:
        this.received(c, res, flags);
        break;
      case OP_SEND:
        this.sent(c, res);
        break;
      case OP_READ:
        this.fileRead(c, res);
        break;
      // OP_CANCEL, OP_CLOSE: nothing to do but count them (inflight, above)
    }
    if (c.closed && c.inflight === 0) this.release(c);
  }
  // #endregion dispatch

  // --- accepting -----------------------------------------------------------------------------

  /** Start accepting on `listenFd` (the caller still owns it): one multishot accept for all connections. */
  listen(listenFd: number): void {
    this.listenFd = listenFd;
    if (this.spareFd < 0) this.spareFd = openSpare();
    this.armAccept();
  }

  private armAccept(): void {
    if (this.accepting || this.draining || this.listenFd < 0) return;
    this.prep(() => sys.uringPrepAccept(this.ring, this.listenFd, C.SOCK_CLOEXEC, true, ACCEPT_TOKEN));
    this.accepting = true;
  }

  /**
   * A connection (res is its fd) or an accept error. The multishot accept stays armed while the
   * kernel says IORING_CQE_F_MORE; an error ends it.
   */
  // #region accepted
  private accepted(res: number, flags: number): void {
    if ((flags & IORING_CQE_F_MORE) === 0) this.accepting = false;
    if (res >= 0) {
      if (this.draining) sys.close(res); // accepted just before the cancel took effect
      else this.adopt(res, peerOf(res));
      if (!this.accepting) this.armAccept();
      return;
    }
    if (res === -URING.ECANCELED) return; // we cancelled it (shutdown)
    // Out of fds: the connection stays queued. Accept it with the spare fd and close it at once,
    // so the client sees a clean close instead of hanging (muduo's trick; step 05's acceptor).
    if (res === -C.EMFILE || res === -C.ENFILE) this.shedOne();
    // An error ends a multishot accept. Re-arm after a pause, not at once: the same wall
    // (EMFILE, ENOBUFS) would be hit again, and the loop would spin.
    if (!this.accepting) this.deadlines.after(100, () => this.armAccept());
  }
  // #endregion accepted

  /** Close one queued connection with the spare fd's help; see `accepted`. */
  private shedOne(): void {
    if (this.spareFd < 0) this.spareFd = openSpare();
    if (this.spareFd < 0) return;
    closeFile(this.spareFd);
    const fd = sys.accept4(this.listenFd, C.SOCK_CLOEXEC); // the listener is non-blocking: -EAGAIN if none
    if (fd >= 0) sys.close(fd);
    this.spareFd = openSpare();
  }

  // --- connections ---------------------------------------------------------------------------

  /** Take ownership of a connected socket: a slot, a session, and a recv armed. */
  adopt(fd: number, peer?: PeerInfo): void {
    // TCP_NODELAY, as in step 05: answer at once instead of waiting for the previous packet's ACK.
    sys.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
    const slot = this.freeSlots.pop() ?? this.conns.length;
    const c: Conn = new Conn(slot, fd, peer, new CompletionSink((sink) => this.scheduleFlush(c, sink)));
    // Every call into the session goes through server-kit's guard: a session that throws ends its
    // own connection (a 500 if no answer had begun), not the loop.
    const session = guardedOpen(c, this.protocol);
    if (session === undefined) {
      this.freeSlots.push(slot);
      sys.close(fd); // no session to answer with; nothing of this connection is in the ring yet
      return;
    }
    c.session = session;
    this.conns[slot] = c;
    c.liveIndex = this.live.length;
    this.live.push(c);
    this.stats.accepted++;
    this.stats.connections = this.live.length;
    // The idle clock, or for a session mid-request from the start (auto's sniffer, undecided
    // until the first bytes) the header clock: a client that connects and says nothing is cut at it.
    this.deadlines.touch(c, this.now, true);
    this.armRecv(c);
  }

  private armRecv(c: Conn): void {
    if (c.receiving || !this.wantsInput(c)) return;
    const token = c.slot * 8 + OP_RECV;
    this.prep(() => sys.uringPrepRecv(this.ring, c.fd, BUFFER_GROUP, 0, false, token));
    c.receiving = true;
    c.inflight++;
  }

  /** A recv completed: bytes in a provided buffer, 0 at end of stream, or -errno. */
  // #region received
  private received(c: Conn, res: number, flags: number): void {
    c.receiving = false;
    if ((flags & IORING_CQE_F_BUFFER) !== 0) {
      const bid = flags >>> IORING_CQE_BUFFER_SHIFT;
      if (res > 0 && !c.closed && !c.lingering) {
        const start = bid * this.bufferSize;
        this.stats.bytesIn += res;
        const before = c.sink.totalQueued;
        guardedReceive(c, this.protocol, this.buffers.subarray(start, start + res)); // valid during this call only
        this.deadlines.touch(c, this.now, c.sink.totalQueued !== before);
      }
      sys.uringBufReturn(this.ring, BUFFER_GROUP, bid); // the session copied what it keeps
    }
    if (c.closed) return;
    if (c.lingering) {
      // Discarded. The client's FIN (0) or a reset ends it; until then, keep reading.
      if (res === -C.ENOBUFS) this.starved.push(c);
      else if (res > 0) this.armRecv(c);
      else this.closeConn(c);
      return;
    }
    if (res === 0) {
      c.eof = true; // the peer sent FIN: answer what it asked, then close
      guardedPeerClosed(c, this.protocol);
    } else if (res === -C.ENOBUFS) {
      this.stats.noBuffers++;
      this.starved.push(c); // every buffer was out; this turn gives them back
      return;
    } else if (res < 0) {
      return this.closeConn(c); // ECONNRESET and friends
    }
    // With output queued, the flush at the end of this turn settles the connection (sends, then
    // re-arms the recv); otherwise settle it now: re-arm, or close a peer that is done.
    if (!c.sink.flushScheduled) this.settle(c);
  }
  // #endregion received

  /** Prepare the next output request of `c`, if it has output and none is in flight. */
  // #region start-output
  private startOutput(c: Conn): void {
    const sink = c.sink;
    if (sink.inFlight) return;
    const next = sink.next();
    if (next === undefined) return;
    if (next.kind === 'bytes') {
      const token = c.slot * 8 + OP_SEND;
      if (next.count === 1) {
        const b = next.bufs[next.start]!;
        this.prep(() => sys.uringPrepSend(this.ring, c.fd, b, 0, b.length, URING.MSG_NOSIGNAL, token));
      } else {
        this.prep(() => sys.uringPrepWritev(this.ring, c.fd, next.bufs, next.start, next.count, token));
      }
    } else {
      c.fileBuffer ??= Buffer.allocUnsafe(FILE_CHUNK);
      const { fd, offset, length } = next;
      const buf = c.fileBuffer;
      this.prep(() => sys.uringPrepRead(this.ring, fd, buf, 0, length, offset, c.slot * 8 + OP_READ));
    }
    sink.inFlight = true;
    c.inflight++;
  }
  // #endregion start-output

  /** A send/writev completed: `res` bytes taken (maybe fewer than asked: the rest goes next), or -errno. */
  private sent(c: Conn, res: number): void {
    const sink = c.sink;
    sink.inFlight = false;
    sink.retired = undefined; // the kernel is done with the buffers of a disposed queue
    if (c.closed) return;
    if (res < 0) return this.closeConn(c); // EPIPE, ECONNRESET: the peer is gone
    sink.sent(res);
    this.stats.bytesOut += res;
    this.deadlines.touch(c, this.now, true);
    this.settle(c);
  }

  /** A file read completed: bytes in `c.fileBuffer`, to send next. 0: the file shrank under us. */
  private fileRead(c: Conn, res: number): void {
    c.sink.inFlight = false;
    if (c.closed) return;
    if (res <= 0) return this.closeConn(c); // the response cannot be completed
    c.sink.fileRead(res, c.fileBuffer!);
    this.settle(c);
  }

  /**
   * After any progress on `c`: send what is next, close if the conversation is over, pause or
   * resume reading (with hysteresis: pause above the high-water mark, resume at half of it).
   */
  // #region settle
  private settle(c: Conn): void {
    const sink = c.sink;
    this.startOutput(c);
    // Room again: a session that held pipelined requests back answers more (queued and started
    // by the flush at the end of this turn).
    if (sink.pendingBytes <= this.lowWaterMark) guardedDrained(c, this.protocol);
    if (sink.pendingBytes === 0 && !sink.inFlight) {
      const inUse = busy(c.session);
      if ((c.eof && (sink.ended || !inUse)) || (this.draining && !inUse)) return this.closeConn(c);
      // The session ended (an error answer, Connection: close) while the client may still be
      // sending: close lingering, or its unread input would turn our FIN into an RST.
      if (sink.ended) return this.startLingering(c);
    }
    if (sink.pendingBytes > this.highWaterMark) c.paused = true;
    else if (sink.pendingBytes <= this.lowWaterMark) c.paused = false;
    this.armRecv(c);
  }
  // #endregion settle

  /**
   * Lingering close: FIN after the answer (shutdown SHUT_WR, synchronous: a rare path), then
   * receive and discard until the client closes its side or LINGER_MS passes (the deadline sweep
   * closes it). The session is done: it is closed now.
   */
  private startLingering(c: Conn): void {
    if (c.lingering) return;
    if (sys.shutdown(c.fd, C.SHUT_WR) !== 0) return this.closeConn(c); // already reset: nothing to wait for
    c.lingering = true;
    guardedClose(c);
    c.deadline = this.now + LINGER_MS;
    this.armRecv(c);
  }

  private wantsInput(c: Conn): boolean {
    if (c.lingering) return !c.closed;
    // While shutting down, only a request already begun is read to its end.
    return !c.closed && !c.paused && !c.session.paused && !c.eof && !c.sink.ended && (!this.draining || busy(c.session));
  }

  // --- output scheduling ---------------------------------------------------------------------

  /** A sink got output: start it at the end of this turn, so that a burst's answers leave together. */
  private scheduleFlush(c: Conn, sink: CompletionSink): void {
    if (c.sink === sink && !c.closed) this.dirty.push(c);
  }

  private flushDirty(): void {
    const dirty = this.dirty;
    for (let i = 0; i < dirty.length; i++) {
      const c = dirty[i]!;
      c.sink.flushScheduled = false;
      if (!c.closed) this.settle(c);
    }
    dirty.length = 0;
  }

  private rearmStarved(): void {
    const starved = this.starved;
    for (let i = 0; i < starved.length; i++) this.armRecv(starved[i]!);
    starved.length = 0;
  }

  // --- deadlines (server-kit's Deadlines: one number per connection, checked by a sweep) ----

  private expire(): void {
    const now = this.now;
    if (this.deadlines.sweepDue(now)) {
      // Backwards: closeConn moves the last connection into the freed slot, already visited.
      for (let i = this.live.length - 1; i >= 0; i--) {
        const c = this.live[i]!;
        if (c.deadline > now) continue;
        // A session with its own deadline (a WebSocket's heartbeat) acts or asks to be cut.
        if (!c.lingering && (c.session.deadline ?? 0) > 0 && !guardedTimeout(c, this.protocol, now)) this.deadlines.touch(c, now, false);
        else this.closeConn(c);
      }
    }
    this.deadlines.runTimers(now);
  }

  // --- closing -------------------------------------------------------------------------------

  /**
   * End a connection: the session and sink let go now; the kernel is asked to cancel whatever is
   * still in flight on the fd and then, hard-linked so it runs after the cancel whatever its
   * result, to close it. The slot stays taken until those completions (and the cancelled ones)
   * have come back.
   */
  // #region close-conn
  private closeConn(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    guardedClose(c);
    c.sink.dispose(); // closes files never sent
    const last = this.live.pop()!;
    if (last !== c) {
      this.live[c.liveIndex] = last;
      last.liveIndex = c.liveIndex;
    }
    this.stats.connections = this.live.length;
    this.prep(() => sys.uringPrepCancelFd(this.ring, c.fd, c.slot * 8 + OP_CANCEL));
    sys.uringSetSqeFlags(this.ring, IOSQE_IO_HARDLINK);
    this.prep(() => sys.uringPrepClose(this.ring, c.fd, c.slot * 8 + OP_CLOSE));
    c.inflight += 2;
  }
  // #endregion close-conn

  /** The last completion naming `c` came: its slot may be reused. */
  private release(c: Conn): void {
    this.conns[c.slot] = undefined;
    this.freeSlots.push(c.slot);
  }

  /**
   * Prepare one request; if the submission queue is full, submit what is there first (one more
   * io_uring_enter, without waiting) and prepare again.
   */
  private prep(fill: () => number): void {
    let r = fill();
    if (r === -URING.EBUSY) {
      sys.uringSubmitAndWait(this.ring, 0, 0);
      r = fill();
    }
    if (r < 0) sys.check(r, 'io_uring prep');
  }

  // --- shutdown ------------------------------------------------------------------------------

  /**
   * Graceful shutdown step: stop accepting, stop reading new requests, close idle keep-alive
   * connections now, keep sending what is in flight. Returns true once no connection remains.
   * Call repeatedly between runOnce turns.
   */
  drain(): boolean {
    if (!this.draining) {
      this.draining = true;
      if (this.accepting) this.prep(() => sys.uringPrepCancel(this.ring, ACCEPT_TOKEN, OP_CANCEL)); // slot 0
    }
    for (let i = this.live.length - 1; i >= 0; i--) {
      const c = this.live[i]!;
      if (c.sink.pendingBytes === 0 && !c.sink.inFlight && !busy(c.session)) this.closeConn(c);
    }
    return this.live.length === 0;
  }

  /** Close every connection, wait briefly for the kernel to do it, and release the ring. */
  close(): void {
    for (let i = this.live.length - 1; i >= 0; i--) this.closeConn(this.live[i]!);
    const giveUpAt = Date.now() + 500;
    while (this.conns.some((c) => c !== undefined && c.inflight > 0) && Date.now() < giveUpAt) {
      sys.uringSubmitAndWait(this.ring, 1, 50);
      const n = sys.uringHarvest(this.ring, this.cqes, this.maxCqes);
      for (let i = 0; i < n; i++) this.dispatch(this.cqes[3 * i]! >>> 0, this.cqes[3 * i + 1]!, this.cqes[3 * i + 2]!);
    }
    if (this.spareFd >= 0) closeFile(this.spareFd);
    this.spareFd = -1;
    sys.uringExit(this.ring); // cancels anything left
  }
}

/**
 * io_uring_setup with the flags this loop wants: one thread submits and reaps (SINGLE_ISSUER), and
 * completions are run only when it enters the kernel (DEFER_TASKRUN, 6.1), so the kernel does not
 * interrupt the loop to post them. A kernel that refuses those flags gets none. A ring, or -errno.
 */
function openRing(entries: number): number {
  const flags = URING.IORING_SETUP_SUBMIT_ALL | URING.IORING_SETUP_COOP_TASKRUN | URING.IORING_SETUP_SINGLE_ISSUER | URING.IORING_SETUP_DEFER_TASKRUN;
  const ring = sys.uringSetup(entries, 4 * entries, flags);
  return ring === -C.EINVAL ? sys.uringSetup(entries, 4 * entries, 0) : ring;
}

/**
 * Whether this process can run a Proactor: 0, or the -errno its constructor would fail with
 * (a ring, and a provided-buffer ring on it). For tests and tools that must know beforehand.
 */
export function uringSupport(): number {
  const ring = openRing(8);
  if (ring < 0) return ring;
  const mem = sys.uringBufRing(ring, BUFFER_GROUP, 1, 64);
  sys.uringExit(ring);
  return typeof mem === 'number' ? mem : 0;
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}

/** A request is arriving or an answer is owed: the connection is in use, not idle. */
function busy(session: Session): boolean {
  return session.midRequest || session.awaiting;
}

/** A spare fd on /dev/null, or -1 if none is free right now. */
function openSpare(): number {
  try {
    return openSync('/dev/null', 'r');
  } catch {
    return -1;
  }
}
