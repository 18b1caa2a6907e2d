/**
 * The acceptor: takes new connections off a non-blocking listening socket, on a reactor's
 * thread, and hands each one on (to `Reactor.adopt` in step 05; to a sub-reactor in step 06).
 * After muduo's Acceptor.
 *
 * Running out of file descriptors (EMFILE) is the hard part. accept4 then fails, and the
 * connection stays in the kernel's queue — so a level-triggered listener is reported readable
 * again at once, and the loop spins at 100 % CPU doing nothing. muduo's answer: keep a spare fd
 * (open on /dev/null). On EMFILE, close the spare, accept the connection with the fd that freed,
 * close it at once, and reopen the spare. The client learns at once that it was refused instead
 * of hanging — by a reset, not a clean close, if its request had already arrived (close with
 * unread input sends an RST; lingering would need the fd we lack).
 * If even that fails (another thread took the freed fd), stop watching the listener for 100 ms.
 *
 * Ownership: the acceptor does not own the listening socket (its creator closes it); it owns
 * its spare fd. Threads: everything runs on the reactor's thread.
 */
import { openSync } from 'node:fs';
import * as sys from '@course/syscalls';
import type { Reactor } from './reactor.js';

const { C } = sys;

export interface AcceptorOptions {
  /**
   * Register the listener edge-triggered and accept until EAGAIN on each event (an edge is not
   * repeated for connections already queued). Otherwise level-triggered, one accept per event:
   * the listener stays readable while connections wait, so none is lost.
   */
  edgeTriggered?: boolean;
  /** How long to stop accepting when even the spare fd cannot help. Default 100 ms. */
  backoffMs?: number;
  /**
   * Register the listener with EPOLLEXCLUSIVE: when the same listener is in several epoll sets
   * (one per thread), a new connection wakes one waiting thread, not all of them (step 06's
   * `--accept exclusive`).
   */
  exclusive?: boolean;
}

// #region acceptor
export class Acceptor {
  /**
   * Connections handed on, and connections closed at once for lack of fds; and, to show a
   * thundering herd: how often epoll reported the listener (`wakeups`), how many of those
   * accepted nothing (`empty`: another thread took the connection first), and how many accept4
   * calls found the queue empty (`eagain`).
   */
  readonly stats = { accepted: 0, rejected: 0, wakeups: 0, empty: 0, eagain: 0 };
  private spareFd: number;
  private watching = false;
  private closed = false;
  private readonly edgeTriggered: boolean;
  private readonly backoffMs: number;
  private readonly exclusive: boolean;
  /** Bound once, so that registering the listener allocates nothing per event. */
  private readonly onReadable = (): void => this.acceptReady();

  /**
   * Start accepting on `listenFd` (non-blocking) in `reactor`. `onConnection(fd)` receives each
   * new socket, non-blocking and close-on-exec, and owns it from then on.
   */
  constructor(
    private readonly reactor: Reactor,
    readonly listenFd: number,
    private readonly onConnection: (fd: number) => void,
    opts: AcceptorOptions = {},
  ) {
    this.edgeTriggered = opts.edgeTriggered ?? false;
    this.backoffMs = opts.backoffMs ?? 100;
    this.exclusive = opts.exclusive ?? false;
    this.spareFd = openSpare();
    this.start();
  }

  /** Accept what is waiting: one connection (level-triggered) or all of them (edge-triggered). */
  acceptReady(): void {
    this.stats.wakeups++;
    const before = this.stats.accepted;
    for (;;) {
      const fd = sys.accept4(this.listenFd, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      if (fd >= 0) {
        this.stats.accepted++;
        this.onConnection(fd);
      } else if (fd === -C.EAGAIN) {
        this.stats.eagain++;
        if (this.stats.accepted === before) this.stats.empty++;
        return; // the queue is empty
      } else if (fd === -C.EINTR || fd === -C.ECONNABORTED) {
        continue; // a signal, or a client that gave up while queued: try the next one
      } else if (fd === -C.EMFILE || fd === -C.ENFILE) {
        const shed = this.shedOne();
        if (shed === -C.EAGAIN) return;
        if (shed < 0) return this.backOff(); // even the spare did not help
      } else {
        return this.backOff(); // ENOBUFS, ENOMEM...: give the system a moment rather than spin
      }
      if (!this.edgeTriggered) return; // LT: epoll reports the listener again if more wait
    }
  }

  /** Stop accepting and release the spare fd. The listening socket stays open. */
  close(): void {
    this.closed = true;
    if (this.watching) this.reactor.unwatch(this.listenFd);
    this.watching = false;
    if (this.spareFd >= 0) sys.close(this.spareFd);
    this.spareFd = -1;
  }

  private start(): void {
    if (this.closed || this.watching) return;
    if (this.spareFd < 0) this.spareFd = openSpare();
    // Registering re-checks readiness, so connections that queued meanwhile are reported (ET too).
    this.reactor.watch(this.listenFd, this.onReadable, this.edgeTriggered, C.EPOLLIN | (this.exclusive ? C.EPOLLEXCLUSIVE : 0));
    this.watching = true;
  }

  /**
   * Out of fds: free the spare, accept one connection with it, close that connection, and take
   * the spare back. Returns the accept result: >= 0 one connection shed, -EAGAIN none was waiting,
   * other -errno (EMFILE again: another thread took the freed fd) the spare did not help.
   */
  // #region shed-one
  private shedOne(): number {
    if (this.spareFd < 0) this.spareFd = openSpare();
    if (this.spareFd < 0) return -C.EMFILE;
    sys.close(this.spareFd);
    this.spareFd = -1;
    const fd = sys.accept4(this.listenFd, C.SOCK_CLOEXEC);
    if (fd >= 0) {
      sys.close(fd);
      this.stats.rejected++;
    }
    this.spareFd = openSpare();
    return fd;
  }
  // #endregion shed-one

  /** Stop watching the listener for a while: a level-triggered listener would otherwise spin. */
  private backOff(): void {
    if (!this.watching) return;
    this.reactor.unwatch(this.listenFd);
    this.watching = false;
    this.reactor.after(this.backoffMs, () => this.start());
  }
}
// #endregion acceptor

/** A spare fd on /dev/null, or -1 if none is free right now. */
function openSpare(): number {
  try {
    return openSync('/dev/null', 'r');
  } catch {
    return -1;
  }
}
