/**
 * The cheapest HTTP server this machine can run in Node: the yardstick for a load engine's own
 * ceiling. Every request gets the same prebuilt 200 response; nothing is parsed but the blank
 * line that ends each request head (it serves GET without bodies, which is all a load engine
 * sends), and a request with `Connection: close` is answered and closed. Not a model of the
 * course: a model must serve files and survive bad input, and this one does neither.
 *
 *   epoll_wait → accept | read → count "\r\n\r\n" → write that many canned responses in one write
 *
 * Whatever a load engine delivers against it is what the engine can do, as long as this server
 * does less work per request than the engine does (it does: no framing, no timing, no histogram).
 *
 *   pnpm --filter @course/client canned [--port N] [--host H]
 *
 * Same CLI contract as the models: prints `listening on http://HOST:PORT`, SIGTERM exits 0.
 */
import { writeSync } from 'node:fs';
import * as sys from '@course/syscalls';
import { catchShutdownSignals, exitNow, listenOrExit, parseCommandLine, shutdownRequested } from '@course/server-kit';

const { C } = sys;
const PKG = '@course/client canned-server';

const opts = parseCommandLine(PKG, {});
catchShutdownSignals();
const listener = listenOrExit(PKG, opts, { nonBlocking: true });

const BODY = 'hello from the canned server\n';
const RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`, 'latin1');
/** Up to 64 responses back to back: a pipelined burst is answered with one write. */
const MAX_BURST = 64;
const RESPONSES = Buffer.concat(Array.from({ length: MAX_BURST }, () => RESPONSE));
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');
/** A churning client asks to close: answer once, saying so, and close first (as a server does). */
const CLOSE_ASKED = Buffer.from('\r\nConnection: close\r\n', 'latin1');
const CLOSING_RESPONSE = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`, 'latin1');

const epfd = sys.check(sys.epoll_create1(C.EPOLL_CLOEXEC), 'epoll_create1');
sys.check(sys.epoll_ctl(epfd, C.EPOLL_CTL_ADD, listener.fd, C.EPOLLIN), 'epoll_ctl');
const events = new Int32Array(2 * 1024);
const buf = Buffer.allocUnsafe(64 * 1024);
/** Per connection: how many bytes of "\r\n\r\n" ended the last read (a head split across reads). */
const carry: number[] = [];

const host = listener.host.includes(':') ? `[${listener.host}]` : listener.host;
writeSync(1, `listening on http://${host}:${listener.port} canned-server pid=${process.pid}\n`);

while (!shutdownRequested()) {
  const n = sys.epoll_wait(epfd, events, 1024, -1);
  for (let i = 0; i < n; i++) {
    const fd = events[2 * i + 1]!;
    if (fd === listener.fd) {
      const conn = sys.accept4(listener.fd, C.SOCK_NONBLOCK | C.SOCK_CLOEXEC);
      if (conn < 0) continue;
      sys.setsockopt(conn, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
      carry[conn] = 0;
      sys.epoll_ctl(epfd, C.EPOLL_CTL_ADD, conn, C.EPOLLIN | C.EPOLLRDHUP);
      continue;
    }
    const r = sys.read(fd, buf, 0, buf.length);
    if (r === -C.EAGAIN || r === -C.EINTR) continue;
    if (r <= 0) {
      sys.close(fd); // the client left (or reset): close(2) also drops it from the epoll set
      continue;
    }
    if (buf.subarray(0, r).includes(CLOSE_ASKED)) {
      sys.write(fd, CLOSING_RESPONSE, 0, CLOSING_RESPONSE.length);
      sys.close(fd);
      continue;
    }
    const requests = countHeads(fd, r);
    // A short write would need an output queue; a load engine reads everything, so one is never needed
    // here — and if it were, the engine would count the missing answers as timeouts.
    for (let left = requests; left > 0; left -= MAX_BURST) sys.write(fd, RESPONSES, 0, Math.min(left, MAX_BURST) * RESPONSE.length);
  }
}
exitNow(0);

/** Requests whose head ended in `buf[0, r)`, the "\r\n\r\n" possibly split across reads. */
function countHeads(fd: number, r: number): number {
  let count = 0;
  let matched = carry[fd] ?? 0;
  // Finish a terminator begun in the previous read, byte by byte.
  let i = 0;
  while (matched > 0 && i < r) {
    if (buf[i] === END_OF_HEAD[matched]) {
      i++;
      if (++matched === 4) { count++; matched = 0; }
    } else matched = 0;
  }
  for (;;) {
    const at = buf.indexOf(END_OF_HEAD, i);
    if (at < 0 || at + 4 > r) break;
    count++;
    i = at + 4;
  }
  // Remember a partial terminator at the very end of this read.
  matched = 0;
  for (let k = Math.max(i, r - 3); k < r; k++) {
    if (buf[k] === END_OF_HEAD[matched]) matched++;
    else matched = buf[k] === END_OF_HEAD[0] ? 1 : 0;
  }
  carry[fd] = matched;
  return count;
}
