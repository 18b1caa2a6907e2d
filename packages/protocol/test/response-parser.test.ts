/**
 * The response parser: framing (Content-Length, chunked, until close, no body), any split of the
 * bytes, pipelined bursts, errors — and the same bytes as node:http (llhttp) writes and reads them.
 */
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ResponseParser, type ParsedResponse } from '../src/index.js';

interface Seen {
  status: number;
  versionMinor: number;
  keepAlive: boolean;
  bodyLength: number;
  headers: Array<[string, string]>;
  body: string;
}

/** Parse `chunks` in order (collect mode); every response, the error if any, and finish()'s verdict. */
function parse(chunks: Uint8Array[], opts: { head?: boolean[]; collect?: boolean; finish?: boolean } = {}) {
  const seen: Seen[] = [];
  const errors: string[] = [];
  let n = 0;
  const parser = new ResponseParser(
    {
      onResponse(res: ParsedResponse) {
        seen.push({ status: res.status, versionMinor: res.versionMinor, keepAlive: res.keepAlive, bodyLength: res.bodyLength, headers: [...res.headers], body: res.body?.toString('latin1') ?? '' });
        n++;
      },
      onError(reason) {
        errors.push(reason);
      },
      answersHead: () => opts.head?.[n] ?? false,
    },
    { collect: opts.collect ?? true },
  );
  for (const c of chunks) parser.push(c);
  const clean = opts.finish === false ? null : parser.finish();
  return { seen, errors, clean };
}

const b = (s: string) => Buffer.from(s, 'latin1');

const STREAM = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n',
  'HTTP/1.1 204 No Content\r\n\r\n',
  'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n',
  'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nno!',
  'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end',
].join('');

const EXPECTED = [
  { status: 200, keepAlive: true, body: 'hello' },
  { status: 201, keepAlive: true, body: '' },
  { status: 200, keepAlive: true, body: 'Wikipedia' },
  { status: 204, keepAlive: true, body: '' },
  { status: 304, keepAlive: true, body: '' },
  { status: 404, keepAlive: true, body: 'no!' },
  { status: 200, keepAlive: true, body: 'ok' },
  { status: 200, keepAlive: false, body: 'until the end' },
];

