/**
 * The load engine: a reactor whose connections are clients. It is step 05's loop seen from the
 * other side of the socket — one thread, one epoll set, every connection non-blocking:
 *
 *   open      N sockets, connect() each without blocking (EINPROGRESS → EPOLLOUT → SO_ERROR)
 *   loop      epoll_wait   until a socket is ready, a request falls due, or the run ends
 *             dispatch     connected → send; readable → read → parse → count and time each
 *                          response → send the next burst (closed loop)
 *             pace         open loop: send every request that fell due
 *             sweep        every 100 ms: time out requests the server sat on; retry failed connects
 *   report    requests, errors, an HdrHistogram of latencies, and the engine's own CPU time
 *
 * It must be cheaper per request than the servers it measures, or it measures itself. So the hot
 * path allocates nothing: one read buffer for every connection, requests encoded once (a burst of
 * K is K copies in one buffer, sent with one write), responses framed by a parser that compares
 * bytes and skips bodies without copying, per-connection state in fixed arrays, and the clock read
 * once per read rather than once per response (a read's responses all arrived by then). It does not use the Reactor class itself: that
 * loop pays for what a server needs (per-connection output queues, deadlines per request,
 * back-pressure) on every request, and a load generator needs none of it. The client connections
 * that do run on the Reactor are in http-client.ts.
 *
 * Threads: `runLoad` blocks the calling thread for the whole run (its event loop does not turn);
 * run it in a worker (`runLoadInWorker`) to keep a main thread responsive.
 */
import * as sys from '@course/syscalls';
import { ResponseParser, encodeRequest, type ParsedResponse, type ResponseHandler } from '@course/protocol';
import type { LoadResult as BenchLoadResult } from '@course/testkit';
import * as hdr from 'hdr-histogram-js';
import { threadCpuMs } from './cpu.js';
import { SlotTable } from './slot-table.js';
import { Schedule } from './schedule.js';

const { C } = sys;
const { EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP, EPOLL_CTL_ADD, EPOLL_CTL_MOD } = C;

/** What to load, how hard, for how long. Only ever point it at 127.0.0.1 or another local address. */
export interface LoadOptions {
  /** An IP literal. */
  host: string;
  port: number;
  /** The request-target. Default `/`. */
  path?: string;
  /** Connections open at once (in churn mode: connections in progress at once). */
  connections: number;
  /** Requests in flight per connection: a burst of `depth` pipelined requests. Default 1. */
  depth?: number;
  /** Closed loop, depth > 1: `burst` (default: the next burst when all are answered) or `in-flight` (a new request per answer). */
  pipelining?: 'burst' | 'in-flight';
  durationMs: number;
  /** A new connection per request (`Connection: close`), instead of keep-alive. */
  churn?: boolean;
  /** Open loop: requests per second over all connections, timed from when each was due. 0: closed loop. */
  rate?: number;
  /** A request unanswered for this long is an error (a timeout), and its connection is replaced. Default 2000. */
  timeoutMs?: number;
}

/** What a run measured. */
export interface LoadResult {
  /** Responses received before the end, any status. */
  requests: number;
  /** Failed requests and connects: refused, reset, invalid responses, timeouts. */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Connections established. */
  connects: number;
  /** Errors by errno name (`ECONNREFUSED`), or `EOF` (closed with requests in flight), `EPROTO` (invalid response), `ETIMEDOUT`. */
  errorCodes: Record<string, number>;
  /** Measured length of the run. */
  durationMs: number;
  /** Latency of every response, in microseconds. Closed loop: from the send; open loop: from when it was due. */
  histogram: hdr.Histogram;
  /** CPU time the engine's thread used during the run. */
  cpuMs: number;
  /** The open loop's rate, or null for a closed loop. */
  offeredRate: number | null;
}

/** Latencies are recorded in µs up to a minute; a longer one is recorded as a minute. */
const MAX_LATENCY_US = 60_000_000;
const SWEEP_MS = 100;
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

/** One load connection slot. Owned by the engine; reused for every connection the slot opens. */
class Slot implements ResponseHandler {
  fd = -1;
  state = CLOSED;
  /** When the current connect started (for the connect timeout). */
  since = 0;
  /** A short write: bytes `[outFrom, outTo)` of `out` still to send, with EPOLLOUT armed. */
  out: Buffer | null = null;
  outFrom = 0;
  outTo = 0;
  /** The server said it closes: wait for its FIN (from `since` on), then reopen. */
  closing = false;
  /** The bytes were not a valid response: replace the connection once the parser returns. */
  broken = false;
  /** A connect failed: do not retry before this time (no spinning on a refused port). */
  retryAt = 0;
  readonly parser: ResponseParser;

