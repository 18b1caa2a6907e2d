/**
 * Unit tests of the request parser: one behaviour per test, every status it can answer.
 * Inputs are written as latin1 strings, one byte per character.
 */
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_LIMITS,
  RequestParser,
  getHeader,
  isParseError,
  type HttpLimits,
  type HttpParseError,
  type HttpRequest,
} from '../src/http/parser.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Everything the parser makes of `input` pushed at once. */
function parse(input: string, limits?: Partial<HttpLimits>): { requests: HttpRequest[]; error: HttpParseError | null; parser: RequestParser } {
  const parser = new RequestParser(limits);
  parser.push(bytes(input));
  const requests: HttpRequest[] = [];
  for (let r = parser.next(); r !== null; r = parser.next()) {
    if (isParseError(r)) return { requests, error: r, parser };
    requests.push(r);
  }
  return { requests, error: null, parser };
}

/** The single request `input` holds. */
function one(input: string): HttpRequest {
  const { requests, error } = parse(input);
  expect(error).toBeNull();
  expect(requests).toHaveLength(1);
  return requests[0]!;
}

/** The error `input` ends in (after any valid requests). */
function errorOf(input: string, limits?: Partial<HttpLimits>): HttpParseError {
  const { error } = parse(input, limits);
  expect(error).not.toBeNull();
  return error!;
}

const GET = 'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n';

describe('a simple request', () => {
  test('method, target, version and headers are parsed; names lower-cased, values trimmed', () => {
    const req = one('GET /a/b%20c?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  \t spaced value \t \r\nAccept: */*\r\n\r\n');
    expect(req).toEqual({
      method: 'GET',
      target: '/a/b%20c?x=1&y=2',
      path: '/a/b%20c',
      query: 'x=1&y=2',
      versionMinor: 1,
      headers: [
        ['host', 'example.com'],
        ['x-thing', 'spaced value'],
        ['accept', '*/*'],
      ],
      keepAlive: true,
      hasBody: false,
    });
  });

  test('getHeader finds the first value of a lower-case name', () => {
    const req = one('GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n');
    expect(getHeader(req, 'x-a')).toBe('1');
    expect(getHeader(req, 'x-missing')).toBeUndefined();
  });

  test('empty values, HTAB inside values and obs-text (latin1) are kept', () => {
    const req = one('GET / HTTP/1.1\r\nHost: h\r\nEmpty:\r\nTab: a\tb\r\nLatin: D\xfcsseldorf \xff\r\n\r\n');
    expect(req.headers.slice(1)).toEqual([
      ['empty', ''],
      ['tab', 'a\tb'],
      ['latin', 'D\u00fcsseldorf \u00ff'],
    ]);
  });

  test('HTTP/1.0 needs no Host', () => {
    const req = one('GET /x HTTP/1.0\r\n\r\n');
    expect(req.versionMinor).toBe(0);
    expect(req.headers).toEqual([]);
  });

  test('methods keep their case (they are case-sensitive); field names of any case are lower-cased', () => {
    const req = one('get / HTTP/1.1\r\nHOST: h\r\nuSeR-aGeNt: x\r\nX-Custom-Thing: y\r\n\r\n');
    expect(req.method).toBe('get');
    expect(req.headers.map(([name]) => name)).toEqual(['host', 'user-agent', 'x-custom-thing']);
  });

  test('any token is a method (the session decides what it implements)', () => {
    expect(one('M-SEARCH.x / HTTP/1.1\r\nHost: h\r\n\r\n').method).toBe('M-SEARCH.x');
  });

  test('a fragment is dropped from path and query but kept in the target', () => {
    const req = one('GET /p?q=1#frag HTTP/1.1\r\nHost: h\r\n\r\n');
    expect([req.target, req.path, req.query]).toEqual(['/p?q=1#frag', '/p', 'q=1']);
    expect(one('GET /p#f?x HTTP/1.1\r\nHost: h\r\n\r\n').query).toBe('');
  });

  test('empty lines before a request line are ignored (RFC 9112 §2.2)', () => {
    const parser = new RequestParser();
    parser.push(bytes('\r\n\r\n'));
    expect(parser.midRequest).toBe(false);
    expect(parser.next()).toBeNull();
    parser.push(bytes('\r'));
    expect(parser.midRequest).toBe(false);
    parser.push(bytes('\n' + GET));
    expect((parser.next() as HttpRequest).path).toBe('/');
  });
});

