/**
 * The MainReactor: the main thread's epoll loop (step 05's Reactor and Acceptor, reused). It owns
 * the listening sockets; with `--accept main` (the default) it accepts every waiting connection
 * (edge-triggered: accept until EAGAIN) and hands each one to a SubReactor chosen by the
 * balancer. In the other accept modes each SubReactor accepts for itself (balancer.ts compares
 * them) and this loop only supervises. Besides that it supervises the threads, runs the reload
 * and the shutdown; tasks and their results never pass through it (SubReactors and WorkerPool
 * threads talk directly, see worker-pool.ts).
 *
 *   loop:
 *     runOnce(≤ 100 ms)   listener → accept → balancer → SubReactor's ring (+ wake it once per turn)
 *     yield to Node       let Node deliver Worker events (ready, retire, exit) and run the pool's
 *                         replacements; then back to epoll_wait
 *   stop (close() or SIGTERM/SIGINT when the CLI caught them):
 *     drain               close the listener, let every SubReactor finish its in-flight responses
 *     shut down           tell any SubReactor still serving to leave, end every thread, close
 *                         every fd opened here (epoll fds, eventfds, the listener)
 *
 * Why the bounded wait and the yield: a thread blocked in epoll_wait never runs its Node event
 * loop, and Node only reports a dying Worker through that loop. Waking at least every 100 ms
 * costs nothing measurable, and the listening socket still wakes epoll_wait at once, so
 * accepting is never delayed by it.
 *
 * Reliability:
 *   - a WorkerPool thread that dies is replaced; its tasks fail (their clients get a 500).
 *   - a SubReactor that dies takes its connections with it — their fds are still open, but no
 *     thread serves them any more. Restarting it could not bring them back, so the process
 *     reports which reactor died and why, and exits with status 1 (let a supervisor restart the
 *     whole server) rather than run on with connections silently lost.
 *   - process.exit() anywhere on the main thread (the host, an app's onStart) ends the process at
 *     once: an 'exit' hook tells every SubReactor to leave and writes its eventfd, so no thread
 *     stays blocked in epoll_wait where Node could not stop it.
 *
 * Ownership: main thread only (`affinity` checks it when COURSE_CHECK_THREADS=1).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import * as sys from '@course/syscalls';
import { echoProtocol } from '@course/protocol';
import { exitNow, log, shutdownRequested, ThreadAffinity } from '@course/server-kit';
import { Acceptor, Reactor } from '05-epoll-native';
import { loadApp, type App } from './app.js';
import { Admission, createBalancer, type Balancer } from './balancer.js';
import { FdRing, Lifecycle, WakeFlags, type PoolNote } from './handoff.js';
import type { Settings } from './options.js';
import type { StatsBoard } from './stats.js';
import type { ReloadNote, ReloadReport, SubReactorData } from './sub-reactor.js';
import { WorkerPool } from './worker-pool.js';

const { C } = sys;

/** Longest sleep in epoll_wait before the main thread lets Node deliver Worker events. */
const MAIN_WAIT_MS = 100;

/**
 * The main thread's handle on one SubReactor thread: its side of the ring and of the control
 * port, and the eventfd (created here, closed here once the thread has ended). Main thread only.
 */
interface SubReactorHandle {
  index: number;
  thread: Worker;
  ring: FdRing;
  wakeFd: number;
  /** The main thread's end of the control port: PoolNotes go out on it. */
  control: MessagePort;
  /** Something was queued for it this turn: write its eventfd after the turn. */
  needsWake: boolean;
  /** Resolves once the thread has exited. */
  exited: Promise<void>;
  /** A reload was sent to it: settles it when the thread reports back. */
  reloaded: ((report: ReloadReport) => void) | null;
}

// #region sub-reactor-heap
/**
 * The young generation of a SubReactor thread's heap, MB (V8 splits it 1:1:1 into two
 * semi-spaces and a large-object space: 2 MB semi-spaces). A SubReactor's objects are mostly
 * connection state that lives as long as its connection, and V8 doubles the semi-spaces each time
 * that much has survived a scavenge: 10,000 WebSockets opening would grow them to V8's maximum
 * (2 x 16 MB, 3 KB per connection) and keep them there. Capped, survivors move to the old
 * generation sooner; a scavenge (which copies only what is alive) just comes more often.
 */
const SUB_REACTOR_YOUNG_GENERATION_MB = 6;
// #endregion sub-reactor-heap

