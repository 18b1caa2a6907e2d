/**
 * The client session against the course's own server session, in process: what HttpSession
 * answers to a pipelined burst, fed back to HttpClientSession whole and split at every byte,
 * reaches each request's callback in order. Plus the ways a connection ends early.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_SITE_ROOT, HttpClientSession, encodeRequest, httpProtocol, type HttpResponse } from '../src/index.js';
import { RecordingSink } from '../src/testing.js';

const HOST = '127.0.0.1:8080';
const benchHtml = readFileSync(join(DEMO_SITE_ROOT, 'bench.html'));

/** A client session and what its callbacks got. */
function client() {
  const sink = new RecordingSink();
  let closed = 0;
  const session = new HttpClientSession(sink, () => { closed++; });
  const got: Array<{ status: number; body: string; keepAlive: boolean } | string> = [];
  const ask = (bytes: Buffer, head = false) =>
    session.request(bytes, (err, res?: HttpResponse) => got.push(err ? err.message : { status: res!.status, body: res!.body.toString('latin1'), keepAlive: res!.keepAlive }), head);
  return { sink, session, got, ask, closed: () => closed };
}

/** The server's answer to `requests`, as the course's HttpSession writes it. */
function serverAnswer(requests: Buffer): Buffer {
  const sink = new RecordingSink();
  const session = httpProtocol({ root: DEMO_SITE_ROOT }).open(sink);
  session.receive(requests);
  return sink.output();
}

describe('HttpClientSession against HttpSession', () => {
  const burst = [
    encodeRequest({ target: '/bench.html', host: HOST }),
    encodeRequest({ method: 'HEAD', target: '/bench.html', host: HOST }),
    encodeRequest({ target: '/no-such-page', host: HOST }),
    encodeRequest({ method: 'DELETE', target: '/bench.html', host: HOST }),
    encodeRequest({ target: '/bench.html', host: HOST, close: true }),
  ];
  const heads = [false, true, false, false, false];

  function runWith(split: (answer: Buffer) => Buffer[]) {
    const c = client();
    burst.forEach((b, i) => c.ask(b, heads[i]));
    const answer = serverAnswer(c.sink.output()); // the client's writes are what the server reads
    for (const part of split(answer)) c.session.receive(part);
    return c;
  }

  it('gets every pipelined answer in order, and the close', () => {
    const c = runWith((a) => [a]);
    expect(c.got).toEqual([
      { status: 200, body: benchHtml.toString('latin1'), keepAlive: true },
      { status: 200, body: '', keepAlive: true },
      expect.objectContaining({ status: 404, keepAlive: true }),
      expect.objectContaining({ status: 405, keepAlive: true }),
      { status: 200, body: benchHtml.toString('latin1'), keepAlive: false },
    ]);
    expect(c.sink.ended).toBe(true); // the server said close: so does the client
    expect(c.session.inFlight).toBe(0);
  });

  it('gets the same answers when they arrive a byte at a time', () => {
    const whole = runWith((a) => [a]).got;
    expect(runWith((a) => [...a].map((x) => Buffer.of(x))).got).toEqual(whole);
  });

  it('fails the requests after a closing answer, and refuses new ones', () => {
    const c = client();
    c.ask(encodeRequest({ target: '/bench.html', host: HOST, close: true }));
    c.ask(encodeRequest({ target: '/bench.html', host: HOST }));
    c.session.receive(serverAnswer(c.sink.output()));
    expect(c.got[0]).toEqual(expect.objectContaining({ status: 200, keepAlive: false }));
    expect(c.got[1]).toBe('the server closes the connection after an earlier response');
    c.ask(encodeRequest({ target: '/', host: HOST }));
    expect(c.got[2]).toBe('connection is closing: the request was not sent');
  });

  it('fails every request on an invalid response, and on a close before the answer', () => {
    const bad = client();
    bad.ask(encodeRequest({ target: '/', host: HOST }));
    bad.ask(encodeRequest({ target: '/', host: HOST }));
    bad.session.receive(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n'));
    expect(bad.got).toEqual(['invalid response: invalid Content-Length', 'invalid response: invalid Content-Length']);
    expect(bad.sink.ended).toBe(true);

    const cut = client();
    cut.ask(encodeRequest({ target: '/', host: HOST }));
    cut.session.receive(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(cut.session.midRequest).toBe(true); // an answer is owed: models time it
    cut.session.peerClosed();
    expect(cut.got).toEqual(['invalid response: connection closed in the middle of a response']);
    cut.session.close();
    expect(cut.closed()).toBe(1);
  });

  it('an unsolicited response is an error', () => {
    const c = client();
    c.session.receive(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(c.sink.ended).toBe(true);
    c.ask(encodeRequest({ target: '/', host: HOST }));
    expect(c.got).toEqual(['connection is closing: the request was not sent']);
  });

  it('refuses request bytes that would split the request', () => {
    expect(() => encodeRequest({ target: '/a b', host: HOST })).toThrow('invalid request-target');
    expect(() => encodeRequest({ target: '/', host: 'x\r\nEvil: 1' })).toThrow('invalid header value');
    expect(() => encodeRequest({ method: 'G T', target: '/', host: HOST })).toThrow('invalid method');
  });
});