describe('request-target forms (RFC 9112 §3.2)', () => {
  test('absolute-form: the path and query are extracted', () => {
    const req = one('GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n');
    expect([req.target, req.path, req.query]).toEqual(['http://example.com:8080/a/b?c=d', '/a/b', 'c=d']);
  });

  test('absolute-form without a path is the root; the scheme is case-insensitive; https too', () => {
    expect(one('GET HTTP://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n')).toMatchObject({ path: '/', query: 'x=1' });
    expect(one('GET https://h HTTP/1.1\r\nHost: h\r\n\r\n')).toMatchObject({ path: '/', query: '' });
    expect(one('GET http://[::1]:80/x HTTP/1.1\r\nHost: h\r\n\r\n').path).toBe('/x');
  });

  test.each([
    ['another scheme', 'ftp://h/x'],
    ['an empty host (RFC 9110 §4.2.1)', 'http:///x'],
    ['userinfo (RFC 9110 §4.2.4)', 'http://user:pw@h/x'],
    ['a relative path', 'index.html'],
    ['authority-form with GET', 'example.com:443'],
    ['asterisk-form with GET', '*'],
  ])('400 for %s', (_what, target) => {
    expect(errorOf(`GET ${target} HTTP/1.1\r\nHost: h\r\n\r\n`)).toMatchObject({ status: 400, reason: expect.stringMatching(/request-target/) });
  });

  test('asterisk-form is parsed for OPTIONS', () => {
    expect(one('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n')).toMatchObject({ target: '*', path: '*', keepAlive: true });
  });

  test('authority-form is parsed for CONNECT, which ends the stream: later bytes may be tunnel data', () => {
    const { requests, error, parser } = parse('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01 not http');
    expect(error).toBeNull();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: 'CONNECT', target: 'example.com:443', path: '/', keepAlive: false, hasBody: false });
    expect(parser.buffered).toBe(0);
    expect(parser.midRequest).toBe(false);
  });

  test('CONNECT needs host:port', () => {
    expect(errorOf('CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n').status).toBe(400);
    expect(errorOf('CONNECT example.com HTTP/1.1\r\nHost: h\r\n\r\n').status).toBe(400);
  });
});

describe('keep-alive (RFC 9112 §9.3)', () => {
  test.each([
    ['HTTP/1.1', '', true],
    ['HTTP/1.1', 'Connection: close\r\n', false],
    ['HTTP/1.1', 'Connection: Close\r\n', false],
    ['HTTP/1.1', 'Connection: keep-alive, close\r\n', false],
    ['HTTP/1.1', 'Connection: upgrade\r\nConnection: CLOSE\r\n', false],
    ['HTTP/1.1', 'Connection: Upgrade\r\nUpgrade: websocket\r\n', true],
    ['HTTP/1.0', '', false],
    ['HTTP/1.0', 'Connection: keep-alive\r\n', true],
    ['HTTP/1.0', 'Connection: Keep-Alive\r\n', true],
    ['HTTP/1.0', 'Connection: keep-alive,close\r\n', false],
    ['HTTP/1.1', 'Connection: te, \xa0close\r\n', true], // 0xA0 is obs-text, not whitespace
  ])('%s with %j → keepAlive %s', (version, fields, keepAlive) => {
    expect(one(`GET / ${version}\r\nHost: h\r\n${fields}\r\n`).keepAlive).toBe(keepAlive);
  });

  test('nothing after a request that closes the connection is parsed or buffered (§9.6)', () => {
    const { requests, error, parser } = parse(`GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n${GET}garbage`);
    expect(requests.map((r) => r.path)).toEqual(['/a']);
    expect(error).toBeNull();
    parser.push(bytes('more garbage'));
    expect(parser.next()).toBeNull();
    expect(parser.buffered).toBe(0);
  });
});