/** The main thread's loop and the owner of every thread of the server. Main thread only. */
export class MainReactor {
  private readonly reactor: Reactor;
  private readonly lifecycle: Lifecycle;
  private readonly wakeFlags: WakeFlags;
  private readonly balancer: Balancer;
  private readonly pool: WorkerPool;
  private readonly subs: SubReactorHandle[] = [];
  private readonly affinity = new ThreadAffinity('the MainReactor');
  private readonly admission: Admission;
  private acceptor: Acceptor | null = null;
  private listenersOpen = true;
  private dropped = 0;
  private stopRequested = false;
  /** The app module's current URL and version (0: as started; N: the Nth reload, `?reload=N`). */
  private appUrl: string;
  private appVersion = 0;
  /** Reloads run one after another: the last one started. */
  private reloading: Promise<void> = Promise.resolve();
  private serving: Promise<boolean> | null = null;
  private closing: Promise<void> | null = null;
  /** process.on('exit'): make every SubReactor leave epoll_wait, so the process can end. */
  private readonly onProcessExit = (): void => {
    this.lifecycle.leave();
    for (const s of this.subs) sys.eventfdSignal(s.wakeFd);
  };

  /** Start the SubReactors and the WorkerPool; resolves once every thread reported ready. */
  static async start(listenFds: number[], settings: Settings, board: StatsBoard): Promise<MainReactor> {
    const main = new MainReactor(listenFds, settings, board);
    await Promise.all([main.pool.start(), ...main.subs.map((s) => main.started(s))]);
    return main;
  }

