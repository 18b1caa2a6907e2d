/**
 * The MainReactor: the main thread's epoll loop (step 05's Reactor and Acceptor, reused). It owns
 * the listening socket, accepts every waiting connection (edge-triggered: accept until EAGAIN),
 * and hands each one to a SubReactor chosen by the balancer. It also owns the SubReactor threads
 * and the WorkerPool, and relays tasks and results between them.
 *
 *   loop:
 *     runOnce(≤ 100 ms)   listener → accept → balancer → SubReactor's ring (+ wake it once per turn)
 *                         wake-up eventfd → task requests from SubReactors → WorkerPool
 *                                         → results from WorkerPool → owning SubReactor's port
 *     yield to Node       let Node deliver Worker 'error'/'exit' events (a dead thread) and run
 *                         the pool's replacements; then back to epoll_wait
 *
 * Why the bounded wait and the yield: a thread blocked in epoll_wait never runs its Node event
 * loop, and Node only reports a dying Worker through that loop. Waking at least every 100 ms
 * costs nothing measurable, and the listening socket and the eventfd still wake epoll_wait at
 * once, so accepting and relaying are never delayed by it.
 *
 * Reliability:
 *   - a WorkerPool thread that dies is replaced; its task fails (the client gets a 500).
 *   - a SubReactor that dies takes its connections with it — their fds are still open, but no
 *     thread serves them any more. Restarting it could not bring them back, so the process
 *     reports which reactor died and why, and exits with status 1 (let a supervisor restart the
 *     whole server) rather than run on with connections silently lost.
 *
 * Ownership: main thread only.
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { echoProtocol } from '@course/protocol';
import { exitNow, log, shutdownRequested } from '@course/server-kit';
import { Acceptor, Reactor, type ReactorMode } from '05-epoll-native';
import { createBalancer, type BalancePolicy, type Balancer } from './balancer.js';
import { FdRing, Lifecycle, type TaskReply, type TaskRequest } from './handoff.js';
import { isPushEnvelope, pushTargets, type Push, type PushEnvelope } from './push.js';
import type { StatsBoard } from './stats.js';
import type { SubReactorData } from './sub-reactor.js';
import { WorkerPool, type PoolTask, type TaskOutcome } from './worker-pool.js';
import type { WebSocketLimits } from './connection.js';

const { C } = sys;

/** Longest sleep in epoll_wait before the main thread lets Node deliver Worker events. */
const MAIN_WAIT_MS = 100;

/** Everything the MainReactor needs to start its threads. */
export interface MainReactorOptions {
  listenFd: number;
  reactors: number;
  workers: number;
  balance: BalancePolicy;
  maxRequests: number;
  protocol: 'http' | 'echo';
  root: string;
  websocket: WebSocketLimits;
  appUrl: string;
  mode: ReactorMode;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  tickMs: number;
  drainTimeoutMs: number;
  board: StatsBoard;
}

/** The main thread's view of one SubReactor thread. */
interface SubReactorHandle {
  index: number;
  thread: Worker;
  ring: FdRing;
  wakeFd: number;
  /** The main thread's end of the SubReactor's MessagePort. */
  port: MessagePort;
  /** Something was queued for it this turn: write its eventfd after the turn. */
  needsWake: boolean;
}

export class MainReactor {
  private readonly reactor: Reactor;
  private readonly wakeFd: number;
  private readonly lifecycle: Lifecycle;
  private readonly balancer: Balancer;
  private readonly pool: WorkerPool;
  private readonly subs: SubReactorHandle[] = [];
  private acceptor: Acceptor | null = null;
  private dropped = 0;

  /** Start the WorkerPool and the SubReactors; resolves once every thread reported ready. */
  static async start(opts: MainReactorOptions): Promise<MainReactor> {
    const main = new MainReactor(opts);
    await main.pool.start();
    const started: Promise<void>[] = [];
    for (let i = 0; i < opts.reactors; i++) started.push(main.startSubReactor(i));
    await Promise.all(started);
    return main;
  }

