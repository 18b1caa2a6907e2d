/**
 * An HTTP client connection on the course's reactor: connect without blocking, then hand the
 * socket to the same `Reactor` that serves accepted connections, with a client-side session.
 *
 *   connectNonBlocking → reactor.adopt(fd, peer, a protocol whose open() is a new HttpClientSession)
 *   session.request(bytes, done) → the reactor writes it, reads the answer, the session parses it
 *
 * Nothing here reads or writes a socket: the reactor moves the bytes (epoll_wait → read →
 * session.receive; sink → writev at the end of the turn), exactly as for a server connection. That
 * is the point of the Session seam: a connection is a connection, whoever opened it. (swoole's
 * async Client and gnet's client run on their server's event loop in the same way.)
 *
 * Threads: the reactor's thread only; callbacks run there.
 */
import * as sys from '@course/syscalls';
import { HttpClientSession, type Protocol } from '@course/protocol';
import type { Reactor } from '05-epoll-native';
import { connectNonBlocking, type ConnectOptions } from './connect.js';

/** A client connection, or why there is none. */
export type OpenCallback = (err: sys.SysError | null, session?: HttpClientSession) => void;

/**
 * Connect to `host:port` and adopt the connection into `reactor`. `done` gets the session to send
 * requests on (`session.request(encodeRequest(...), cb)`). `onClose` runs when the connection ends.
 */
// #region adopt-client
export function openHttpConnection(reactor: Reactor, host: string, port: number, done: OpenCallback, opts: ConnectOptions & { onClose?: () => void } = {}): void {
  connectNonBlocking(
    reactor,
    host,
    port,
    (err, conn) => {
      if (err !== null || conn === undefined) return done(err);
      let session: HttpClientSession | undefined;
      // A protocol of one session, with no fault response: if the client session itself throws,
      // the reactor's guard closes the connection, and a server must not be sent an HTTP 500.
      const client: Protocol = { name: 'http', scheme: 'http', open: (sink) => (session = new HttpClientSession(sink, opts.onClose)) };
      reactor.adopt(conn.fd, { address: host, port }, client);
      if (session === undefined) return done(new sys.SysError(sys.C.ENOMEM, 'epoll_ctl', `ADD ${conn.fd}`)); // adopt refused it
      done(null, session);
    },
    opts,
  );
}
// #endregion adopt-client
