/**
 * Step 01 — the iterative server (Stevens, UNP §30.2; muduo's model 0).
 *
 * One thread does everything, one connection at a time:
 *
 *   listen → loop { accept (blocks) → serve that connection until it closes (blocks) → close }
 *
 * While a connection is being served, nobody else is: a second client waits in the kernel's
 * accept queue until the first one leaves. A client that sends half a request and stalls stops
 * the whole server. That is the problem every later step solves.
 */
import * as sys from '@course/syscalls';
import { createProtocol } from '@course/protocol';
import { announce, catchShutdownSignals, exitNow, listenOrExit, parseCommandLine, peerOf, serveConnection, shutdownRequested } from '@course/server-kit';

const PKG = '01-blocking';
const opts = parseCommandLine(PKG, {});
const protocol = createProtocol(opts.protocol, { root: opts.root, codec: opts.codec });

// #region catch-signals
catchShutdownSignals(); // SIGTERM interrupts accept/read with EINTR instead of killing us
// #endregion catch-signals
// #region listen
const listener = listenOrExit(PKG, opts); // socket, bind, listen — a blocking socket
// #endregion listen
announce(listener, protocol, PKG, { model: 'iterative' });

// #region accept-loop
while (!shutdownRequested()) {
  const fd = sys.accept4(listener.fd, sys.C.SOCK_CLOEXEC); // blocks until a client connects
  if (fd < 0) {
    // EINTR: a signal (loop re-checks shutdown); ECONNABORTED: the client gave up while queued;
    // EMFILE: out of fds — nothing to close here, the next connection ends and frees one.
    continue;
  }
  serveConnection(fd, protocol, peerOf(fd)); // blocks until this client is done
}
// #endregion accept-loop

sys.close(listener.fd);
exitNow(0);
