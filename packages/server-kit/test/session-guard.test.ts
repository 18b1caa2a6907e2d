/**
 * The session guard in the blocking serve loop of steps 01-03, in-process over a socketpair: a
 * session that throws ends its connection with the protocol's fault answer, and the call
 * returns (the accepting loop goes on) instead of throwing.
 */
import { describe, expect, it } from 'vitest';
import * as sys from '@course/syscalls';
import { DEMO_SITE_ROOT, httpProtocol, type Protocol, type Session, type Sink } from '@course/protocol';
import { serveConnection } from '../src/blocking.js';

const { C } = sys;

/** HTTP, except that a session throws on its first bytes, after queuing `before` (if any). */
function throwingProtocol(before?: string): Protocol {
  const http = httpProtocol({ root: DEMO_SITE_ROOT });
  return {
    ...http,
    open(sink: Sink): Session {
      const session = http.open(sink);
      return {
        receive() {
          if (before !== undefined) sink.write(Buffer.from(before));
          throw new Error('injected');
        },
        peerClosed() { session.peerClosed(); },
        drained() { session.drained(); },
        close() { session.close(); },
        midRequest: false,
        awaiting: false,
        paused: false,
      };
    },
  };
}

/** Serve one connection whose client sent `request` and half-closed; return what it got. */
function serveOne(protocol: Protocol, request: string): string {
  const out = new Int32Array(2);
  sys.check(sys.socketpair(C.AF_UNIX, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0, out), 'socketpair');
  const [server, client] = [out[0]!, out[1]!];
  sys.write(client, Buffer.from(request), 0, request.length);
  sys.shutdown(client, C.SHUT_WR);
  serveConnection(server, protocol); // must return, not throw; it closes `server`
  const buf = Buffer.alloc(64 * 1024);
  let got = '';
  for (let n; (n = sys.read(client, buf, 0, buf.length)) > 0; ) got += buf.toString('latin1', 0, n);
  sys.close(client);
  return got;
}

describe('serveConnection with a session that throws', () => {
  it('answers 500 with Connection: close when nothing of an answer was queued', () => {
    const got = serveOne(throwingProtocol(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
    expect(got).toMatch(/\r\nConnection: close\r\n/);
  });

  it('sends what was queued and nothing more when an answer had begun', () => {
    const got = serveOne(throwingProtocol('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhal'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(got).toBe('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhal');
  });
});