  private constructor(
    /** One listener, or one per SubReactor (reuseport). Opened by createServer, closed here. */
    private readonly listenFds: number[],
    private readonly settings: Settings,
    private readonly board: StatsBoard,
  ) {
    this.appUrl = settings.app;
    this.admission = new Admission(settings, board, -1);
    // The main reactor never adopts a connection; the Reactor just wants a protocol to hold.
    this.reactor = new Reactor({ protocol: echoProtocol() });
    this.lifecycle = Lifecycle.create(settings.reactors);
    this.wakeFlags = WakeFlags.create(settings.reactors);
    this.balancer = createBalancer(settings.balance, settings.reactors, board);
    process.on('exit', this.onProcessExit);
    // Every eventfd and the push mesh first: each SubReactor starts knowing how to reach the others.
    const wakeFds = Array.from({ length: settings.reactors }, () => sys.check(sys.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC), 'eventfd'));
    const mesh = pushMesh(settings.reactors);
    for (let i = 0; i < settings.reactors; i++) this.subs.push(this.startSubReactor(i, wakeFds, mesh[i]!));
    this.pool = new WorkerPool({
      settings,
      board,
      wakeFds: this.subs.map((s) => s.wakeFd),
      wakeFlags: this.wakeFlags,
      tell: (reactor, note) => this.tell(reactor, note),
      fatal: (message) => die(message),
    });
  }

  /**
   * Accept until close() (or SIGTERM/SIGINT, if the caller caught them), then drain: stop
   * accepting, let every SubReactor finish its in-flight responses and close idle connections;
   * then end every thread. Resolves true if the drain finished within `drainTimeoutMs`.
   */
  // #region main-serve
  serve(): Promise<boolean> {
    this.affinity.check();
    if (this.serving !== null || this.closing !== null) return Promise.reject(new Error('serve(): the server is already serving or closed'));
    this.serving = (async () => {
      // --accept main: this thread accepts for everyone; otherwise the SubReactors already do.
      if (this.settings.accept === 'main') this.acceptor = new Acceptor(this.reactor, this.listenFds[0]!, (fd) => this.handOff(fd), { edgeTriggered: true });
      while (!this.stopRequested && !shutdownRequested()) await this.turn(MAIN_WAIT_MS);
      const drained = await this.drain();
      await this.shutDown();
      return drained;
    })();
    return this.serving;
  }
  // #endregion main-serve

  /** Stop: the same drain and shutdown as on SIGTERM. Resolves once every thread and fd is gone. */
  async close(): Promise<void> {
    this.affinity.check();
    this.stopRequested = true;
    if (this.serving !== null) {
      await this.serving;
      return;
    }
    this.closing ??= this.drain().then(() => this.shutDown());
    await this.closing;
  }

  // #region main-turn
  private async turn(waitMs: number): Promise<void> {
    this.reactor.runOnce(waitMs); // a signal interrupts it (EINTR): the caller checks
    this.wakeSubReactors();
    const a = this.acceptor?.stats;
    if (a !== undefined) this.board.publishAccept(-1, a.wakeups, a.empty, a.eagain);
    await new Promise<void>((resolve) => setImmediate(resolve)); // Worker events, pool restarts
  }
  // #endregion main-turn

  /** A new connection: pick a SubReactor and push the fd onto its ring. */
  // #region hand-off
  private handOff(fd: number): void {
    this.affinity.check();
    if (!this.admission.admit(fd)) return; // maxConnections are open: refused (balancer.ts)
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
    this.board.assigned(r);
    this.subs[r]!.needsWake = true;
  }
  // #endregion hand-off


  /** At most one eventfd write per SubReactor per turn, however many fds it was given. */
  // #region wake-sub-reactors
  private wakeSubReactors(): void {
    for (const s of this.subs) {
      if (!s.needsWake) continue;
      s.needsWake = false;
      this.wakeFlags.wake(s.index, s.wakeFd); // no write if a pool thread's wake-up is still pending
    }
  }
  // #endregion wake-sub-reactors

  /** A note from the pool's supervisor to SubReactor `reactor`; rare, so it is woken at once. */
  private tell(reactor: number, note: PoolNote): void {
    const s = this.subs[reactor]!;
    s.control.postMessage(note, note.kind === 'joined' ? [note.port] : []);
    this.wakeFlags.wake(reactor, s.wakeFd);
  }

  private startSubReactor(index: number, wakeFds: number[], peers: Array<MessagePort | null>): SubReactorHandle {
    const { port1, port2 } = new MessageChannel();
    const ring = FdRing.create();
    const wakeFd = wakeFds[index]!;
    const data: SubReactorData = {
      settings: this.settings,
      index,
      wakeFd,
      ringBuffer: ring.buffer,
      wakeFlagsBuffer: this.wakeFlags.buffer,
      lifecycleBuffer: this.lifecycle.buffer,
      statsBuffer: this.board.buffer,
      control: port2,
      peers,
      wakeFds,
      listenFds: this.listenFds,
    };
    const transfer = [port2, ...peers.filter((p): p is MessagePort => p !== null)];
    const thread = new Worker(new URL('./sub-reactor-thread.js', import.meta.url), {
      workerData: data,
      transferList: transfer,
      resourceLimits: { maxYoungGenerationSizeMb: SUB_REACTOR_YOUNG_GENERATION_MB },
    });
    const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
    return { index, thread, ring, wakeFd, control: port1, needsWake: false, exited, reloaded: null };
  }

  /** Resolves when SubReactor `s` is ready; from then on, its exit is fatal unless it drained. */
  // #region sub-reactor-exit
  private started(s: SubReactorHandle): Promise<void> {
    return new Promise<void>((resolve) => {
      let ready = false;
      s.thread.on('message', (m) => {
        if (m === 'ready') {
          ready = true;
          resolve();
        } else if (typeof m === 'object' && m !== null && (m as ReloadReport).kind === 'reloaded') {
          s.reloaded?.(m as ReloadReport);
        }
      });
      s.thread.on('error', (err) => log(`reactor ${s.index}: uncaught ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
      s.thread.on('exit', (code) => {
        if (this.lifecycle.drained(s.index)) return; // it finished draining or left when told: expected
        die(ready
          ? `reactor ${s.index} died (exit code ${code}); its connections cannot be served: exiting`
          : `reactor ${s.index} exited (code ${code}) before it was ready: the app failed to load or onStart threw`);
      });
    });
  }
  // #endregion sub-reactor-exit

  // #region drain
  private async drain(): Promise<boolean> {
    this.acceptor?.close();
    this.acceptor = null;
    // Accepting here: close the listener now, new clients are refused from now on. Accepting in
    // the SubReactors: each stops watching when it sees the drain begin, and the listeners are
    // closed once those threads have ended (shutDown), so that no thread still watches an fd
    // number the kernel may hand out again.
    if (this.settings.accept === 'main') this.closeListeners();
    this.pool.drain();
    this.lifecycle.startDraining();
    for (const s of this.subs) sys.eventfdSignal(s.wakeFd);
    const giveUpAt = Date.now() + this.settings.drainTimeoutMs;
    while (!this.lifecycle.allDrained()) {
      if (Date.now() >= giveUpAt) return false;
      await this.turn(50); // the SubReactors tell nothing: look again every 50 ms
    }
    return true;
  }
  // #endregion drain

  /** After the drain: whoever is still serving leaves now; then end every thread and close our fds. */
  // #region shut-down
  private async shutDown(): Promise<void> {
    // The pool first: a pool thread whose links all closed would end by itself, and must not be
    // taken for a dead one and replaced. Nothing is owed any more: the drain waited for tasks.
    const poolClosed = this.pool.close();
    this.lifecycle.leave();
    for (const s of this.subs) sys.eventfdSignal(s.wakeFd);
    await Promise.all(this.subs.map((s) => s.exited));
    this.closeListeners();
    await poolClosed;
    for (const s of this.subs) {
      s.control.close();
      sys.close(s.wakeFd);
    }
    this.reactor.close();
    process.off('exit', this.onProcessExit);
  }
  // #endregion shut-down

  private closeListeners(): void {
    if (!this.listenersOpen) return;
    this.listenersOpen = false;
    for (const fd of this.listenFds) sys.close(fd);
  }

  // #region reload
  /**
   * server.reload() and SIGHUP: every thread imports the app module afresh (`?reload=N` on its
   * URL, so the import is not served from the module cache). First here, so that a module that
   * does not load — or would change what the protocol was built from — changes nothing; then
   * the WorkerPool, one thread at a time (the new thread first, then the old one finishes its
   * tasks and leaves); then every SubReactor, between two turns of its loop. No connection is
   * closed. Reloads run one after another.
   */
  reload(): Promise<void> {
    this.affinity.check();
    const done = this.reloading.then(() => this.reloadOnce());
    this.reloading = done.catch(() => { /* the caller of that reload has the error */ });
    return done;
  }

  private async reloadOnce(): Promise<void> {
    if (this.stopRequested || this.closing !== null || this.lifecycle.draining || shutdownRequested()) throw new Error('reload(): the server is shutting down');
    // A new number even if this one fails: a module that failed to load stays failed in the cache.
    const url = versionedUrl(this.settings.app, ++this.appVersion);
    sameShape(await loadApp(this.appUrl), await loadApp(url)); // throws: the new module's own error, or what differs
    this.appUrl = url;
    await this.pool.reload(url);
    await Promise.all(this.subs.map((s) => this.reloadSubReactor(s, url)));
    this.board.reloaded();
  }

  /** Tell SubReactor `s` to import `url` between two turns; resolves when it runs it. */
  private reloadSubReactor(s: SubReactorHandle, url: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      s.reloaded = (report) => {
        s.reloaded = null;
        if (report.error === null) resolve();
        else reject(new Error(`reload: reactor ${s.index} kept the previous app module: ${report.error}`));
      };
      void s.exited.then(() => s.reloaded?.({ kind: 'reloaded', error: 'the thread ended first' }));
      const note: ReloadNote = { kind: 'reload', app: url };
      s.control.postMessage(note);
      this.wakeFlags.wake(s.index, s.wakeFd);
    });
  }
  // #endregion reload
}

/** `app` with `?reload=N`: a URL the module cache has not seen. Only file: modules can be re-read. */
function versionedUrl(app: string, version: number): string {
  const url = new URL(app);
  if (url.protocol !== 'file:') throw new Error(`reload(): only a file: app module can be imported afresh, not ${url.protocol}`);
  url.searchParams.set('reload', String(version));
  return url.href;
}

/**
 * A SubReactor built its protocol from what the module exported at start: whether it has
 * onReceive (TCP: the app's or echo), its webSocketPaths, its codec. A reload cannot change
 * those under open connections, so a module that would is refused.
 */
function sameShape(before: App, after: App): void {
  const shape = (app: App) => JSON.stringify([app.onReceive !== undefined, app.onMessage !== undefined, app.webSocketPaths ?? [], app.codec?.spec ?? null]);
  if (shape(before) !== shape(after)) {
    throw new Error('reload(): the new app module changes onReceive, onMessage, webSocketPaths or codec, which are fixed at start; restart the server instead');
  }
}

// #region push-mesh
/**
 * The push mesh (push.ts): one MessageChannel per pair of SubReactors. `mesh[i][j]` is reactor
 * i's end of its channel to reactor j (null for i = j). Each end belongs to one thread, so a push
 * never waits for a lock: reactors × (reactors - 1) ports in all, created once at start.
 */
function pushMesh(reactors: number): Array<Array<MessagePort | null>> {
  const mesh = Array.from({ length: reactors }, () => new Array<MessagePort | null>(reactors).fill(null));
  for (let i = 0; i < reactors; i++) {
    for (let j = i + 1; j < reactors; j++) {
      const { port1, port2 } = new MessageChannel();
      mesh[i]![j] = port1;
      mesh[j]![i] = port2;
    }
  }
  return mesh;
}
// #endregion push-mesh

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
