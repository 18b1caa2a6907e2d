/**
 * Property tests of the request parser (fast-check).
 *
 * - Generated valid pipelined streams parse to exactly the requests they were built from.
 * - Where the reads split a stream never matters: random splits, one byte per push, and a read
 *   buffer reused between pushes all give the result of a single push — for valid streams, for
 *   mutated ones, for HTTP-flavoured noise and for random bytes, with default and tiny limits.
 * - Nothing throws, the output is always requests followed by nothing or one repeated error, and
 *   the parser never holds more than one (bounded) partial line.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DEFAULT_LIMITS, RequestParser, isParseError, type HttpLimits, type HttpParseError, type HttpRequest } from '../src/http/parser.js';

// ---------------------------------------------------------------------------------------------
// Running the parser
// ---------------------------------------------------------------------------------------------

interface Outcome {
  requests: HttpRequest[];
  error: HttpParseError | null;
  midRequest: boolean;
  buffered: number;
}

/** Longest partial line the parser may hold: a request line, a header section, a chunk-size line. */
function bufferBound(limits: HttpLimits): number {
  return Math.max(limits.maxRequestLine + 1, limits.maxHeaderBytes, 4096 + 1);
}

/**
 * Pushes `input` cut at `cuts`, each piece copied into one reused read buffer (as a model does),
 * checking after every push the invariants that hold at any moment.
 */
function feed(input: Uint8Array, cuts: number[], limits: Partial<HttpLimits> = {}): Outcome {
  const parser = new RequestParser(limits);
  const bound = bufferBound({ ...DEFAULT_LIMITS, ...limits });
  const readBuffer = Buffer.alloc(input.length + 1);
  const requests: HttpRequest[] = [];
  let error: HttpParseError | null = null;
  const drain = (): void => {
    for (let r = parser.next(); r !== null; r = parser.next()) {
      if (isParseError(r)) {
        expect(parser.next(), 'an error is returned again and again').toBe(r);
        error ??= r;
        expect(r).toBe(error);
        return;
      }
      expect(error, 'no request after an error').toBeNull();
      requests.push(r);
    }
  };
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, input.length]) {
    if (to <= from) continue;
    readBuffer.set(input.subarray(from, to));
    parser.push(readBuffer.subarray(0, to - from));
    readBuffer.fill(0xee, 0, to - from); // whatever the parser keeps must be its own copy
    expect(parser.buffered).toBeLessThanOrEqual(bound);
    drain();
    from = to;
  }
  drain();
  return { requests, error, midRequest: parser.midRequest, buffered: parser.buffered };
}

const wholeAtOnce = (input: Uint8Array, limits?: Partial<HttpLimits>): Outcome => feed(input, [], limits);
const byteByByte = (input: Uint8Array, limits?: Partial<HttpLimits>): Outcome =>
  feed(input, Array.from({ length: input.length }, (_, i) => i), limits);

// ---------------------------------------------------------------------------------------------
// Valid requests, built from a model
// ---------------------------------------------------------------------------------------------

type Body = { kind: 'none' } | { kind: 'length'; data: Uint8Array } | { kind: 'chunked'; chunks: Array<{ size: number; ext: string }>; trailers: Array<[string, string]> };

interface Model {
  method: string;
  path: string;
  query: string | null;
  versionMinor: 0 | 1;
  host: string;
  fields: Array<[name: string, value: string, padBefore: string, padAfter: string]>;
  body: Body;
  emptyLinesBefore: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,10}$/;
const RESERVED_NAMES = new Set(['host', 'connection', 'content-length', 'transfer-encoding']);

const token = fc.stringMatching(TOKEN);
const fieldName = token.filter((n) => !RESERVED_NAMES.has(n.toLowerCase()));
/** A field value without surrounding OWS: VCHAR, obs-text, and SP/HTAB inside. */
const fieldValue = fc
  .array(fc.oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x20, 0x09)), { maxLength: 16 })
  .map((codes) => String.fromCharCode(...codes).replace(/^[ \t]+|[ \t]+$/g, ''));
const ows = fc.stringMatching(/^[ \t]{0,2}$/);

