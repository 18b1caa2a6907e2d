/**
 * Who gets a new connection: every alternative side by side, as in gnet (load_balancer.go plus
 * WithReusePort). Two questions, answered here and nowhere else:
 *
 *   1. Who calls accept4 — the accept mode (`--accept`):
 *
 *      main       one listener, in the MainReactor's epoll set only. The main thread accepts
 *                 every connection and hands it to the SubReactor a balancer (2.) picks: a ring
 *                 push and an eventfd write per burst. The default: the balancer sees every
 *                 reactor's load, so it can steer around a busy one.
 *      reuseport  one SO_REUSEPORT listener per SubReactor, all bound to the same host:port.
 *                 The kernel picks a listener by a hash of the connection's addresses and ports,
 *                 and each SubReactor accepts for itself: no hand-off, no main-thread hop — and
 *                 no say in the choice: the hash knows nothing about load.
 *      exclusive  one listener, registered in every SubReactor's epoll set with EPOLLEXCLUSIVE:
 *                 a new connection wakes ONE of the SubReactors waiting in epoll_wait, and it
 *                 accepts for itself. The kernel walks the listener's wait queue in the order
 *                 the reactors registered and stops at the first one waiting: an idle server
 *                 sends most connections to the same reactor (the "LIFO" bias); a busy one is
 *                 not waiting, so it is passed over.
 *      shared     the same shared listener WITHOUT EPOLLEXCLUSIVE: every SubReactor wakes for
 *                 every connection and all but one find nothing (EAGAIN) — the thundering herd.
 *                 A demonstration: the stats count wake-ups against accepts.
 *
 *   2. With `--accept main`, which SubReactor — the balancer (`--balance`):
 *
 *      rr         round-robin: 0, 1, 2, 0, 1, 2 ... — no state to read, even spread of connection
 *                 counts; the default (muduo and gnet both start here).
 *      least      least connections: the reactor with the fewest open connections — evens out
 *                 when connections live for very different times.
 *      hash       source-address hash: the same client address always lands on the same reactor
 *                 (useful when a reactor keeps per-client state). Every client behind one address
 *                 — 127.0.0.1 in a test, a NAT in real life — shares one reactor.
 *
 * And whoever accepts first asks `Admission` whether one more connection may stay open
 * (`--max-connections`).
 *
 * Ownership: the listeners are opened by createServer and closed by the MainReactor, on the main
 * thread; a SubReactor only watches its listener and accepts on it. A Balancer belongs to the
 * MainReactor (main thread). An Admission belongs to the thread that accepts (one per thread).
 */
import * as sys from '@course/syscalls';
import type { Settings } from './options.js';
import type { StatsBoard } from './stats.js';

const { C } = sys;

// #region accept-modes
export type AcceptMode = 'main' | 'reuseport' | 'exclusive' | 'shared';
export const ACCEPT_MODES: readonly AcceptMode[] = ['main', 'reuseport', 'exclusive', 'shared'];

/**
 * The listening sockets `mode` needs, non-blocking: one, or (reuseport) one per SubReactor on
 * the same port — the first one's, when port 0 asked the kernel to choose. Main thread; the
 * caller owns the fds (a failure closes what was opened and throws the SysError).
 */
export function openListeners(mode: AcceptMode, host: string, port: number, reactors: number): sys.TcpListener[] {
  if (mode !== 'reuseport') return [sys.listenTcp({ host, port, nonBlocking: true })];
  const first = sys.listenTcp({ host, port, nonBlocking: true, reusePort: true });
  const all = [first];
  try {
    while (all.length < reactors) all.push(sys.listenTcp({ host, port: first.port, nonBlocking: true, reusePort: true }));
  } catch (err) {
    for (const l of all) sys.close(l.fd);
    throw err;
  }
  return all;
}

/** What SubReactor `index` accepts on by itself: its listener fd and how to register it; null in mode main. */
export interface OwnListener {
  fd: number;
  /** EPOLLEXCLUSIVE (mode exclusive). */
  exclusive: boolean;
}

export function ownListener(mode: AcceptMode, listenFds: readonly number[], index: number): OwnListener | null {
  switch (mode) {
    case 'main':
      return null; // the MainReactor accepts for everyone
    case 'reuseport':
      return { fd: listenFds[index]!, exclusive: false }; // its own socket; the kernel's hash picks it
    case 'exclusive':
      return { fd: listenFds[0]!, exclusive: true }; // shared; the kernel wakes one waiter
    case 'shared':
      return { fd: listenFds[0]!, exclusive: false }; // shared; the kernel wakes every waiter
  }
}
// #endregion accept-modes