  constructor(
    private readonly engine: Engine,
    readonly schedule: Schedule,
  ) {
    this.parser = new ResponseParser(this);
  }

  onResponse(res: ParsedResponse): void {
    this.engine.response(this, res.status, res.keepAlive);
  }

  onError(): void {
    this.broken = true; // acted on after push() returns: the parser must not be reset under itself
  }
}

class Engine {
  private readonly epfd: number;
  private readonly events: Int32Array;
  private readonly maxEvents = 1024;
  private readonly slots: Slot[] = [];
  /** Connections by fd; their fds closed at the end of the turn (see `closeSlot`). */
  private readonly slotsByFd = new SlotTable<Slot>();
  /** One read buffer for every connection: the parser copies nothing out of it. */
  private readonly readBuffer = Buffer.allocUnsafe(256 * 1024);
  /** `depth` copies of the request, back to back: any burst of n is its first n × requestLength bytes. */
  private readonly burst: Buffer;
  private readonly requestLength: number;
  private readonly churn: boolean;
  private readonly openLoop: boolean;
  private readonly timeoutMs: number;
  private readonly histogram: hdr.Histogram;
  private now = 0;
  private end = 0;
  private nextSweep = 0;
  private readonly result: Omit<LoadResult, 'histogram' | 'cpuMs' | 'durationMs' | 'offeredRate'> = {
    requests: 0, errors: 0, timeouts: 0, non2xx: 0, connects: 0, errorCodes: {},
  };