const body: fc.Arbitrary<Body> = fc.oneof(
  fc.constant<Body>({ kind: 'none' }),
  fc.uint8Array({ maxLength: 40 }).map((data): Body => ({ kind: 'length', data })),
  fc.record({
    chunks: fc.array(fc.record({ size: fc.integer({ min: 1, max: 30 }), ext: fc.constantFrom('', ';a', ';a=b', ' ; n = "v \\" w"', ';x;y=z') }), { maxLength: 4 }),
    trailers: fc.array(fc.tuple(token, fieldValue), { maxLength: 2 }),
  }).map((c): Body => ({ kind: 'chunked', ...c })),
);

const model: fc.Arbitrary<Model> = fc.record({
  method: fc.oneof(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'), token.filter((t) => t !== 'CONNECT')),
  path: fc.stringMatching(/^(\/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,8}){1,3}$/),
  query: fc.option(fc.stringMatching(/^[A-Za-z0-9=&%+._~/?-]{0,12}$/)),
  versionMinor: fc.constantFrom<0 | 1>(0, 1),
  host: fc.stringMatching(/^[a-z0-9.-]{1,12}(:[0-9]{1,5})?$/),
  fields: fc.array(fc.tuple(fieldName, fieldValue, ows, ows), { maxLength: 5 }),
  body,
  emptyLinesBefore: fc.nat(2),
});

/** The bytes of a request, and the HttpRequest the parser must make of them. */
function build(m: Model, last: boolean, close: boolean): { wire: Buffer; expected: HttpRequest } {
  const keepAlive = !(last && close);
  const target = m.query === null ? m.path : `${m.path}?${m.query}`;
  const lines = [`${m.method} ${target} HTTP/1.${m.versionMinor}`, `Host: ${m.host}`];
  const headers: Array<[string, string]> = [['host', m.host]];
  for (const [name, value, before, after] of m.fields) {
    lines.push(`${name}:${before}${value}${after}`);
    headers.push([name.toLowerCase(), value]);
  }
  const connection = keepAlive ? (m.versionMinor === 0 ? 'keep-alive' : null) : 'close';
  if (connection !== null) {
    lines.push(`Connection: ${connection}`);
    headers.push(['connection', connection]);
  }
  const b = m.versionMinor === 0 && m.body.kind === 'chunked' ? ({ kind: 'none' } as Body) : m.body; // no TE in HTTP/1.0
  let payload = Buffer.alloc(0);
  if (b.kind === 'length') {
    lines.push(`Content-Length: ${b.data.length}`);
    headers.push(['content-length', String(b.data.length)]);
    payload = Buffer.from(b.data);
  } else if (b.kind === 'chunked') {
    lines.push('Transfer-Encoding: chunked');
    headers.push(['transfer-encoding', 'chunked']);
    const parts = b.chunks.map((c) => `${c.size.toString(16)}${c.ext}\r\n${'x'.repeat(c.size)}\r\n`);
    parts.push('0\r\n', ...b.trailers.map(([n, v]) => `${n}: ${v}\r\n`), '\r\n');
    payload = Buffer.from(parts.join(''), 'latin1');
  }
  const head = `${'\r\n'.repeat(m.emptyLinesBefore)}${lines.join('\r\n')}\r\n\r\n`;
  const expected: HttpRequest = {
    method: m.method,
    target,
    path: m.path,
    query: m.query ?? '',
    versionMinor: m.versionMinor,
    headers,
    keepAlive,
    hasBody: b.kind === 'chunked' || (b.kind === 'length' && b.data.length > 0),
  };
  return { wire: Buffer.concat([Buffer.from(head, 'latin1'), payload]), expected };
}

/** 1–4 pipelined valid requests; the last one may close the connection. */
const stream = fc.record({ models: fc.array(model, { minLength: 1, maxLength: 4 }), close: fc.boolean() }).map(({ models, close }) => {
  const built = models.map((m, i) => build(m, i === models.length - 1, close));
  return { bytes: Buffer.concat(built.map((b) => b.wire)), expected: built.map((b) => b.expected) };
});

