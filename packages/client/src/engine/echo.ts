/**
 * The message-echo engine: the load side of the bench's `ws-echo` and `framed-echo` scenarios.
 * The same kind of loop as the request engine (loop.ts) — one thread, one epoll set, raw
 * non-blocking sockets through the addon — but its connections carry messages, not requests:
 *
 *   open      N sockets, connect() each without blocking; a WebSocket writes its upgrade and
 *             waits for the 101 (bytes behind it are frames already)
 *   loop      epoll_wait → readable → read → count whole echoes (server frames, or lines) →
 *             time each → send the next message (one in flight per connection)
 *   report    echoes, errors, an HdrHistogram of round trips, the engine's own CPU time
 *
 * Why a second engine, and not node:net sockets: a load side must cost less per message than
 * the server it measures, or the server idles while the client works, and a server that idles
 * wakes up for fewer messages per epoll_wait — it looks slower per CPU-second than it is. On
 * node:net the client spent as much CPU per echo as step 06 did. Here an echo costs one read
 * and one write, and the bytes are only looked at, never copied: the message is encoded once
 * (masked, for a WebSocket) and written again and again, and server frames are counted by their
 * headers, their payload skipped.
 *
 * Threads: `runEcho` blocks the calling thread for the whole run; `runEchoInWorker` (worker.ts)
 * runs it on a worker thread.
 */
import { randomBytes } from 'node:crypto';
import * as sys from '@course/syscalls';
import { countServerFrames, maskedFrame, type FrameState } from '@course/testkit';
import * as hdr from 'hdr-histogram-js';
import { threadCpuMs } from './cpu.js';
import { SlotTable } from './slot-table.js';

const { C } = sys;
const { EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP, EPOLL_CTL_ADD, EPOLL_CTL_MOD } = C;

/** How the messages are framed on the wire. */
export type EchoFraming = 'websocket' | 'line';

/** What to load. Only ever point it at 127.0.0.1 or another local address. */
export interface EchoOptions {
  /** An IP literal. */
  host: string;
  port: number;
  framing: EchoFraming;
  /** websocket: the upgrade's request-target. Default `/`. */
  path?: string;
  /** Connections, each with one message in flight. */
  connections: number;
  /** Payload bytes per message (line: including its `\n`). */
  payloadBytes: number;
  durationMs: number;
  /** A message unanswered (or a handshake unfinished) this long is an error, and its connection is replaced. Default 2000. */
  timeoutMs?: number;
}

/** What a run measured. */
export interface EchoResult {
  /** Echoes received during the run. */
  messages: number;
  /** Failed connects, refused upgrades, resets, closes and timeouts. */
  errors: number;
  /** Errors by errno name, or `EOF`, `EPROTO` (not an echo: a refused upgrade, a server frame where none was due), `ETIMEDOUT`. */
  errorCodes: Record<string, number>;
  /** Connections (and upgrades) completed. */
  connects: number;
  /** From the first connection ready to the end. */
  durationMs: number;
  /** Round trip of every echo, in microseconds. */
  histogram: hdr.Histogram;
  /** CPU time of the engine's thread during the run. */
  cpuMs: number;
}

const MAX_LATENCY_US = 60_000_000;
const SWEEP_MS = 100;
const CLOSED = 0;
const CONNECTING = 1;
const UPGRADING = 2;
const OPEN = 3;

/** One connection slot, reused for every connection it opens. Owned by the engine's thread. */
class Slot implements FrameState {
  fd = -1;
  state = CLOSED;
  /** When the message in flight was sent (or the connect / upgrade began). */
  since = 0;
  /** A message is in flight. */
  waiting = false;
  /** Upgrading: the response head so far (latin1). */
  head = '';
  // FrameState: where the server's frames stand (websocket).
  skip = 0;
  opcode = 0;
  hdr: Uint8Array | null = null;
  hdrLen = 0;
  retryAt = 0;
}

class EchoEngine {
  private readonly epfd: number;
  private readonly events: Int32Array;
  private readonly maxEvents = 1024;
  private readonly slots: Slot[] = [];
  /** Connections by fd; their fds closed at the end of the turn (see `closeSlot`). */
  private readonly slotsByFd = new SlotTable<Slot>();
  private readonly readBuffer = Buffer.allocUnsafe(256 * 1024);
  /** The message, encoded once (a masked frame, or a line). */
  private readonly message: Buffer;
  private readonly upgrade: Buffer | null;
  private readonly ws: boolean;
  private readonly timeoutMs: number;
  private readonly histogram: hdr.Histogram;
  private now = 0;
  private end = Infinity;
  /** The run proper has begun (opening is over): connections send. */
  private live = false;
  private nextSweep = 0;
  private readonly result = { messages: 0, errors: 0, connects: 0, errorCodes: {} as Record<string, number> };

