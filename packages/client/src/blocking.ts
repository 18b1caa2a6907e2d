/**
 * The blocking client, for contrast (swoole's sync Client; the client side of step 01):
 *
 *   socket → connect (sleeps for the handshake) → write the request → read until the response
 *   is complete (sleeps for the server) → the next request
 *
 * Simple, and one connection per thread: while it waits for one server nothing else happens on
 * the thread. It uses the same client session as the reactor's client, with the blocking sink
 * that steps 01-03 use on the server side: only the way bytes move differs.
 *
 * Ownership: the client owns its socket until `close()`. Threads: the thread that created it.
 */
import * as sys from '@course/syscalls';
import { HttpClientSession, type HttpResponse } from '@course/protocol';
import { BlockingSink } from '@course/server-kit';

const { C } = sys;

/** Reused by every blocking client of this thread; no read outlives its call. */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

export class BlockingHttpClient {
  private readonly sink: BlockingSink;
  private readonly session: HttpClientSession;
  private closed = false;

  private constructor(readonly fd: number) {
    this.sink = new BlockingSink(fd);
    this.session = new HttpClientSession(this.sink);
  }

  /** Connect, blocking. Throws SysError (`connect 127.0.0.1:1: ECONNREFUSED`). */
  static connect(host: string, port: number): BlockingHttpClient {
    const family = host.includes(':') ? C.AF_INET6 : C.AF_INET;
    const fd = sys.check(sys.socket(family, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0), 'socket');
    for (;;) {
      const r = sys.connect(fd, host, port);
      if (r === 0) break;
      // A signal interrupted the wait: the handshake goes on; connect again reports how it ends.
      if (r === -C.EINTR || r === -C.EALREADY) continue;
      if (r === -C.EISCONN) break;
      sys.close(fd);
      throw new sys.SysError(-r, 'connect', sys.formatHostPort(host, port));
    }
    sys.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
    return new BlockingHttpClient(fd);
  }

  /**
   * Send one request (bytes from `encodeRequest`) and block until its response is complete.
   * Throws SysError when a syscall fails, Error when the response is invalid or never comes.
   */
  // #region blocking-request
  request(bytes: Uint8Array, head = false): HttpResponse {
    if (this.closed) throw new Error('client is closed');
    let result: HttpResponse | undefined;
    let failure: Error | undefined;
    this.session.request(bytes, (err, res) => {
      if (err !== null) failure = err;
      else result = res;
    }, head);
    this.sink.flush();
    if (this.sink.broken) failure ??= new Error('write failed: the server is gone');
    while (result === undefined && failure === undefined) {
      const n = sys.read(this.fd, readBuffer, 0, readBuffer.length);
      if (n > 0) this.session.receive(readBuffer.subarray(0, n));
      else if (n === 0) this.session.peerClosed();
      else if (n !== -C.EINTR) {
        this.close();
        throw new sys.SysError(-n, 'read');
      }
    }
    if (failure !== undefined) {
      this.close();
      throw failure;
    }
    return result!;
  }
  // #endregion blocking-request

  /** Close the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.close();
    sys.close(this.fd);
  }
}
