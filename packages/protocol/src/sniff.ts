/**
 * Port unification: one listener, two protocols, told apart by the client's first bytes.
 *
 * A connection starts undecided. Its first bytes are compared with the HTTP method tokens: a
 * request line begins `GET `, `POST `, ... (a known method, then a space). As soon as the bytes
 * are one of those, the connection is HTTP (a WebSocket upgrade is HTTP until the 101); as soon
 * as they cannot become one, it is the TCP protocol (with its codec). The decision takes at most
 * SNIFF_LIMIT bytes, so nothing is buffered without bound. The bytes read so far are then handed
 * to the chosen protocol's session as if they had just arrived.
 *
 * Only client-speaks-first protocols can be sniffed: a server-speaks-first protocol (SMTP, FTP,
 * MySQL: the server sends a greeting and the client waits for it) gives nothing to look at. So
 * an undecided connection counts as mid-request: a client silent for the header timeout is closed.
 *
 * Threading: a SniffSession belongs to the thread serving its connection, like any Session.
 */
import type { PeerInfo, Protocol, Session, Sink } from './session.js';

/** The request-line openings that mean HTTP. Uppercase only: methods are case-sensitive. */
const METHODS: readonly Uint8Array[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'].map((m) =>
  new TextEncoder().encode(`${m} `),
);

/** The longest opening ("OPTIONS " and "CONNECT "): the most bytes a decision ever waits for. */
export const SNIFF_LIMIT = Math.max(...METHODS.map((m) => m.length));

// #region sniff
/** 'http', 'tcp', or null while `head` is still a prefix of some method opening. */
export function sniff(head: Uint8Array): 'http' | 'tcp' | null {
  let undecided = false;
  for (const opening of METHODS) {
    const n = Math.min(head.length, opening.length);
    let same = true;
    for (let i = 0; i < n && same; i++) same = head[i] === opening[i];
    if (!same) continue;
    if (head.length >= opening.length) return 'http';
    undecided = true;
  }
  return undecided ? null : 'tcp';
}
// #endregion sniff

/** A session that waits for the first bytes, then becomes the HTTP or the TCP session. */
class SniffSession implements Session {
  /** The chosen protocol's session, once decided. */
  private inner: Session | null = null;
  /** Bytes read while undecided (at most SNIFF_LIMIT - 1 of them: a copy, the read buffer is reused). */
  private head: Uint8Array = new Uint8Array(0);
  private closed = false;

  constructor(
    private readonly owner: SniffProtocol,
    private readonly sink: Sink,
    private readonly peer: PeerInfo | undefined,
  ) {}

  receive(data: Uint8Array): void {
    if (this.inner !== null) return this.inner.receive(data);
    const head = new Uint8Array(this.head.length + data.length);
    head.set(this.head);
    head.set(data, this.head.length);
    const verdict = sniff(head);
    if (verdict === null) {
      this.head = head;
      return;
    }
    this.head = new Uint8Array(0);
    this.inner = (verdict === 'http' ? this.owner.http : this.owner.tcp).open(this.sink, this.peer);
    this.inner.receive(head);
  }

  peerClosed(): void {
    if (this.inner !== null) return this.inner.peerClosed();
    this.sink.end(); // closed before saying anything recognisable: nothing to answer
  }

  drained(): void {
    this.inner?.drained();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inner?.close();
  }

  /** Undecided counts as mid-request: the header timeout closes a client that says nothing. */
  get midRequest(): boolean {
    return this.inner === null ? true : this.inner.midRequest;
  }

  get awaiting(): boolean {
    return this.inner?.awaiting ?? false;
  }

  get paused(): boolean {
    return this.inner?.paused ?? false;
  }

  get deadline(): number {
    return this.inner?.deadline ?? 0;
  }

  timeout(now: number): boolean {
    return this.inner?.timeout?.(now) ?? true;
  }
}

/**
 * `--protocol auto`: HTTP (and its WebSocket upgrades) and a TCP protocol on one listener.
 * Immutable; shared by every connection of a thread. The banner says `http`: a browser is the
 * usual first visitor, and the TCP side answers on the same address.
 */
export class SniffProtocol implements Protocol {
  readonly name = 'http' as const;
  readonly scheme = 'http' as const;
  readonly codec?: string;

  constructor(
    readonly http: Protocol,
    readonly tcp: Protocol,
  ) {
    if (tcp.codec !== undefined) this.codec = tcp.codec;
  }

  open(sink: Sink, peer?: PeerInfo): Session {
    return new SniffSession(this, sink, peer);
  }
}

export function sniffProtocol(http: Protocol, tcp: Protocol): Protocol {
  return new SniffProtocol(http, tcp);
}
