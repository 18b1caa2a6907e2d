/**
 * Step 02 — a process per connection, and the pool of processes that fixes it
 * (Stevens, UNP §30.5 "TCP concurrent server, one child per client" and §30.6 "TCP preforked
 * server, no locking around accept"; muduo's models 1 and 3).
 *
 *   --mode per-connection (default)
 *     parent: loop { accept (blocks) → fork → close its copy of the fd }, reaping exited children
 *     child:  serve that one connection with blocking calls → _exit
 *
 *   --mode prefork --workers N (default: one per core)
 *     parent: fork N children up front, then wait for them (replacing any that dies)
 *     child:  loop { accept on the shared listening socket (blocks) → serve → close }
 *
 * A stalled client now stalls only its own process. The price: a fork per connection — the fork,
 * the madvise calls before it (children.ts), the child's exit and its reaping, paid by every
 * connection — and a process per open connection. Prefork pays the forks once, but serves only N
 * clients at a time: N stalled clients stall it again. docs/02-fork.md ("Where it breaks") gives
 * the measured cost per connection and the command that measures it.
 */
import { availableParallelism } from 'node:os';
import * as sys from '@course/syscalls';
import { createProtocol, type Protocol } from '@course/protocol';
import { announce, exitNow, listenOrExit, log, parseCommandLine, peerOf, serveConnection, shutdownRequested, type Listener } from '@course/server-kit';
import { catchParentSignals, ChildSet, nap, stopRequested } from './children.js';
import { isSingleThreaded, relaunchSingleThreaded, WRAPPER_PID_ENV } from './relaunch.js';

const PKG = '02-fork';
const { C } = sys;

const opts = parseCommandLine(PKG, {
  mode: { kind: 'enum', default: 'per-connection', values: ['per-connection', 'prefork'], help: 'a process per connection, or a pool of N' },
  workers: { kind: 'int', default: availableParallelism(), min: 1, max: 1024, help: 'prefork: number of processes' },
});

if (!isSingleThreaded()) {
  relaunchSingleThreaded(); // this process becomes a thin wrapper around the real server
} else {
  dieWithWrapper();
  const protocol = createProtocol(opts.protocol, { root: opts.root, codec: opts.codec });
  catchParentSignals(); // before listen: from now on SIGTERM interrupts our blocking calls
  const listener = listenOrExit(PKG, opts); // a blocking listening socket, shared by every child
  if (opts.mode === 'prefork') prefork(listener, protocol, opts.workers);
  else processPerConnection(listener, protocol);
}

// #region process-per-connection
/** UNP §30.5: the parent accepts, a new child serves each connection. Never returns. */
function processPerConnection(listener: Listener, protocol: Protocol): never {
  announce(listener, protocol, PKG, { model: 'process-per-connection' });
  const children = new ChildSet();
  const wanted = new Int32Array([listener.fd, C.POLLIN, 0]);

  for (;;) {
    children.reap(); // after every wake-up: SIGCHLD woke us, or a connection did
    if (stopRequested()) break;
    // A SIGCHLD that lands between reap() and the blocking call below wakes nobody (C closes this
    // gap with ppoll/pselect, which atomically unblock the signal and wait). So while children
    // live, wait in poll with a timeout: a zombie lasts at most a second. With none, just block.
    if (children.size > 0 && sys.poll(wanted, 1, 1000) <= 0) continue; // timeout or EINTR
    const fd = sys.accept4(listener.fd, C.SOCK_CLOEXEC); // blocks; SIGCHLD/SIGTERM → -EINTR
    if (fd < 0) continue; // EINTR: loop reaps and checks for shutdown; ECONNABORTED: client left

    const pid = children.fork(() => {
      // The child. It does not accept: close its copy of the listener so that only the parent
      // holds it (and a stray accept here is impossible).
      sys.close(listener.fd);
      serveConnection(fd, protocol, peerOf(fd)); // blocks until this client is done
    }); // (the child never gets here: it _exits inside fork)

    if (pid < 0) log(`${PKG}: fork: ${sys.errnoName(pid)}; dropping the connection`);
    // The parent's copy of the connection. Without this close the peer would never see EOF —
    // the socket stays open while any process holds it — and the parent would run out of fds.
    sys.close(fd);
  }

  children.stopAll();
  sys.close(listener.fd);
  exitNow(0);
}
// #endregion process-per-connection

/**
 * UNP §30.6: N children each block in accept on the one listening socket they inherited.
 *
 * The thundering herd: when a connection arrives, does the kernel wake all N sleepers for one of
 * them to win? Not on Linux, for a *blocking accept*: sleepers wait on the socket's queue as
 * exclusive waiters (WQ_FLAG_EXCLUSIVE, since 2.4), and each connection wakes exactly one. The
 * herd is still there if the children wait in select/poll/epoll on the shared socket instead —
 * every waiter wakes, one accept wins, the rest get EAGAIN — which is what EPOLLEXCLUSIVE (4.5)
 * and SO_REUSEPORT (3.9: a listening socket, and a queue, per process) address; no step of this
 * course uses SO_REUSEPORT yet. (Stevens' lock around accept, §30.7, is another matter: on SVR4
 * accept is a library function, and concurrent calls on one socket can fail there. Linux's accept
 * is a system call and needs no lock.) packages/bench measures our wake-ups per connection for
 * N = 1, 2, 4 and 8 (the herd).
 */
// #region prefork
function prefork(listener: Listener, protocol: Protocol, workers: number): never {
  const children = new ChildSet();
  const startChild = (): number =>
    children.fork(() => {
      // The child: a little iterative server (step 01) on the shared socket.
      while (!shutdownRequested()) {
        const fd = sys.accept4(listener.fd, C.SOCK_CLOEXEC); // all N wait here; one wins each connection
        if (fd < 0) continue; // EINTR: SIGTERM (loop checks); ECONNABORTED: client left
        serveConnection(fd, protocol, peerOf(fd));
      }
    });

  for (let i = 0; i < workers; i++) {
    const pid = startChild();
    if (pid < 0) {
      log(`${PKG}: fork: ${sys.errnoName(pid)}`);
      children.stopAll();
      exitNow(1);
    }
  }
  announce(listener, protocol, PKG, { model: 'prefork', workers });

  // #region replace-dead-children
  // The parent serves nobody: it waits for children to exit. A child should only die if killed
  // (or by a bug): replace it, as Apache's prefork does — after a pause, so that children that
  // die at once cannot make us fork in a tight loop.
  for (;;) {
    children.waitAny(); // blocks until a child exits; SIGTERM or SIGCHLD → -EINTR
    if (stopRequested()) break;
    nap(100);
    while (children.size < workers && !stopRequested()) {
      if (startChild() < 0) { nap(1000); break; } // out of processes: try again later
    }
  }
  // #endregion replace-dead-children

  children.stopAll();
  sys.close(listener.fd);
  exitNow(0);
}
// #endregion prefork

// #region die-with-wrapper
/**
 * Started by the wrapper (relaunch.ts)? Then die with it: should it be SIGKILLed it cannot pass on
 * a signal, and we would serve on, orphaned, holding the port.
 */
function dieWithWrapper(): void {
  const wrapper = Number(process.env[WRAPPER_PID_ENV]);
  if (!wrapper) return;
  sys.setParentDeathSignal(C.SIGTERM);
  if (sys.getppid() !== wrapper) exitNow(0); // it died before prctl took effect
}
// #endregion die-with-wrapper