  constructor(private readonly opts: EchoOptions) {
    if (!Number.isInteger(opts.connections) || opts.connections < 1) throw new RangeError(`connections must be a positive integer, got ${opts.connections}`);
    if (!Number.isInteger(opts.payloadBytes) || opts.payloadBytes < 1) throw new RangeError(`payloadBytes must be a positive integer, got ${opts.payloadBytes}`);
    if (!(opts.durationMs > 0)) throw new RangeError(`durationMs must be positive, got ${opts.durationMs}`);
    if (opts.framing !== 'websocket' && opts.framing !== 'line') throw new RangeError(`framing must be websocket or line, got ${String(opts.framing)}`);
    this.ws = opts.framing === 'websocket';
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.message = this.ws ? maskedFrame(0x1, 'x'.repeat(opts.payloadBytes)) : Buffer.from('x'.repeat(opts.payloadBytes - 1) + '\n', 'latin1');
    this.upgrade = this.ws
      ? Buffer.from(`GET ${opts.path ?? '/'} HTTP/1.1\r\nHost: ${sys.formatHostPort(opts.host, opts.port)}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`, 'latin1')
      : null;
    this.histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_LATENCY_US, numberOfSignificantValueDigits: 3 });
    this.epfd = sys.check(sys.epoll_create1(C.EPOLL_CLOEXEC), 'epoll_create1');
    this.events = new Int32Array(2 * this.maxEvents);
    for (let i = 0; i < opts.connections; i++) this.slots.push(new Slot());
  }

  // #region echo-loop
  run(): EchoResult {
    this.now = performance.now();
    this.nextSweep = this.now + SWEEP_MS;
    for (const s of this.slots) this.open(s);
    // Opening is not part of the run: the clock and the CPU count start once every connection
    // is ready (or has failed), and the first messages leave then, all together.
    const openBy = this.now + this.timeoutMs;
    while (this.now < openBy && this.slots.some((s) => s.state === CONNECTING || s.state === UPGRADING)) this.turn(Math.max(0, Math.ceil(openBy - this.now)));
    const cpu0 = threadCpuMs();
    const start = performance.now();
    this.now = start;
    this.end = start + this.opts.durationMs;
    this.live = true;
    for (const s of this.slots) if (s.state === OPEN) this.send(s);
    while (this.now < this.end) this.turn(Math.max(0, Math.ceil(Math.min(this.nextSweep, this.end) - performance.now())));
    const durationMs = performance.now() - start;
    const cpuMs = threadCpuMs() - cpu0;
    for (const s of this.slots) this.closeSlot(s); // messages still in flight are not counted
    this.slotsByFd.flush();
    sys.close(this.epfd);
    return { ...this.result, durationMs, cpuMs, histogram: this.histogram };
  }

  private turn(timeoutMs: number): void {
    const n = sys.epoll_wait(this.epfd, this.events, this.maxEvents, timeoutMs);
    if (n < 0 && n !== -C.EINTR) sys.check(n, 'epoll_wait');
    this.now = performance.now();
    const events = this.events;
    for (let i = 0; i < n; i++) this.dispatch(events[2 * i]!, events[2 * i + 1]!);
    if (this.now >= this.nextSweep) this.sweep();
    this.slotsByFd.flush();
  }
  // #endregion echo-loop

  private dispatch(events: number, fd: number): void {
    const s = this.slotsByFd.get(fd);
    if (s === undefined) return;
    if (s.state === CONNECTING) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) === 0) return;
      const err = sys.getsockopt(fd, C.SOL_SOCKET, C.SO_ERROR);
      if (err !== 0) return this.fail(s, sys.errnoName(-Math.abs(err)));
      return this.connected(s);
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) !== 0) this.readable(s);
  }

  // #region count-echoes
  /** One read: count the whole echoes in it, and send the next message if one came back. */
  private readable(s: Slot): void {
    const buf = this.readBuffer;
    const n = sys.read(s.fd, buf, 0, buf.length);
    if (n > 0) {
      let from = 0;
      const fresh = s.state === UPGRADING;
      if (fresh) {
        from = this.upgraded(s, buf, n);
        if (from < 0) return;
      }
      const echoes = this.ws ? countServerFrames(s, buf, from, n) : lines(buf, from, n);
      if (echoes < 0) return this.fail(s, 'EPROTO'); // the server's close frame, or an invalid header
      if (echoes === 0) {
        if (fresh && this.sending()) this.send(s); // a replacement connection, mid-run
        return;
      }
      if (!s.waiting || echoes > 1) return this.fail(s, 'EPROTO'); // more echoes than messages sent
      s.waiting = false;
      const us = Math.round((this.now - s.since) * 1000);
      this.histogram.recordValue(us < 1 ? 1 : us > MAX_LATENCY_US ? MAX_LATENCY_US : us);
      this.result.messages++;
      if (this.sending()) this.send(s);
    } else if (n === 0) {
      this.fail(s, 'EOF');
    } else if (n !== -C.EAGAIN && n !== -C.EINTR) {
      this.fail(s, sys.errnoName(n));
    }
  }

  // #endregion count-echoes

  /** Upgrading: gather the response head; returns where the frames start in `buf`, or -1 (not yet, or refused). */
  private upgraded(s: Slot, buf: Buffer, n: number): number {
    const before = s.head.length;
    s.head += buf.toString('latin1', 0, n);
    const end = s.head.indexOf('\r\n\r\n');
    if (end < 0) {
      if (s.head.length > 16 * 1024) this.fail(s, 'EPROTO');
      return -1;
    }
    if (!s.head.startsWith('HTTP/1.1 101')) {
      this.fail(s, 'EPROTO'); // the upgrade was refused
      return -1;
    }
    s.head = '';
    s.state = OPEN;
    this.result.connects++;
    return end + 4 - before;
  }

  private sending(): boolean {
    return this.live && this.now < this.end;
  }

  private send(s: Slot): void {
    const w = sys.write(s.fd, this.message, 0, this.message.length);
    if (w === this.message.length) {
      s.waiting = true;
      s.since = this.now;
      return;
    }
    // A socket buffer that cannot take one small message means the server stopped reading.
    this.fail(s, w < 0 ? sys.errnoName(w) : 'EAGAIN');
  }

  // --- connections ---------------------------------------------------------------------------

  private open(s: Slot): void {
    const { host, port } = this.opts;
    const fd = sys.socket(host.includes(':') ? C.AF_INET6 : C.AF_INET, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) {
      this.error(sys.errnoName(fd));
      s.retryAt = this.now + SWEEP_MS;
      return;
    }
    s.fd = fd;
    s.state = CONNECTING;
    s.since = this.now;
    s.waiting = false;
    s.skip = 0;
    s.hdrLen = 0;
    s.head = '';
    this.slotsByFd.add(s);
    const r = sys.connect(fd, host, port);
    if (r !== 0 && r !== -C.EINPROGRESS) return this.fail(s, sys.errnoName(r));
    sys.epoll_ctl(this.epfd, EPOLL_CTL_ADD, fd, EPOLLOUT); // writable: the handshake is over
  }

  private connected(s: Slot): void {
    sys.setsockopt(s.fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1); // a message leaves at once
    sys.epoll_ctl(this.epfd, EPOLL_CTL_MOD, s.fd, EPOLLIN | EPOLLRDHUP);
    s.since = this.now;
    if (this.upgrade === null) {
      s.state = OPEN;
      this.result.connects++;
      if (this.sending()) this.send(s); // a replacement connection, mid-run
      return;
    }
    s.state = UPGRADING;
    const w = sys.write(s.fd, this.upgrade, 0, this.upgrade.length);
    if (w !== this.upgrade.length) this.fail(s, w < 0 ? sys.errnoName(w) : 'EAGAIN');
  }

  /** Count an error on `s`, close it, and let the sweep open a new one. */
  private fail(s: Slot, code: string): void {
    this.error(code);
    this.closeSlot(s);
    s.retryAt = this.now + SWEEP_MS;
  }

  /** Forget the slot's connection now; its fd is closed at the end of the turn (SlotTable). */
  private closeSlot(s: Slot): void {
    if (s.state === CLOSED) return;
    this.slotsByFd.forget(s);
    s.state = CLOSED;
    s.waiting = false;
  }

  /** Every 100 ms: time out what the server sat on, and reopen closed slots. */
  private sweep(): void {
    const now = this.now;
    this.nextSweep = now + SWEEP_MS;
    for (const s of this.slots) {
      if (s.state === CLOSED) {
        if (now >= s.retryAt && now < this.end) this.open(s); // while opening too (end is Infinity then)
      } else if ((s.waiting || s.state !== OPEN) && now - s.since >= this.timeoutMs) {
        this.fail(s, 'ETIMEDOUT');
      }
    }
  }

  private error(code: string): void {
    this.result.errors++;
    this.result.errorCodes[code] = (this.result.errorCodes[code] ?? 0) + 1;
  }
}

/** The `\n`s in buf[from, end). */
function lines(buf: Buffer, from: number, end: number): number {
  let n = 0;
  for (let i = from; i < end; i++) if (buf[i] === 10) n++;
  return n;
}

/**
 * Run one echo load on this thread, blocking it for the connection phase plus `durationMs`.
 * Throws RangeError for bad options and SysError if epoll itself fails; everything the server
 * does wrong is counted instead.
 */
export function runEcho(opts: EchoOptions): EchoResult {
  return new EchoEngine(opts).run();
}
