/**
 * Which SubReactor gets the next connection: three policies side by side, as in gnet's
 * load_balancer.go.
 *
 *   rr     round-robin: 0, 1, 2, 0, 1, 2 ... — no state to read, even spread of connection
 *          counts; the default (muduo and gnet both start here).
 *   least  least connections: the reactor with the fewest open connections — evens out when
 *          connections live for very different times.
 *   hash   source-address hash: the same client address always lands on the same reactor
 *          (useful when a reactor keeps per-client state). Every client behind one address —
 *          127.0.0.1 in a test, a NAT in real life — shares one reactor.
 *
 * Owned and called by the MainReactor (main thread) only.
 */
import type { StatsBoard } from './stats.js';

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