describe('ResponseParser framing', () => {
  it('frames Content-Length, chunked, 1xx, 204, 304 and until-close bodies in one stream', () => {
    const { seen, errors, clean } = parse([b(STREAM)]);
    expect(errors).toEqual([]);
    expect(clean).toBe(true);
    expect(seen.map(({ status, keepAlive, body }) => ({ status, keepAlive, body }))).toEqual(EXPECTED);
    expect(seen[0]!.headers).toEqual([['Content-Length', '5'], ['X-A', '1']]);
    expect(seen[6]!.versionMinor).toBe(0);
    expect(seen[2]!.bodyLength).toBe(9); // decoded: the chunk framing is not counted
  });

  it('gives the same responses whatever the split: every single byte, and every two-way cut', () => {
    const whole = parse([b(STREAM)]).seen;
    const bytes = b(STREAM);
    expect(parse([...bytes].map((x) => Uint8Array.of(x))).seen).toEqual(whole);
    for (let cut = 1; cut < bytes.length; cut++) {
      const { seen, errors } = parse([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(errors, `cut at ${cut}`).toEqual([]);
      expect(seen, `cut at ${cut}`).toEqual(whole);
    }
  });

  it('counts a pipelined burst the same in count-only mode, one read or one byte at a time', () => {
    const one = 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nDate: x\r\n\r\nhello world\n';
    const burst = b(one.repeat(16));
    const fast = parse([burst], { collect: false });
    expect(fast.seen).toHaveLength(16);
    expect(fast.seen.every((r) => r.status === 200 && r.bodyLength === 12 && r.headers.length === 0 && r.body === '')).toBe(true);
    expect(parse([...burst].map((x) => Uint8Array.of(x)), { collect: false }).seen).toEqual(fast.seen);
  });

  it('gives the answer to HEAD no body, whatever its Content-Length says', () => {
    const stream = b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    const { seen } = parse([stream], { head: [true, false] });
    expect(seen.map((r) => r.body)).toEqual(['', 'hello']);
  });

  it('stops after a response that closes the connection', () => {
    const { seen, clean } = parse([b('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\n\r\n')]);
    expect(seen.map((r) => [r.status, r.keepAlive, r.body])).toEqual([[200, false, 'a']]);
    expect(clean).toBe(true);
  });

  it('treats HTTP/1.0 without keep-alive as closing', () => {
    const { seen } = parse([b('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na')]);
    expect(seen[0]!.keepAlive).toBe(false);
  });
});

describe('ResponseParser errors', () => {
  const bad: Array<[string, string]> = [
    ['HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', 'CRLF'],
    ['HTTP/2 200 OK\r\n\r\n', 'status line'],
    ['HTTP/1.1 20 OK\r\n\r\n', 'status line'],
    ['ICY 200 OK\r\n\r\n', 'status line'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'both'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'differing'],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'Content-Length'],
    ['HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n', 'header field'],
    ['HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n', 'folding'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'chunk size'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n', 'CRLF'],
  ];
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input.slice(0, 40))}…`, () => {
      const { seen, errors } = parse([b(input)], { finish: false });
      expect(seen).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain(why);
    });
  }

  it('reports a response cut short by the close', () => {
    const { seen, errors, clean } = parse([b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')]);
    expect(seen).toEqual([]);
    expect(clean).toBe(false);
    expect(errors[0]).toContain('closed in the middle');
  });

  it('refuses a header section over the limit, even when it never ends', () => {
    const errors: string[] = [];
    const parser = new ResponseParser({ onResponse() {}, onError: (r) => errors.push(r) }, { maxHeaderBytes: 100 });
    parser.push(b('HTTP/1.1 200 OK\r\nX: '));
    parser.push(b('a'.repeat(200)));
    expect(errors).toEqual(['header section longer than 100 bytes']);
  });
});

describe('ResponseParser against node:http (llhttp) on the same bytes', () => {
  it('reads what node:http writes as node:http itself reads it', async () => {
    // Three kinds of framing node:http chooses by itself: Content-Length, chunked, and a HEAD.
    const server = http.createServer((req, res) => {
      if (req.url === '/cl') res.end('content-length body');
      else if (req.url === '/chunked') {
        res.write('part one, ');
        res.write('part two');
        res.end();
      } else {
        res.setHeader('Content-Length', '7');
        res.end(req.method === 'HEAD' ? undefined : 'ignored');
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    try {
      const requests = ['GET /cl', 'GET /chunked', 'HEAD /head'];
      // The raw bytes node:http sends, read over a plain socket...
      const sock = net.connect(port, '127.0.0.1');
      await once(sock, 'connect');
      sock.write(requests.map((r) => `${r} HTTP/1.1\r\nHost: x\r\n\r\n`).join('') + 'GET /cl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const raw: Buffer[] = [];
      sock.on('data', (d: Buffer) => raw.push(d));
      await once(sock, 'close');
      const ours = parse([Buffer.concat(raw)], { head: [false, false, true, false] });
      expect(ours.errors).toEqual([]);
      // ...and what node's own client (llhttp) makes of the same answers.
      const theirs: Array<{ status: number; body: string }> = [];
      for (const r of [...requests, 'GET /cl']) {
        const [method, path] = r.split(' ');
        const res = await new Promise<http.IncomingMessage>((resolve) => http.request({ port, host: '127.0.0.1', method, path }, resolve).end());
        let body = '';
        res.setEncoding('latin1');
        res.on('data', (d: string) => { body += d; });
        await once(res, 'end');
        theirs.push({ status: res.statusCode!, body });
      }
      expect(ours.seen.map((r) => ({ status: r.status, body: r.body }))).toEqual(theirs);
      expect(ours.seen[3]!.keepAlive).toBe(false);
      expect(ours.seen.slice(0, 3).every((r) => r.keepAlive)).toBe(true);
      expect(ours.seen[1]!.headers.find(([k]) => k.toLowerCase() === 'transfer-encoding')?.[1]).toBe('chunked');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
