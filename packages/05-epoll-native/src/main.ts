/**
 * Step 05 — one thread, one epoll reactor (epoll(7); Redis' ae.c; muduo's EventLoop, model 5).
 *
 *   listen (non-blocking) → reactor: loop { epoll_wait → for each ready fd: accept | read | write }
 *
 * The thread sleeps in epoll_wait until some socket is ready, then does only the work that is
 * ready: no thread per connection, no busy polling. A stalled client costs a few hundred bytes
 * of state, not a thread. The price: everything shares one thread, so a slow handler stalls
 * every connection (step 06 answers that).
 *
 *   --mode lt          level-triggered: one read per event (the default; what libuv does)
 *   --mode et          edge-triggered: read and accept until EAGAIN on every event
 *   --mode et-nodrain  TEACHING BUG: edge-triggered but one read per event — watch a large
 *                      request stall forever
 *
 *   --send-batch calls a send(2) per socket, the turn's batch made in one call into the addon
 *                      (the default: this step is readiness and plain syscalls)
 *   --send-batch uring the batch enters the kernel once, as one io_uring submission (step 06's
 *                      default; send(2)s where io_uring is refused) — a preview of step 07
 */
import { createProtocol } from '@course/protocol';
import * as sys from '@course/syscalls';
import { announce, catchShutdownSignals, exitNow, listenOrExit, parseCommandLine, peerOf, protocolSettings, shutdownRequested } from '@course/server-kit';
import { Acceptor } from './acceptor.js';
import { Reactor, SEND_BATCH_MODES, sendBatchInUse, type ReactorMode, type SendBatchMode } from './reactor.js';

const PKG = '05-epoll-native';
const opts = parseCommandLine(PKG, {
  mode: { kind: 'enum', default: 'lt', values: ['lt', 'et', 'et-nodrain'], help: 'level-triggered, edge-triggered, or the edge-triggered bug (teaching)' },
  'header-timeout-ms': { kind: 'int', default: 10_000, min: 1, max: 3_600_000, help: 'close a connection whose request is not complete within this time' },
  'idle-timeout-ms': { kind: 'int', default: 60_000, min: 1, max: 3_600_000, help: 'close a keep-alive connection idle this long' },
  'high-water-mark': { kind: 'int', default: 1024 * 1024, min: 1, max: 1 << 30, help: 'stop reading from a connection with more unsent output than this (bytes)' },
  'send-batch': { kind: 'enum', default: 'calls', values: SEND_BATCH_MODES, help: 'a turn\'s sends: a send(2) each (calls), or one io_uring submission (uring)' },
});
const mode = opts.mode as ReactorMode;
const protocol = createProtocol(opts.protocol, protocolSettings(opts));

catchShutdownSignals(); // SIGTERM makes epoll_wait return -EINTR instead of killing us
const listener = listenOrExit(PKG, opts, { nonBlocking: true });
const reactor = new Reactor({
  protocol,
  mode,
  headerTimeoutMs: opts['header-timeout-ms'],
  idleTimeoutMs: opts['idle-timeout-ms'],
  highWaterMark: opts['high-water-mark'],
  sendBatch: opts['send-batch'] as SendBatchMode,
});
// The listener is one more fd in the same epoll set; each new socket is adopted by the reactor.
// (Accepting always drains in the ET modes: et-nodrain's bug is about reads only.)
const acceptor = new Acceptor(reactor, listener.fd, (fd) => reactor.adopt(fd, peerOf(fd)), { edgeTriggered: mode !== 'lt' });
const sends = sendBatchInUse(PKG, opts['send-batch'] as SendBatchMode);
announce(listener, protocol, PKG, { model: 'epoll-reactor', mode, 'send-batch': sends });

// #region run
while (!shutdownRequested()) reactor.runOnce(-1); // sleeps until a socket is ready or a deadline is due
// #endregion run

// Shutting down: stop accepting, let answers in flight finish (for at most 2 s), then close all.
acceptor.close();
sys.close(listener.fd);
const giveUpAt = Date.now() + 2000;
while (!reactor.drain() && Date.now() < giveUpAt) reactor.runOnce(50);
reactor.close();
exitNow(0);
