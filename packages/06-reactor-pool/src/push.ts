/**
 * Step 06 as a long-connection server: WebSocket connections the app keeps, pushes to them from
 * ANY thread, broadcast, and topics (uWebSockets' pub/sub) across SubReactors.
 *
 *   from a SubReactor hook        server.publish('chat', text)
 *     → the frame is encoded ONCE (pushFrame)
 *     → this reactor's subscribers get it at once (the same bytes queued on each: no copy)
 *     → the same Push goes straight onto this SubReactor's channel to each other SubReactor
 *       (the push mesh: one MessageChannel per pair of SubReactors, made by the MainReactor at
 *       start, `pushMesh`), and after this turn each target is woken once (WakeFlags + its
 *       eventfd), however many pushes it was sent (`sendPush`, sub-reactor.ts)
 *   from a WorkerPool task: the same Push on the task thread's link to each target SubReactor,
 *     the port its task replies come on (so before the task's own reply), waking it
 *   on each target SubReactor, at its eventfd: the hub queues the frame on its members
 *   (the main thread has no hub and no port to push on: server.send & co. throw there)
 *
 * Why channels and not a lock: each end of a channel belongs to one thread, and a SubReactor
 * reads its ports when its one wake-up (its eventfd) fires, the same wake-up that brings it
 * connections and task results. A thousand pushes in one turn cost a thousand queue entries and
 * at most ONE eventfd write per target reactor, and no thread ever waits on another's lock. The
 * price is one copy of the frame per target reactor (postMessage clones it): per reactor, not
 * per connection. The MainReactor relays nothing: it only made the channels.
 *
 * Order: one sender's pushes to one reactor travel one FIFO path (its channel, or its link, to
 * that reactor), so a receiver sees them in the order they were sent; pushes from two senders
 * interleave in any way.
 *
 * Slow consumers (--max-backpressure, --slow-consumer): a push (or any app send) to a connection
 * that already holds `maxBackpressure` unsent bytes is refused, and the policy says how:
 *   - 'drop' (the default): the frame is DROPPED and counted (stats().reactors[i].dropped). The
 *     typical push is a tick of fresh state (a stats frame, a game snapshot) that the next one
 *     supersedes, and an app that needs every message can check `conn.pendingBytes` itself;
 *   - 'close': the connection is closed and counted (stats().reactors[i].slowClosed): a
 *     WebSocket with 1008 (policy violation, "too much unsent output"), its close frame queued
 *     past the bound (it is small); it ends when the peer answers that close, or when the close
 *     timeout cuts it. For a client that must not miss messages: it reconnects and resyncs. A
 *     TCP subscriber has no close code to be told why: it is just ended, its backlog dropped.
 * For a WebSocket the check and the policy are its session's (the protocol's `admit`): the app's
 * endpoints are given the bound and the policy as their options (connection.ts), so the hub
 * applies nothing of its own there and only counts what happened; for a TCP member the hub
 * applies the same rule itself (`deliverToStream`). The check is made before queueing
 * (uWebSockets' rule), so a client that reads keeps receiving messages of any size up to
 * --ws-max-message; one that never reads costs at most that bound plus one frame, never more.
 *
 * Threading: `Push` and `ConnRef` are plain data and may go anywhere. A `WebSocketHub` belongs to
 * its SubReactor thread, like the connections it holds.
 */
import type { WebSocketConn } from '@course/protocol';
import { ws } from '@course/protocol';
import type { SlowConsumerPolicy } from './options.js';
import type { StatsBoard } from './stats.js';

/** A connection named across threads: the reactor that owns it and its id there. Plain data. */
export interface ConnRef {
  reactor: number;
  id: number;
}

/** What crosses threads for a push. `frame` is a whole encoded WebSocket frame. */
export type Push =
  | { kind: 'send'; to: ConnRef; frame: Uint8Array }
  | { kind: 'close'; to: ConnRef; code: number; reason: string }
  | { kind: 'broadcast'; frame: Uint8Array; except: ConnRef | null; origin: number }
  | { kind: 'publish'; topic: string; frame: Uint8Array; origin: number };