/** A valid stream with a few bytes replaced, inserted or deleted. */
const mutatedStream = fc
  .tuple(stream, fc.array(fc.tuple(fc.constantFrom('replace', 'insert', 'delete'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
  .map(([s, edits]) => {
    const b = [...s.bytes];
    for (const [kind, at, value] of edits) {
      const i = at % (b.length + 1);
      if (kind === 'insert') b.splice(i, 0, value);
      else if (i < b.length) kind === 'replace' ? (b[i] = value) : b.splice(i, 1);
    }
    return Uint8Array.from(b);
  });

/** Noise made of HTTP's own pieces after a plausible start, so that random input gets past the first line. */
const httpNoise = fc
  .tuple(
    fc.constantFrom('', 'GET / HTTP/1.1\r\n', 'POST /x HTTP/1.1\r\nHost: h\r\n', 'PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'),
    fc.array(
    fc.constantFrom(
      'GET', 'POST', ' ', '/', '/a?b', '*', 'http://h/', 'h:1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', '\r\n', '\r\n\r\n', '\r', '\n', '\t',
      'Host', 'Host: h\r\n', ': ', ':', 'Content-Length', ': 5', ': 3, 3', 'Transfer-Encoding', ': chunked', 'gzip, ', 'Connection: close\r\n',
      '0', '5', 'a', 'ff', ';x', '="q\\"', ',', 'x', '\x00', '\x7f', '\xe9',
    ),
      { maxLength: 40 },
    ),
  )
  .map(([start, pieces]) => Uint8Array.from(Buffer.from(start + pieces.join(''), 'latin1')));

const cuts = fc.array(fc.nat(), { maxLength: 12 });
/** Limits the generated streams hit often (414, 431 and 413 each in a good share of cases). */
const TINY: Partial<HttpLimits> = { maxRequestLine: 40, maxHeaderBytes: 90, maxHeaders: 5, maxBodyBytes: 24 };

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('valid streams', () => {
  test('parse to exactly the requests they were built from', () => {
    fc.assert(
      fc.property(stream, ({ bytes, expected }) => {
        const out = wholeAtOnce(bytes);
        expect(out.error).toBeNull();
        expect(out.requests).toEqual(expected);
        expect(out.midRequest).toBe(false);
        expect(out.buffered).toBe(0);
      }),
    );
  });

  test('random splits give the result of one push', () => {
    fc.assert(
      fc.property(stream, cuts, ({ bytes }, at) => {
        expect(feed(bytes, at)).toEqual(wholeAtOnce(bytes));
      }),
    );
  });

  test('byte-by-byte feeding gives the result of one push', () => {
    fc.assert(
      fc.property(stream, ({ bytes }) => {
        expect(byteByByte(bytes)).toEqual(wholeAtOnce(bytes));
      }),
    );
  });

  test('a stream cut short is a request in progress, never an error', () => {
    fc.assert(
      fc.property(stream, fc.nat(), ({ bytes, expected }, at) => {
        const cut = at % bytes.length;
        const out = wholeAtOnce(bytes.subarray(0, cut));
        expect(out.error).toBeNull();
        expect(out.requests).toEqual(expected.slice(0, out.requests.length));
      }),
    );
  });

  test('with tiny limits, splits still never change the verdict (413/414/431 included)', () => {
    fc.assert(
      fc.property(stream, cuts, ({ bytes }, at) => {
        expect(feed(bytes, at, TINY)).toEqual(wholeAtOnce(bytes, TINY));
      }),
    );
  });
});

describe('malformed input never throws, and splits never change the verdict', () => {
  for (const [name, input] of [
    ['mutated valid streams', mutatedStream],
    ['HTTP-flavoured noise', httpNoise],
    ['random bytes', fc.uint8Array({ maxLength: 200 })],
  ] as const) {
    test(`${name}: random splits`, () => {
      fc.assert(
        fc.property(input, cuts, (bytes, at) => {
          expect(feed(bytes, at)).toEqual(wholeAtOnce(bytes));
        }),
        { numRuns: 300 },
      );
    });

    // Thousands of one-byte pushes: seconds on a loaded 2-core machine. The limit only stops a hang.
    test(`${name}: byte by byte, tiny limits`, { timeout: 60_000 }, () => {
      fc.assert(
        fc.property(input, (bytes) => {
          expect(byteByByte(bytes, TINY)).toEqual(wholeAtOnce(bytes, TINY));
        }),
        { numRuns: 200 },
      );
    });
  }

  test('long random streams keep the buffer bounded', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 4096 }), { maxLength: 20 }), (reads) => {
        const parser = new RequestParser(TINY);
        for (const read of reads) {
          parser.push(read);
          expect(parser.buffered).toBeLessThanOrEqual(bufferBound({ ...DEFAULT_LIMITS, ...TINY }));
        }
      }),
      { numRuns: 50 },
    );
  });
});
