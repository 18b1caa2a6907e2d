/**
 * The client side on the reactor: non-blocking connect (refused, through EINPROGRESS, timed out),
 * HTTP over a connection adopted by step 05's Reactor, and the blocking client for contrast.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sys from '@course/syscalls';
import { Reactor } from '05-epoll-native';
import { DEMO_SITE_ROOT, encodeRequest, echoProtocol, type HttpClientSession, type HttpResponse } from '@course/protocol';
import { startServer, type RunningServer } from '@course/testkit';
import { BlockingHttpClient, connectNonBlocking, openHttpConnection, type Connected } from '../src/index.js';

const { C } = sys;

/** A port with nothing listening: bound (so no one else takes it) but never listen()ed. */
function closedPort(): { fd: number; port: number } {
  const fd = sys.check(sys.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0), 'socket');
  sys.check(sys.bind(fd, '127.0.0.1', 0), 'bind');
  const addr = sys.check(sys.getsockname(fd), 'getsockname');
  return { fd, port: addr.port };
}

/** Turn the reactor until `done()` says so (bounded: a test that hangs fails instead). */
function turnUntil(reactor: Reactor, done: () => boolean, maxTurns = 2000): void {
  for (let i = 0; i < maxTurns && !done(); i++) reactor.runOnce(10);
  if (!done()) throw new Error('the reactor never got there');
}

function connect(reactor: Reactor, port: number, timeoutMs?: number): { err: sys.SysError | null; conn?: Connected } {
  let outcome: { err: sys.SysError | null; conn?: Connected } | undefined;
  connectNonBlocking(reactor, '127.0.0.1', port, (err, conn) => { outcome = { err, conn }; }, timeoutMs === undefined ? {} : { timeoutMs });
  turnUntil(reactor, () => outcome !== undefined);
  return outcome!;
}

describe('non-blocking connect', () => {
  it('reports ECONNREFUSED, by name, for a closed port', () => {
    const reactor = new Reactor({ protocol: echoProtocol() });
    const closed = closedPort();
    try {
      const { err } = connect(reactor, closed.port);
      expect(err).toBeInstanceOf(sys.SysError);
      expect(err!.code).toBe('ECONNREFUSED');
      expect(err!.message).toBe(`connect 127.0.0.1:${closed.port}: ECONNREFUSED`);
    } finally {
      sys.close(closed.fd);
      reactor.close();
    }
  });

  it('completes through EINPROGRESS, EPOLLOUT and SO_ERROR 0', () => {
    const reactor = new Reactor({ protocol: echoProtocol() });
    const listener = sys.listenTcp({ host: '127.0.0.1', port: 0 });
    try {
      const { err, conn } = connect(reactor, listener.port);
      expect(err).toBeNull();
      expect(conn!.inProgress).toBe(true); // loopback too: the handshake finishes after connect() returns
      const peer = sys.check(sys.getpeername(conn!.fd), 'getpeername');
      expect(peer.port).toBe(listener.port);
      sys.close(conn!.fd);
    } finally {
      sys.close(listener.fd);
      reactor.close();
    }
  });

  it('gives up with ETIMEDOUT when the handshake does not finish', () => {
    // backlog 0: once one connection waits in the accept queue, the kernel drops further SYNs,
    // so the next connect stays in progress until the client gives up.
    const reactor = new Reactor({ protocol: echoProtocol() });
    const listener = sys.listenTcp({ host: '127.0.0.1', port: 0, backlog: 0 });
    const first = connect(reactor, listener.port);
    try {
      expect(first.err).toBeNull();
      const { err } = connect(reactor, listener.port, 200);
      expect(err!.code).toBe('ETIMEDOUT');
    } finally {
      if (first.conn) sys.close(first.conn.fd);
      sys.close(listener.fd);
      reactor.close();
    }
  });
});

describe('HTTP clients against step 05', () => {
  let server: RunningServer;
  let benchHtml: Buffer;
  beforeAll(async () => {
    server = await startServer('05-epoll-native');
    benchHtml = readFileSync(join(DEMO_SITE_ROOT, 'bench.html'));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('runs a client connection in the same Reactor as server connections, pipelined, in order', () => {
    const reactor = new Reactor({ protocol: echoProtocol() });
    try {
      let session: HttpClientSession | undefined;
      let closed = false;
      openHttpConnection(reactor, '127.0.0.1', server.port, (err, s) => {
        expect(err).toBeNull();
        session = s;
      }, { onClose: () => { closed = true; } });
      turnUntil(reactor, () => session !== undefined);
      expect(reactor.stats.connections).toBe(1);

      const host = `127.0.0.1:${server.port}`;
      const answers: Array<HttpResponse | Error> = [];
      const collect = (err: Error | null, res?: HttpResponse) => answers.push(err ?? res!);
      session!.request(encodeRequest({ target: '/bench.html', host }), collect);
      session!.request(encodeRequest({ method: 'HEAD', target: '/bench.html', host }), collect, true);
      session!.request(encodeRequest({ target: '/no-such-file', host }), collect);
      session!.request(encodeRequest({ target: '/bench.html', host, close: true }), collect);
      expect(session!.inFlight).toBe(4);
      turnUntil(reactor, () => answers.length === 4);
      const [get, head, missing, last] = answers as HttpResponse[];
      expect([get!.status, head!.status, missing!.status, last!.status]).toEqual([200, 200, 404, 200]);
      expect(get!.body.equals(benchHtml)).toBe(true);
      expect(head!.body.length).toBe(0);
      expect(head!.headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1]).toBe(String(benchHtml.length));
      expect(last!.keepAlive).toBe(false);
      // The server closes after Connection: close. The session is done at once; the reactor lingers
      // until the server's FIN arrives, then drops the connection.
      turnUntil(reactor, () => closed && reactor.stats.connections === 0);
      expect(reactor.stats.connections).toBe(0);
    } finally {
      reactor.close();
    }
  });

  it('the blocking client gets the same answers, one at a time', () => {
    const client = BlockingHttpClient.connect('127.0.0.1', server.port);
    try {
      const host = `127.0.0.1:${server.port}`;
      const res = client.request(encodeRequest({ target: '/bench.html', host }));
      expect(res.status).toBe(200);
      expect(res.body.equals(benchHtml)).toBe(true);
      expect(client.request(encodeRequest({ target: '/nope', host })).status).toBe(404);
    } finally {
      client.close();
    }
  });

  it('the blocking client throws ECONNREFUSED by name', () => {
    const closed = closedPort();
    try {
      expect(() => BlockingHttpClient.connect('127.0.0.1', closed.port)).toThrow(`connect 127.0.0.1:${closed.port}: ECONNREFUSED`);
    } finally {
      sys.close(closed.fd);
    }
  });
});