  constructor(private readonly opts: LoadOptions) {
    const depth = opts.depth ?? 1;
    this.churn = opts.churn ?? false;
    if (this.churn && depth !== 1) throw new RangeError('churn sends one request per connection: depth must be 1');
    if (!Number.isInteger(opts.connections) || opts.connections < 1) throw new RangeError(`connections must be a positive integer, got ${opts.connections}`);
    if (!(opts.durationMs > 0)) throw new RangeError(`durationMs must be positive, got ${opts.durationMs}`);
    const rate = opts.rate ?? 0;
    if (!(rate >= 0) || !Number.isFinite(rate)) throw new RangeError(`rate must be 0 (closed loop) or a positive number, got ${rate}`);
    this.openLoop = rate > 0;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    const request = encodeRequest({ target: opts.path ?? '/', host: sys.formatHostPort(opts.host, opts.port), close: this.churn });
    this.requestLength = request.length;
    this.burst = Buffer.concat(Array.from({ length: depth }, () => request));
    this.histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_LATENCY_US, numberOfSignificantValueDigits: 3 });
    this.epfd = sys.check(sys.epoll_create1(C.EPOLL_CLOEXEC), 'epoll_create1');
    this.events = new Int32Array(2 * this.maxEvents);
    // Open loop: each connection carries rate / N requests a second, the connections staggered
    // evenly across one interval so that the requests do not leave in lockstep.
    const intervalMs = this.openLoop ? (opts.connections * 1000) / rate : 0;
    for (let i = 0; i < opts.connections; i++) {
      this.slots.push(new Slot(this, new Schedule({ depth, intervalMs, firstDueMs: (i * intervalMs) / opts.connections, refill: opts.pipelining ?? 'burst' })));
    }
  }

  // --- the loop ------------------------------------------------------------------------------

  // #region the-loop
  run(): LoadResult {
    const cpu0 = threadCpuMs();
    const start = performance.now();
    this.now = start;
    this.end = start + this.opts.durationMs;
    this.nextSweep = start + SWEEP_MS;
    for (const s of this.slots) {
      s.schedule.begin(start);
      if (!this.churn || !this.openLoop) this.open(s);
    }
    const events = this.events;
    while (this.now < this.end) {
      const n = sys.epoll_wait(this.epfd, events, this.maxEvents, this.waitTime());
      if (n < 0 && n !== -C.EINTR) sys.check(n, 'epoll_wait');
      this.now = performance.now();
      for (let i = 0; i < n; i++) this.dispatch(events[2 * i]!, events[2 * i + 1]!);
      if (this.openLoop) this.pace();
      if (this.now >= this.nextSweep) this.sweep();
      this.slotsByFd.flush();
    }
    const durationMs = performance.now() - start;
    const cpuMs = threadCpuMs() - cpu0;
    for (const s of this.slots) this.closeSlot(s); // requests still in flight are abandoned, not counted
    this.slotsByFd.flush();
    sys.close(this.epfd);
    return { ...this.result, durationMs, cpuMs, histogram: this.histogram, offeredRate: this.openLoop ? this.opts.rate! : null };
  }
  // #endregion the-loop

  /** Sleep until the next sweep, the end, or (open loop) the next request due. */
  private waitTime(): number {
    let until = Math.min(this.nextSweep, this.end);
    if (this.openLoop) {
      for (const s of this.slots) {
        const wake = this.churn && s.state !== CLOSED ? Infinity : s.schedule.nextWake();
        if (wake < until) until = wake;
      }
    }
    return Math.max(0, Math.ceil(until - performance.now()));
  }

  private dispatch(events: number, fd: number): void {
    const s = this.slotsByFd.get(fd);
    if (s === undefined) return;
    if (s.state === CONNECTING) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) === 0) return;
      // Writable (or failed): the handshake is over; SO_ERROR says how it ended.
      const err = sys.getsockopt(fd, C.SOL_SOCKET, C.SO_ERROR);
      if (err === 0) return this.connected(s);
      return this.connectFailed(s, err < 0 ? -err : err);
    }
    if ((events & EPOLLOUT) !== 0 && s.out !== null) {
      this.writeRest(s);
      if (s.state !== OPEN) return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) !== 0) this.readable(s);
  }

  // #region read-and-count
  /** One read, parsed at once: the parser calls `response` for each complete answer. */
  private readable(s: Slot): void {
    const buf = this.readBuffer;
    const n = sys.read(s.fd, buf, 0, buf.length);
    if (n > 0) {
      this.now = performance.now(); // once per read: every response in it arrived by now
      s.parser.push(buf, 0, n);
      if (s.broken) {
        // Not a valid response stream: count what it lost, and replace the connection.
        this.error('EPROTO', Math.max(s.schedule.dropInFlight(), 1));
        return this.reopen(s);
      }
      if (s.state === OPEN && !s.closing) this.send(s);
    } else if (n === 0) {
      // The server's FIN. Expected after a closing answer (churn); otherwise requests were lost.
      const lost = s.schedule.dropInFlight();
      if (lost > 0 || !s.closing) this.error('EOF', Math.max(lost, 1));
      this.reopen(s);
    } else if (n !== -C.EAGAIN && n !== -C.EINTR) {
      this.error(sys.errnoName(n), Math.max(s.schedule.dropInFlight(), 1));
      this.reopen(s);
    }
  }

  /** Called by the parser, inside `readable`, for each complete response. */
  response(s: Slot, status: number, keepAlive: boolean): void {
    if (s.schedule.inFlight === 0) return s.parser.fail('a response no request asked for'); // sets `broken`
    const latencyUs = Math.round(s.schedule.answered(this.now) * 1000);
    this.histogram.recordValue(latencyUs < 1 ? 1 : latencyUs > MAX_LATENCY_US ? MAX_LATENCY_US : latencyUs);
    this.result.requests++;
    if (status < 200 || status > 299) this.result.non2xx++;
    if (!keepAlive && !s.closing) {
      s.closing = true; // the server closes: its FIN ends this connection
      s.since = this.now;
    }
  }
  // #endregion read-and-count

  // --- sending -------------------------------------------------------------------------------

  // #region send-burst
  /** Write what the schedule says is due: a burst (closed loop) or the requests due (open loop). */
  private send(s: Slot): void {
    if (s.out !== null) return; // the last write has not finished
    const n = s.schedule.due(this.now);
    if (n === 0) return;
    s.schedule.sent(n, this.now);
    this.write(s, n * this.requestLength);
  }

  private write(s: Slot, length: number): void {
    const w = sys.write(s.fd, this.burst, 0, length);
    if (w === length) return;
    if (w >= 0 || w === -C.EAGAIN || w === -C.EINTR) {
      // A short write (a full send buffer): the rest goes when the socket says EPOLLOUT.
      s.out = this.burst;
      s.outFrom = w > 0 ? w : 0;
      s.outTo = length;
      sys.epoll_ctl(this.epfd, EPOLL_CTL_MOD, s.fd, EPOLLIN | EPOLLRDHUP | EPOLLOUT);
      return;
    }
    this.error(sys.errnoName(w), Math.max(s.schedule.dropInFlight(), 1));
    this.reopen(s);
  }
  // #endregion send-burst

  private writeRest(s: Slot): void {
    const w = sys.write(s.fd, s.out!, s.outFrom, s.outTo - s.outFrom);
    if (w === -C.EAGAIN || w === -C.EINTR) return;
    if (w < 0) {
      this.error(sys.errnoName(w), Math.max(s.schedule.dropInFlight(), 1));
      return this.reopen(s);
    }
    s.outFrom += w;
    if (s.outFrom < s.outTo) return;
    s.out = null;
    sys.epoll_ctl(this.epfd, EPOLL_CTL_MOD, s.fd, EPOLLIN | EPOLLRDHUP);
  }

  /** Open loop: every connection sends what fell due (churn: opens a connection for it). */
  private pace(): void {
    for (const s of this.slots) {
      if (s.state === OPEN && !s.closing) this.send(s);
      else if (this.churn && s.state === CLOSED && s.schedule.due(this.now) > 0 && this.now >= s.retryAt) this.open(s);
    }
  }

  // --- connections ---------------------------------------------------------------------------

  // #region open-connect
  /** socket + non-blocking connect; churn counts the request as sent from here (connect included). */
  private open(s: Slot): void {
    if (this.churn) {
      if (s.schedule.due(this.now) === 0) return;
      s.schedule.sent(1, this.now);
    }
    const { host, port } = this.opts;
    const fd = sys.socket(host.includes(':') ? C.AF_INET6 : C.AF_INET, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) return this.connectFailed(s, -fd);
    s.fd = fd;
    s.since = this.now;
    s.closing = false;
    s.broken = false;
    s.parser.reset();
    this.slotsByFd.add(s);
    const r = sys.connect(fd, host, port);
    if (r === 0 || r === -C.EINPROGRESS) {
      s.state = CONNECTING;
      sys.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, EPOLLOUT); // writable: the handshake is over
      if (r === 0) this.connected(s);
    } else {
      s.state = CONNECTING;
      this.connectFailed(s, -r);
    }
  }

  private connected(s: Slot): void {
    s.state = OPEN;
    this.result.connects++;
    sys.setsockopt(s.fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1); // a request leaves at once, not after the last ACK
    sys.epoll_ctl(this.epfd, EPOLL_CTL_MOD, s.fd, EPOLLIN | EPOLLRDHUP);
    if (this.churn) this.write(s, this.requestLength); // its slot in the schedule was taken in open()
    else this.send(s);
  }
  // #endregion open-connect

  private connectFailed(s: Slot, errno: number): void {
    this.error(sys.errnoName(errno), Math.max(s.schedule.dropInFlight(), 1));
    this.closeSlot(s);
    s.retryAt = this.now + SWEEP_MS; // the sweep retries
  }

  /** Close the slot's connection and open the next one (closed loop; the open loop's pace opens churn slots). */
  private reopen(s: Slot): void {
    this.closeSlot(s);
    if (this.now >= this.end) return;
    if (!(this.churn && this.openLoop)) this.open(s);
  }

  /** Forget the slot's connection now; its fd is closed at the end of the turn (SlotTable). */
  private closeSlot(s: Slot): void {
    if (s.state === CLOSED) return;
    this.slotsByFd.forget(s);
    s.state = CLOSED;
    s.out = null;
  }

  /** Every 100 ms: time out what the server sat on, and retry connects that failed. */
  private sweep(): void {
    const now = this.now;
    this.nextSweep = now + SWEEP_MS;
    for (const s of this.slots) {
      if (s.state === CLOSED) {
        if (now >= s.retryAt && !(this.churn && this.openLoop)) this.open(s);
        continue;
      }
      const since = s.state === CONNECTING || s.closing ? Math.min(s.since, s.schedule.oldest) : s.schedule.oldest;
      if (now - since < this.timeoutMs) continue;
      if (s.closing && s.schedule.inFlight === 0) {
        this.reopen(s); // answered, but the promised close never came: no request lost
        continue;
      }
      const lost = Math.max(s.schedule.dropInFlight(), 1);
      this.result.timeouts += lost;
      this.error('ETIMEDOUT', lost);
      this.reopen(s);
    }
  }

  private error(code: string, count: number): void {
    this.result.errors += count;
    this.result.errorCodes[code] = (this.result.errorCodes[code] ?? 0) + count;
  }
}

/**
 * Run one load phase on this thread, blocking it for `durationMs`. Throws RangeError for bad
 * options and SysError if epoll itself fails; everything the server does wrong is counted instead.
 */
export function runLoad(opts: LoadOptions): LoadResult {
  return new Engine(opts).run();
}

/** The `p`th percentile of a run's latencies in ms, or null if it recorded none. */
export function percentileMs(h: hdr.Histogram, p: number): number | null {
  return h.totalCount > 0 ? h.getValueAtPercentile(p) / 1000 : null;
}

/** A run in the bench's plain numbers (testkit's LoadResult: ms percentiles), with the engine's own CPU seconds. */
export function summarize(r: LoadResult): BenchLoadResult & { engineCpuSeconds: number } {
  return {
    responses: r.requests,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    durationS: r.durationMs / 1000,
    latency: { p50: percentileMs(r.histogram, 50), p99: percentileMs(r.histogram, 99) },
    engineCpuSeconds: r.cpuMs / 1000,
  };
}