export type BalancePolicy = 'rr' | 'least' | 'hash';
export const BALANCE_POLICIES: readonly BalancePolicy[] = ['rr', 'least', 'hash'];

/** A balancing policy. Owned and called by the MainReactor, on the main thread only. */
export interface Balancer {
  readonly policy: BalancePolicy;
  /** True if `pick` needs the peer's address (the MainReactor then calls getpeername). */
  readonly needsAddress: boolean;
  /** The reactor index for a new connection from `address`. */
  pick(address: string): number;
}

// #region balancers
class RoundRobin implements Balancer {
  readonly policy = 'rr';
  readonly needsAddress = false;
  private next = 0;
  constructor(private readonly size: number) {}

  pick(): number {
    const i = this.next;
    this.next = i + 1 === this.size ? 0 : i + 1;
    return i;
  }
}

class LeastConnections implements Balancer {
  readonly policy = 'least';
  readonly needsAddress = false;
  constructor(private readonly board: StatsBoard) {}

  /** Linear scan: a handful of reactors, cheaper than keeping a heap up to date. Ties go to the lowest index. */
  pick(): number {
    let best = 0;
    let bestLoad = this.board.load(0);
    for (let i = 1; i < this.board.reactorCount; i++) {
      const load = this.board.load(i);
      if (load < bestLoad) {
        best = i;
        bestLoad = load;
      }
    }
    return best;
  }
}

class SourceHash implements Balancer {
  readonly policy = 'hash';
  readonly needsAddress = true;
  constructor(private readonly size: number) {}

  pick(address: string): number {
    return sourceHash(address) % this.size;
  }
}

/** FNV-1a (32 bits) of the address text: tiny, stable across runs, spreads similar addresses. */
export function sourceHash(address: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    h ^= address.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function createBalancer(policy: BalancePolicy, reactors: number, board: StatsBoard): Balancer {
  switch (policy) {
    case 'rr':
      return new RoundRobin(reactors);
    case 'least':
      return new LeastConnections(board);
    case 'hash':
      return new SourceHash(reactors);
  }
}
// #endregion balancers


/** What an HTTP client gets past maxConnections: the whole answer fits one write to a new socket. */
const TOO_MANY_BODY = '503 Service Unavailable: too many connections\n';
const TOO_MANY = new TextEncoder().encode(
  'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  `Content-Length: ${TOO_MANY_BODY.length}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${TOO_MANY_BODY}`,
);

// #region refuse-connection
/**
 * `--max-connections`, checked by whichever thread accepted (the MainReactor, or a SubReactor
 * that accepts for itself). The count is the stats board's, over every reactor; SubReactors
 * accepting at the same instant may overshoot it by at most one each. One per accepting thread.
 */
export class Admission {
  /** For reading what a refused connection already sent. */
  private readonly scratch = new Uint8Array(4096);

  private readonly maxConnections: number;
  /** Answer a refusal with HTTP's 503: protocol http, or auto (the usual first visitor is a browser). */
  private readonly http: boolean;

  constructor(
    settings: Pick<Settings, 'maxConnections' | 'protocol'>,
    private readonly board: StatsBoard,
    /** Who accepts: -1 the main thread, else the SubReactor's index (whose stats count the refusal). */
    private readonly by: number,
  ) {
    this.maxConnections = settings.maxConnections;
    this.http = settings.protocol !== 'echo';
  }

  /** True if `fd` may be served; false if it was refused (and closed) here. */
  admit(fd: number): boolean {
    if (this.maxConnections === 0 || this.board.openConnections() < this.maxConnections) return true;
    this.refuse(fd);
    return false;
  }

  /**
   * maxConnections are open: answer this one now and close it — it is never served. Whatever
   * the client sent already is read first, so that close(2) finds an empty receive buffer and
   * ends with a FIN, not an RST that could destroy the 503 before the client reads it; the FIN
   * goes out behind the answer (shutdown), then the fd is closed.
   */
  private refuse(fd: number): void {
    this.board.refusedConnection(this.by);
    if (this.http) {
      while (sys.read(fd, this.scratch, 0, this.scratch.length) > 0) { /* discarded */ }
      sys.write(fd, TOO_MANY); // a new socket's send buffer takes it whole; if not, the close says enough
      sys.shutdown(fd, C.SHUT_WR);
    }
    sys.close(fd);
  }
}
// #endregion refuse-connection