/** On a thread's port, next to its other messages. */
export interface PushEnvelope {
  push: Push;
}

export function isPushEnvelope(m: unknown): m is PushEnvelope {
  return typeof m === 'object' && m !== null && 'push' in m;
}

/**
 * Any thread: the one frame a message becomes — text for a string, binary for bytes unless
 * `isBinary` is false (bytes that are already UTF-8 text: no decode and re-encode).
 */
export function pushFrame(data: string | Uint8Array, isBinary = typeof data !== 'string'): Uint8Array {
  return ws.encodeFrame(isBinary ? ws.OP_BINARY : ws.OP_TEXT, data);
}

/**
 * The payload of a frame `pushFrame` made (a server's frame is unmasked: 2, 4 or 10 header
 * bytes, by its length), as a view: what a TCP subscriber gets, through its own codec.
 */
export function framePayload(frame: Uint8Array): Uint8Array {
  const len7 = frame[1]! & 0x7f;
  return frame.subarray(len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
}

/** The reactors a push must reach. Broadcast and publish skip the origin (it delivered its own). */
export function pushTargets(p: Push, reactors: number): number[] {
  if (p.kind === 'send' || p.kind === 'close') return p.to.reactor >= 0 && p.to.reactor < reactors ? [p.to.reactor] : [];
  const all: number[] = [];
  for (let r = 0; r < reactors; r++) if (r !== p.origin) all.push(r);
  return all;
}

/** A throwing check for a connRef that came from app code (it may have crossed threads as JSON). */
export function checkRef(ref: ConnRef): ConnRef {
  if (typeof ref !== 'object' || ref === null || !Number.isInteger(ref.reactor) || !Number.isInteger(ref.id)) {
    throw new TypeError(`not a connRef: ${JSON.stringify(ref)} (expected { reactor, id }, as conn.ref gives)`);
  }
  return ref;
}

/** What the hub needs of an app connection. */
export interface HubMember {
  readonly id: number;
  /** The WebSocket, once upgraded; null before and for plain HTTP/TCP connections. */
  ws: WebSocketConn | null;
  /** Topics it is subscribed to (null: none yet — most connections never subscribe). */
  topics: Set<string> | null;
  /** Unsent bytes (a TCP member's; a WebSocket's are its `ws.pendingBytes`). */
  readonly pendingBytes: number;
  /** A TCP member: closed, or ending; nothing more goes to it. */
  readonly closing: boolean;
  /** A TCP member (ws null): queue one message's payload, framed by its codec; false if it cannot. */
  sendPayload(payload: Uint8Array): boolean;
  /** A TCP member: end the connection as a slow consumer, dropping what it has not been sent. */
  cutSlow(): void;
}

/**
 * One SubReactor's WebSocket connections and topics, and the local half of every push. Owned by
 * its SubReactor thread. A TCP connection of the app (`onReceive`) joins too once it subscribes
 * (`addStream`): publish and send reach it as the message's payload through its codec (the
 * demo's `nc` chat users); broadcast stays for WebSockets.
 */
export class WebSocketHub {
  private readonly members = new Map<number, HubMember>();
  private readonly topics = new Map<string, Set<HubMember>>();

  constructor(
    readonly reactor: number,
    private readonly board: StatsBoard,
    /**
     * Unsent bytes at which a TCP member gets no more frames (--max-backpressure). A WebSocket's
     * session applies the same bound itself (its endpoint's options).
     */
    readonly maxBackpressure: number,
    /** What happens then (--slow-consumer): for TCP members here, for WebSockets in their session. */
    readonly slowConsumer: SlowConsumerPolicy = 'drop',
  ) {}

  get size(): number {
    return this.members.size;
  }

  /** The WebSocket handshake of `m` is done. */
  add(m: HubMember): void {
    this.members.set(m.id, m);
    this.board.websocket(this.reactor, 1);
  }

  /** A TCP connection that subscribes (not counted as a WebSocket). Idempotent. */
  addStream(m: HubMember): void {
    this.members.set(m.id, m);
  }

  /** `m` is closed: it leaves every topic. */
  remove(m: HubMember): void {
    if (!this.members.delete(m.id)) return;
    if (m.ws !== null) this.board.websocket(this.reactor, -1);
    if (m.topics === null) return;
    for (const t of m.topics) this.leave(m, t);
    m.topics = null;
  }

  subscribe(m: HubMember, topic: string): void {
    if (!this.members.has(m.id)) return; // not (or no longer) an open WebSocket
    (m.topics ??= new Set()).add(topic);
    let set = this.topics.get(topic);
    if (set === undefined) this.topics.set(topic, (set = new Set()));
    set.add(m);
  }

  unsubscribe(m: HubMember, topic: string): void {
    if (m.topics?.delete(topic)) this.leave(m, topic);
  }

  // #region hub-deliver
  /**
   * Queue `frame` on `m`, unless it is closing or already holds `maxBackpressure` unsent bytes:
   * then the frame is dropped and counted, or (--slow-consumer close) the connection is closed
   * and counted. For a WebSocket the session decides (`sendFrame` refuses, and under 'close'
   * starts the closing handshake with 1008); the hub tells which by whether it is still open.
   * The bytes are queued by reference: one encoded frame serves every receiver.
   */
  deliver(m: HubMember, frame: Uint8Array): boolean {
    const w = m.ws;
    if (w === null) return this.deliverToStream(m, frame);
    if (!w.open) return false; // closing already: nothing more, and nothing to count
    if (w.sendFrame(frame)) {
      this.board.message(this.reactor, 'out');
      return true;
    }
    if (w.open) this.board.message(this.reactor, 'dropped');
    else this.board.slowClosed(this.reactor); // the session closed it (1008): once, it is no longer open
    return false;
  }

  /**
   * The same rule for a TCP member: the frame's payload, through the member's codec. A TCP
   * connection has no close code to say why, so 'close' just ends it (`cutSlow`): what it holds
   * is dropped, and the reactor closes it.
   */
  private deliverToStream(m: HubMember, frame: Uint8Array): boolean {
    if (m.closing) return false;
    if (m.pendingBytes >= this.maxBackpressure) {
      if (this.slowConsumer === 'close') {
        m.cutSlow();
        this.board.slowClosed(this.reactor);
      } else {
        this.board.message(this.reactor, 'dropped');
      }
      return false;
    }
    if (!m.sendPayload(framePayload(frame))) {
      this.board.message(this.reactor, 'dropped'); // a frame its codec cannot carry
      return false;
    }
    this.board.message(this.reactor, 'out');
    return true;
  }
  // #endregion hub-deliver

  // #region hub-apply
  /** The local half of a push (or a whole push that came from another thread). */
  apply(p: Push): void {
    switch (p.kind) {
      case 'send': {
        const m = this.members.get(p.to.id);
        if (m !== undefined) this.deliver(m, p.frame);
        return;
      }
      case 'close':
        this.members.get(p.to.id)?.ws?.close(p.code, p.reason);
        return;
      case 'broadcast':
        for (const m of this.members.values()) {
          if (m.ws === null) continue; // broadcast is every WebSocket of the app
          if (p.except !== null && p.except.reactor === this.reactor && p.except.id === m.id) continue;
          this.deliver(m, p.frame);
        }
        return;
      case 'publish': {
        const set = this.topics.get(p.topic);
        if (set !== undefined) for (const m of set) this.deliver(m, p.frame);
        return;
      }
    }
  }
  // #endregion hub-apply

  private leave(m: HubMember, topic: string): void {
    const set = this.topics.get(topic);
    if (set === undefined) return;
    set.delete(m);
    if (set.size === 0) this.topics.delete(topic); // a topic costs nothing once its last member left
  }
}