describe('bodies are framed and discarded', () => {
  test('a GET body (Content-Length) is consumed, then the pipelined request is parsed', () => {
    const { requests, error } = parse(`GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 13\r\n\r\nGET /evil HTT${GET}`);
    expect(error).toBeNull();
    expect(requests.map((r) => [r.path, r.hasBody])).toEqual([
      ['/a', true],
      ['/', false],
    ]);
  });

  test('Content-Length: 0 frames no body; leading zeros and identical repeats are accepted (RFC 9112 §6.3)', () => {
    expect(one('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n').hasBody).toBe(false);
    expect(one('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc').hasBody).toBe(true);
    expect(one('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc').hasBody).toBe(true);
  });

  test('chunked, with extensions (token, quoted, BWS) and trailers, then a pipelined request', () => {
    const body =
      '5;a=b;c\r\nhello\r\n' +
      '6 ; q="x \\"y\\" ;z" ;  n = v\r\n world\r\n' +
      '000\r\nTrailer-One: 1\r\nTrailer-Two: two\r\n\r\n';
    const { requests, error } = parse(`POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n${body}${GET}`);
    expect(error).toBeNull();
    expect(requests.map((r) => [r.path, r.hasBody])).toEqual([
      ['/up', true],
      ['/', false],
    ]);
    expect(requests[0]!.headers).toEqual([
      ['host', 'h'],
      ['transfer-encoding', 'Chunked'],
    ]); // trailers are not headers
  });

  test('the body can arrive in any number of pieces without being buffered', () => {
    const parser = new RequestParser();
    parser.push(bytes('PUT /f HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n'));
    const piece = Buffer.alloc(999, 0x41);
    for (let sent = 0; sent < 100000; sent += piece.length) {
      expect(parser.midRequest).toBe(true);
      parser.push(piece.subarray(0, Math.min(piece.length, 100000 - sent)));
      expect(parser.buffered).toBe(0);
    }
    expect((parser.next() as HttpRequest).hasBody).toBe(true);
    expect(parser.midRequest).toBe(false);
  });
});