  private constructor(private readonly opts: MainReactorOptions) {
    // The main reactor never adopts a connection; the Reactor just wants a protocol to hold.
    this.reactor = new Reactor({ protocol: echoProtocol() });
    this.wakeFd = sys.check(sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC), 'eventfd');
    this.reactor.watch(this.wakeFd, () => this.onWake());
    this.lifecycle = Lifecycle.create(opts.reactors);
    this.balancer = createBalancer(opts.balance, opts.reactors, opts.board);
    this.pool = new WorkerPool({
      size: opts.workers,
      maxRequests: opts.maxRequests,
      appUrl: opts.appUrl,
      wakeFd: this.wakeFd,
      board: opts.board,
      deliver: (task, outcome) => this.deliver(task, outcome),
      push: (push) => this.relay(push),
      fatal: (message) => die(message),
    });
  }

  /**
   * Accept and relay until SIGTERM/SIGINT, then drain: stop accepting, let every SubReactor
   * finish its in-flight responses and close idle connections. Resolves true once all are done,
   * false if `drainTimeoutMs` passed first.
   */
  async serve(): Promise<boolean> {
    this.acceptor = new Acceptor(this.reactor, this.opts.listenFd, (fd) => this.handOff(fd), { edgeTriggered: true });
    while (!shutdownRequested()) await this.turn(MAIN_WAIT_MS);
    return this.drain();
  }

  private async turn(waitMs: number): Promise<void> {
    this.reactor.runOnce(waitMs); // a signal interrupts it (EINTR): the caller checks
    this.wakeSubReactors();
    await new Promise<void>((resolve) => setImmediate(resolve)); // Worker events, pool restarts
    this.wakeSubReactors();
  }

  /** A new connection: pick a SubReactor and push the fd onto its ring. */
  private handOff(fd: number): void {
    const address = this.balancer.needsAddress ? peerAddress(fd) : '';
    let r = this.balancer.pick(address);
    // A full ring means that SubReactor is thousands of connections behind: try the next one,
    // and if every one is that far behind, shed the connection rather than queue without bound.
    for (let tries = 1; !this.subs[r]!.ring.push(fd); tries++) {
      if (tries === this.subs.length) {
        sys.close(fd);
        if (this.dropped++ % 1000 === 0) log(`every reactor's hand-off queue is full: closed ${this.dropped} connection(s) unserved`);
        return;
      }
      r = (r + 1) % this.subs.length;
    }
    this.opts.board.assigned(r);
    this.subs[r]!.needsWake = true;
  }

  /** One eventfd write per SubReactor per turn, however many fds or results it was given. */
  private wakeSubReactors(): void {
    for (const s of this.subs) {
      if (!s.needsWake) continue;
      s.needsWake = false;
      sys.eventfdSignal(s.wakeFd);
    }
  }

  /** Our eventfd fired: reset it first, then take task requests and pool results. */
  private onWake(): void {
    sys.eventfdDrain(this.wakeFd);
    for (const s of this.subs) {
      for (let m = receiveMessageOnPort(s.port); m !== undefined; m = receiveMessageOnPort(s.port)) {
        if (isPushEnvelope(m.message)) {
          this.relay(m.message.push);
          continue;
        }
        const req = m.message as TaskRequest;
        this.pool.submit({ reactor: s.index, id: req.id, payload: req.payload });
      }
    }
    this.pool.collect();
  }

  /** A task's outcome goes back to the SubReactor that asked for it. */
  private deliver(task: PoolTask, outcome: TaskOutcome): void {
    const s = this.subs[task.reactor]!;
    const reply: TaskReply = { id: task.id, ...outcome };
    s.port.postMessage(reply);
    s.needsWake = true;
  }

  /**
   * A push from a SubReactor or a WorkerPool thread: onto each target reactor's port, in arrival
   * order (so one sender's pushes stay in order), with one eventfd write per reactor per turn.
   */
  relay(push: Push): void {
    for (const r of pushTargets(push, this.subs.length)) {
      const s = this.subs[r]!;
      s.port.postMessage({ push } satisfies PushEnvelope);
      s.needsWake = true;
    }
  }

  private startSubReactor(index: number): Promise<void> {
    const o = this.opts;
    const { port1, port2 } = new MessageChannel();
    const handle: SubReactorHandle = {
      index,
      thread: undefined as unknown as Worker,
      ring: FdRing.create(),
      wakeFd: sys.check(sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC), 'eventfd'),
      port: port1,
      needsWake: false,
    };
    const data: SubReactorData = {
      index,
      appUrl: o.appUrl,
      protocol: o.protocol,
      root: o.root,
      websocket: o.websocket,
      mode: o.mode,
      headerTimeoutMs: o.headerTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs,
      tickMs: o.tickMs,
      wakeFd: handle.wakeFd,
      mainWakeFd: this.wakeFd,
      ringBuffer: handle.ring.buffer,
      lifecycleBuffer: this.lifecycle.buffer,
      statsBuffer: o.board.buffer,
      port: port2,
    };
    handle.thread = new Worker(new URL('./sub-reactor-thread.js', import.meta.url), { workerData: data, transferList: [port2] });
    this.subs[index] = handle;

    return new Promise<void>((resolve) => {
      let ready = false;
      handle.thread.on('message', (m) => {
        if (m === 'ready') {
          ready = true;
          resolve();
        }
      });
      handle.thread.on('error', (err) => log(`reactor ${index}: uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
      handle.thread.on('exit', (code) => {
        if (this.lifecycle.drained(index)) return; // it finished draining: expected
        die(ready
          ? `reactor ${index} died (exit code ${code}); its connections cannot be served: exiting`
          : `reactor ${index} exited (code ${code}) before it was ready: the app failed to load or onStart threw`);
      });
    });
  }

  private async drain(): Promise<boolean> {
    this.acceptor?.close();
    sys.close(this.opts.listenFd); // new clients are refused from now on
    this.lifecycle.startDraining();
    for (const s of this.subs) sys.eventfdSignal(s.wakeFd);
    const giveUpAt = Date.now() + this.opts.drainTimeoutMs;
    while (!this.lifecycle.allDrained()) {
      if (Date.now() >= giveUpAt) return false;
      await this.turn(50); // keep relaying: a response may still wait for a task
    }
    return true;
  }
}

/** The peer's address, for the source-hash balancer ('' if the client already left). */
function peerAddress(fd: number): string {
  const addr = sys.getpeername(fd);
  return typeof addr === 'number' ? '' : addr.address;
}

/** A thread the server cannot run without is gone: say why and leave, non-zero. */
function die(message: string): never {
  log(`06-reactor-pool: ${message}`);
  return exitNow(1);
}