describe('incremental feeding', () => {
  test('pipelined requests in one push come out in order, then null', () => {
    const parser = new RequestParser();
    parser.push(bytes(`${GET}GET /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HTTP/1.0\r\n\r\n`));
    expect([parser.next(), parser.next(), parser.next()].map((r) => (r as HttpRequest).path)).toEqual(['/', '/2', '/3']);
    expect(parser.next()).toBeNull();
  });

  test('midRequest and buffered follow a request cut at every byte', () => {
    const input = bytes('POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    const parser = new RequestParser();
    for (let i = 0; i < input.length; i++) {
      parser.push(input.subarray(i, i + 1));
      expect(parser.midRequest).toBe(i < input.length - 1);
      expect(parser.buffered).toBeLessThanOrEqual(i + 1);
    }
    expect(parser.buffered).toBe(0);
    expect((parser.next() as HttpRequest).path).toBe('/x');
  });

  test('bytes are copied: the caller may reuse its buffer after push', () => {
    const readBuffer = Buffer.alloc(64);
    const parser = new RequestParser();
    const first = bytes('GET /first HTTP/1.1\r\nHo');
    first.copy(readBuffer);
    parser.push(readBuffer.subarray(0, first.length));
    readBuffer.fill(0x58); // the model reads the next bytes into the same buffer
    const second = bytes('st: h\r\n\r\n');
    second.copy(readBuffer);
    parser.push(readBuffer.subarray(0, second.length));
    expect(parser.next()).toMatchObject({ path: '/first', headers: [['host', 'h']] });
  });

  test('a plain Uint8Array (not a Buffer) is accepted', () => {
    const parser = new RequestParser();
    parser.push(new Uint8Array(bytes(GET)));
    expect((parser.next() as HttpRequest).method).toBe('GET');
  });
});

describe('errors are final', () => {
  test('requests before the error come first, then the same error for ever; later bytes are dropped', () => {
    const parser = new RequestParser();
    parser.push(bytes(`${GET}GET / HTTP/1.1\r\nBad Name: x\r\n\r\n`));
    expect((parser.next() as HttpRequest).path).toBe('/');
    const error = parser.next();
    expect(error).toEqual({ status: 400, reason: 'invalid character in field name' });
    parser.push(bytes(GET));
    expect(parser.next()).toBe(error);
    expect(parser.next()).toBe(error);
    expect(parser.buffered).toBe(0);
    expect(parser.midRequest).toBe(false);
  });

  test('isParseError tells errors from requests', () => {
    expect(isParseError({ status: 400, reason: 'x' })).toBe(true);
    expect(isParseError(one(GET))).toBe(false);
    expect(isParseError(null)).toBe(false);
  });
});

describe('400: malformed request lines', () => {
  test.each([
    ['two spaces', 'GET  / HTTP/1.1'],
    ['a tab separator', 'GET\t/ HTTP/1.1'],
    ['a trailing space', 'GET / HTTP/1.1 '],
    ['no version (HTTP/0.9 style)', 'GET /'],
    ['lower-case protocol', 'GET / http/1.1'],
    ['a one-digit version', 'GET / HTTP/1'],
    ['a three-digit version', 'GET / HTTP/1.10'],
    ['another protocol', 'GET / RTSP/1.0'],
    ['an empty method', ' / HTTP/1.1'],
    ['a method with a non-token byte', 'G(ET / HTTP/1.1'],
    ['a control byte in the target', 'GET /a\x01b HTTP/1.1'],
    ['a DEL in the target', 'GET /a\x7f HTTP/1.1'],
    ['obs-text in the target', 'GET /\xe9 HTTP/1.1'],
    ['a bare CR inside the line', 'GET /\r HTTP/1.1'],
  ])('%s', (_what, line) => {
    expect(errorOf(`${line}\r\nHost: h\r\n\r\n`).status).toBe(400);
  });

  test('a request line ended by a bare LF (we accept CRLF only)', () => {
    expect(errorOf('GET / HTTP/1.1\nHost: h\r\n\r\n')).toEqual({ status: 400, reason: 'invalid request line (bare LF)' });
  });

  test('a bare LF as an empty line before the request', () => {
    expect(errorOf(`\n${GET}`).status).toBe(400);
  });
});

describe('505: well-formed but unsupported versions', () => {
  test.each(['HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'HTTP/3.0', 'HTTP/9.9'])('%s', (version) => {
    expect(errorOf(`GET / ${version}\r\nHost: h\r\n\r\n`)).toEqual({ status: 505, reason: `${version} not supported` });
  });
});

describe('400: malformed field lines (RFC 9112 §5, RFC 9110 §5.5)', () => {
  test.each([
    ['obs-fold', 'X-A: 1\r\n  folded', /obs-fold/],
    ['whitespace before the first field', ' X-A: 1', /obs-fold/],
    ['whitespace between name and colon (§5.1 MUST)', 'X-A : 1', /whitespace between field name and colon/],
    ['a tab between name and colon', 'X-A\t: 1', /whitespace between field name and colon/],
    ['an empty name', ': 1', /empty field name/],
    ['no colon', 'X-A 1', /whitespace between|without a colon|field name/],
    ['a non-token byte in the name', 'X(A): 1', /field name/],
    ['NUL in the value', 'X-A: a\x00b', /field value/],
    ['a control byte in the value', 'X-A: a\x0cb', /field value/],
    ['DEL in the value', 'X-A: a\x7fb', /field value/],
    ['a bare CR in the value', 'X-A: a\rb', /bare CR/],
    ['a bare LF ending the line', 'X-A: a\nX-B: b', /bare LF/],
  ])('%s', (_what, line, reason) => {
    expect(errorOf(`GET / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`)).toMatchObject({ status: 400, reason: expect.stringMatching(reason) });
  });

  test('a bare CR where the empty line should be', () => {
    expect(errorOf('PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\rabc')).toMatchObject({ status: 400, reason: expect.stringMatching(/bare CR/) });
  });
});

describe('400: Host (RFC 9112 §3.2)', () => {
  test.each([
    ['missing in HTTP/1.1', 'GET / HTTP/1.1\r\n\r\n', /missing Host/],
    ['twice', 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', /more than one Host/],
    ['twice, in HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n', /more than one Host/],
    ['with a space inside', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', /invalid Host/],
    ['with a path', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', /invalid Host/],
    ['with userinfo', 'GET / HTTP/1.1\r\nHost: u@a\r\n\r\n', /invalid Host/],
    ['with a non-numeric port', 'GET / HTTP/1.1\r\nHost: a:b\r\n\r\n', /invalid Host/],
  ])('%s', (_what, input, reason) => {
    expect(errorOf(input)).toMatchObject({ status: 400, reason: expect.stringMatching(reason) });
  });

  test.each(['localhost:8080', '127.0.0.1', '[::1]:80', 'xn--bcher-kva.example', ''])('valid: %j', (host) => {
    expect(one(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`).headers).toEqual([['host', host]]);
  });
});

describe('400: Content-Length (RFC 9112 §6.3 item 5)', () => {
  test.each([
    ['not a number', 'abc'],
    ['negative', '-1'],
    ['signed', '+5'],
    ['two numbers', '4 2'],
    ['differing list values', '5, 6'],
    ['an empty list element', '5,'],
    ['empty', ''],
    ['hexadecimal', '0x10'],
  ])('%s', (_what, value) => {
    expect(errorOf(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${value}\r\n\r\n`)).toMatchObject({ status: 400 });
  });

  test('differing values on two field lines, judged on the second line', () => {
    expect(errorOf('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n')).toEqual({
      status: 400,
      reason: 'differing Content-Length values',
    });
  });
});

describe('400/501: Transfer-Encoding (RFC 9112 §6.1, §6.3)', () => {
  const post = (fields: string): string => `POST / HTTP/1.1\r\nHost: h\r\n${fields}\r\n0\r\n\r\n`;
  test.each([
    ['with Content-Length', 'Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', /both/],
    ['after Content-Length', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', /both/],
    ['chunked not last', 'Transfer-Encoding: chunked, gzip\r\n', /not the final/],
    ['chunked not last, over two lines', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n', /not the final/],
    ['without chunked', 'Transfer-Encoding: identity\r\n', /not the final/],
    ['unknown, without chunked', 'Transfer-Encoding: pigeons\r\n', /not the final/],
    ['chunked twice', 'Transfer-Encoding: chunked, chunked\r\n', /more than once/],
    ['chunked with a parameter', 'Transfer-Encoding: chunked;q=1\r\n', /not the final/],
    ['empty', 'Transfer-Encoding:\r\n', /malformed/],
    ['not a token list', 'Transfer-Encoding: chunked;\r\n', /malformed/],
  ])('400 %s', (_what, fields, reason) => {
    expect(errorOf(post(fields))).toMatchObject({ status: 400, reason: expect.stringMatching(reason) });
  });

  test('400 for Transfer-Encoding in HTTP/1.0', () => {
    expect(errorOf('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')).toMatchObject({ status: 400 });
  });

  test.each(['gzip, chunked', 'deflate,chunked', 'x-custom;p="a,b", chunked'])('501 for %j: only chunked is implemented', (value) => {
    expect(errorOf(post(`Transfer-Encoding: ${value}\r\n`)).status).toBe(501);
  });

  test('empty list elements are ignored (RFC 9110 §5.6.1.2)', () => {
    expect(one(post('Transfer-Encoding: , chunked ,\r\n')).hasBody).toBe(true);
  });
});

describe('400: chunked framing (RFC 9112 §7.1)', () => {
  const chunked = (body: string): string => `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
  test.each([
    ['a non-hex size', 'g\r\n'],
    ['an empty size line', '\r\n'],
    ['a space after the size', 'a \r\n0123456789\r\n0\r\n\r\n'],
    ['text after the size', '2 xx\r\naa\r\n0\r\n\r\n'],
    ['a semicolon without extension', '2;\r\naa\r\n0\r\n\r\n'],
    ['an unterminated quoted extension', '2;a="b\r\naa\r\n0\r\n\r\n'],
    ['a bare LF after the size', '2\naa\r\n0\r\n\r\n'],
    ['a bare CR after the size', '2\raa\r\n0\r\n\r\n'],
    ['no CRLF after the data', '2\r\naaX\r\n0\r\n\r\n'],
    ['LF only after the data', '2\r\naa\n0\r\n\r\n'],
    ['an obs-fold in the trailers', '0\r\nT: 1\r\n  2\r\n\r\n'],
  ])('%s', (_what, body) => {
    expect(errorOf(chunked(body)).status).toBe(400);
  });

  test('an over-long chunk-size line (extensions) is refused before it is buffered', () => {
    const { error, parser } = parse(chunked(`1;x=${'a'.repeat(5000)}`));
    expect(error).toEqual({ status: 400, reason: 'chunk-size line too long' });
    expect(parser.buffered).toBe(0);
  });
});

describe('413, 414, 431: limits', () => {
  const limits: Partial<HttpLimits> = { maxRequestLine: 40, maxHeaderBytes: 64, maxHeaders: 3, maxBodyBytes: 10 };

  test('the defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxRequestLine: 8190, maxHeaderBytes: 16384, maxHeaders: 100, maxBodyBytes: 1048576 });
  });

  test('413 for a Content-Length above the limit, at once', () => {
    expect(errorOf('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n', limits)).toEqual({ status: 413, reason: 'body too large' });
    expect(errorOf('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n').status).toBe(413);
    expect(one('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789').hasBody).toBe(true);
  });

  test('413 when the chunk sizes add up past the limit', () => {
    const head = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(parse(`${head}5\r\n12345\r\n5\r\n12345\r\n0\r\n\r\n`, limits).error).toBeNull();
    expect(errorOf(`${head}5\r\n12345\r\n6\r\n`, limits).status).toBe(413);
    expect(errorOf(`${head}ffffffffffffffffffffffff\r\n`).status).toBe(413);
  });

  test('414 for a request line over the limit, and before its end has arrived', () => {
    expect(errorOf(`GET /${'a'.repeat(35)} HTTP/1.1\r\nHost: h\r\n\r\n`, limits).status).toBe(414);
    expect(parse(`GET /${'a'.repeat(25)} HTTP/1.1\r\nHost: h\r\n\r\n`, limits).error).toBeNull(); // exactly 40
    const { error, parser } = parse(`GET /${'a'.repeat(100)}`, limits);
    expect(error).toEqual({ status: 414, reason: 'request line too long' });
    expect(parser.buffered).toBe(0);
  });

  test('414 with the default limit while the line is still arriving', () => {
    const parser = new RequestParser();
    parser.push(bytes('GET /'));
    const chunk = bytes('a'.repeat(1000));
    while (parser.next() === null) parser.push(chunk);
    expect(parser.next()).toEqual({ status: 414, reason: 'request line too long' });
    expect(parser.buffered).toBe(0);
  });

  test('431 for too many header lines', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n', limits).error).toBeNull();
    expect(errorOf('GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', limits)).toEqual({ status: 431, reason: 'too many header fields' });
  });

  test('431 for a header section over the limit, before its end has arrived', () => {
    expect(errorOf(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'v'.repeat(60)}\r\n\r\n`, limits).status).toBe(431);
    const { error, parser } = parse(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'v'.repeat(200)}`, limits);
    expect(error?.status).toBe(431);
    expect(parser.buffered).toBe(0);
  });

  test('a header section exactly at the limit is accepted however it is split (the final CRLF is free)', () => {
    const input = bytes(`GET / HTTP/1.1\r\nHost: h\r\nX: ${'v'.repeat(81)}\r\n\r\n`); // 9 + 86 = 95 bytes of fields
    const parser = new RequestParser({ maxHeaderBytes: 95 });
    for (let i = 0; i < input.length; i++) parser.push(input.subarray(i, i + 1));
    expect(parser.next()).toMatchObject({ path: '/' });
    expect(errorOf(input.toString('latin1'), { maxHeaderBytes: 94 }).status).toBe(431);
  });

  test('431 for trailers over the limits', () => {
    const head = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n';
    expect(errorOf(`${head}A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n`, limits).status).toBe(431);
    expect(errorOf(`${head}T: ${'v'.repeat(100)}\r\n\r\n`, limits).status).toBe(431);
  });
});
