/**
 * Hostile input, sent over raw sockets to every model (one server per configuration, started once):
 *
 *   - llhttp's request vectors, as they are and with a Host line added;
 *   - path traversal in every encoding, symlinks out of the root, dotfiles;
 *   - request smuggling shapes (TE + CL, duplicate CL, bad chunks, obs-fold, bare CR/LF);
 *   - the size limits, at and just past each one;
 *   - a bounded fuzz run;
 *   - 10,000 pipelined requests in one burst.
 *
 * The reference for "what should the server answer" is the Oracle: the protocol package, run
 * in-process on the same bytes (see src/oracle.ts). Every conversation half-closes after sending,
 * so every server must answer what is complete and close — no waiting, no guessing — and a
 * model that serves one connection at a time (01) is never left holding one.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test, type ExpectStatic } from 'vitest';
import { DEFAULT_LIMITS } from '@course/protocol';
import {
  injectHost,
  loadLlhttpCases,
  parseResponses,
  startServer,
  until,
  type ParsedResponse,
  type RunningServer,
} from '@course/testkit';
import { MODEL_CONFIGS, type ModelConfig } from '../src/models.js';
import { Oracle, type Expected } from '../src/oracle.js';
import { makeHostileSite, type HostileSite } from '../src/site.js';
import { converse, largestRssKb, steadyTreeFds, treeFds, type Conversation } from '../src/wire.js';
import { fuzzCases, split } from '../src/fuzz.js';

/** Strict and lenient request cases (the `request-finish` ones are about the parser's API, not bytes on a wire). */
const VECTORS = loadLlhttpCases().filter((c) => c.type === 'request' || c.type.startsWith('request-lenient-'));

const FUZZ_MAX_CASES = 300;
const FUZZ_MAX_MS = 5_000;
const PIPELINED = 10_000;
/** "Has not grown without bound": generous, so a GC's mood cannot fail it; a leak of ~1 KB per request would. */
const MEMORY_BOUND_KB = 64 * 1024;

const sha = (b: Buffer): string => createHash('sha1').update(b).digest('hex').slice(0, 12);

/** What must be equal between the server's answers and the oracle's (Date and the like may differ). */
function summary(r: ParsedResponse): { status: number; connectionClose: boolean; body: string } {
  return { status: r.status, connectionClose: r.headers['connection'] === 'close', body: `${r.body.length}:${sha(r.body)}` };
}

const show = (b: Uint8Array): string => JSON.stringify(Buffer.from(b).toString('latin1')).slice(0, 400);

/** The server's answers in `conv`, framed as the oracle says they should be. Fails on trailing garbage. */
function answers(expect: ExpectStatic, conv: Conversation, want: Expected, input: Uint8Array): ParsedResponse[] {
  let parsed: { responses: ParsedResponse[]; rest: Buffer };
  try {
    parsed = parseResponses(conv.raw, want.headRequests);
  } catch (err) {
    throw new Error(`unparseable answer to ${show(input)}: ${(err as Error).message}; raw ${show(conv.raw)}`);
  }
  expect(parsed.rest.length, `bytes after the last complete response to ${show(input)}: ${show(parsed.rest)}`).toBe(0);
  return parsed.responses;
}

/**
 * The server answered `input` (then half-closed) exactly as the protocol does in-process, and
 * closed. `expect` is the test's own (tests of a group may run concurrently).
 */
function expectAgreement(expect: ExpectStatic, conv: Conversation, want: Expected, input: Uint8Array, label = ''): ParsedResponse[] {
  expect(conv.ended, `${label} the server must close after a half-close; input ${show(input)}`).not.toBe('timeout');
  const got = answers(expect, conv, want, input);
  expect(got.map(summary), `${label} answers to ${show(input)}`).toEqual(want.responses.map(summary));
  if (want.end === 'error') {
    // Rejected: the last answer is the parser's error status, and the connection is closed.
    const last = got[got.length - 1]!;
    expect(last.status).toBe(want.error!.status);
    expect(last.headers['connection']).toBe('close');
  }
  return got;
}

describe.each(MODEL_CONFIGS)('$name: hostile input', (model: ModelConfig) => {
  let server: RunningServer;
  let site: HostileSite;
  let oracle: Oracle;

  beforeAll(async () => {
    site = makeHostileSite();
    oracle = new Oracle(site.root);
    // --protocol http: the oracle is HTTP. (06's default is auto, where bytes that do not begin
    // with a method, `PURGE /` or fuzz, are the TCP side's — by design, not for this suite.)
    server = await startServer(model.pkg, { args: ['--protocol', 'http', '--root', site.root, ...model.args] });
  });

  afterAll(async () => {
    const exit = await server?.stop();
    site?.remove();
    // Still a clean shutdown after all that: nothing crashed, nothing hung.
    expect(exit).toEqual({ code: 0, signal: null });
  });

  /** Send `input`, half-close, and check the answers against the oracle (with the test's `expect`). */
  async function agree(input: Uint8Array | string, check: ExpectStatic = expect, label = ''): Promise<ParsedResponse[]> {
    const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
    const want = oracle.expect(bytes);
    const conv = await converse(server.port, bytes);
    return expectAgreement(check, conv, want, bytes, label);
  }

  // Groups of independent one-connection checks run a few at a time (vitest's maxConcurrency):
  // a model that forks or starts a thread per connection pays that per check. 01 simply serves
  // them one after the other from its accept queue.
  describe.concurrent('llhttp request vectors', () => {
    test.for(VECTORS.map((c) => [c.id, c] as const))('%s', async ([, c], { expect }) => {
      await agree(c.raw, expect, 'as written:');
      // Most vectors lack Host, a 400 for HTTP/1.1 (RFC 9112 §3.2). With one added, the rest of
      // each case — framing, pipelining, bodies — reaches the server too.
      const withHost = injectHost(c);
      if (withHost !== null) await agree(withHost.bytes, expect, 'with Host:');
    });
  });

  describe.concurrent('path traversal never leaves the root', () => {
    /** Request target → status, by the policies of packages/protocol/README.md ("Static files: policies"). */
    const TARGETS: ReadonlyArray<readonly [string, number]> = [
      ['/../secret.txt', 400],
      ['/../../../../../../../../etc/passwd', 400],
      ['/sub/../../secret.txt', 400],
      ['/./../secret.txt', 400],
      ['/../www-evil/secret.txt', 400],
      ['/%2e%2e/secret.txt', 400],
      ['/%2E%2E/secret.txt', 400],
      ['/.%2e/secret.txt', 400],
      ['/%2e./secret.txt', 400],
      ['/sub/%2e%2e/%2e%2e/secret.txt', 400],
      ['/..%2fsecret.txt', 400],
      ['/%2e%2e%2fsecret.txt', 400],
      ['/..%2f..%2f..%2f..%2fetc%2fpasswd', 400],
      ['/..\\secret.txt', 400],
      ['/..%5csecret.txt', 400],
      ['/%5c..%5csecret.txt', 400],
      ['/%2e%2e%5csecret.txt', 400],
      ['/%c0%ae%c0%ae/secret.txt', 400], // overlong UTF-8 for '.'
      ['/%c0%af../secret.txt', 400], // overlong '/'
      ['/%e0%80%ae%e0%80%ae/secret.txt', 400], // 3-byte overlong '.'
      ['/..%c1%9csecret.txt', 400], // overlong '\'
      ['/secret.txt%00.html', 400],
      ['/index.html%00', 400],
      ['/%00/../secret.txt', 400],
      ['/%u002e%u002e/secret.txt', 400], // IIS-style %u escapes are not percent-encoding
      ['/%2', 400],
      ['/%252e%252e/secret.txt', 404], // decoded once: a directory literally named %2e%2e
      ['/%252e%252e%252fsecret.txt', 404],
      ['/..%255csecret.txt', 404],
      ['/..;/secret.txt', 404], // "..;" is a name here, not a parent (Tomcat's path parameters)
      ['/escape.txt', 404], // symlink out of the root
      ['/escape-dir/secret.txt', 404],
      ['/escape-dir/www-evil/secret.txt', 404],
      ['/.env', 404],
      ['/%2eenv', 404],
      ['/.git/config', 404],
      ['/sub/.hidden', 404],
      ['/alias.txt', 404], // symlink to a dotfile
      ['http://localhost/../secret.txt', 400],
      ['http://localhost/%2e%2e/secret.txt', 400],
      // Controls: what is inside is served, and decoding happens exactly once.
      ['/inside.txt', 200],
      ['/%252e%252e/decoy.txt', 200],
    ];

    test.for(TARGETS)('GET %s → %i, and never the secret', async ([target, status], { expect }) => {
      const input = `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const [answer, ...more] = await agree(input, expect);
      expect(more).toHaveLength(0);
      expect(answer!.status).toBe(status);
      expect(answer!.body.toString('latin1')).not.toContain(site.secret);
      if (status === 200) {
        const file = target === '/inside.txt' ? '/index.html' : '/%2e%2e/decoy.txt';
        expect(answer!.body.equals(site.files.get(file)!)).toBe(true);
      }
    });

    test.for([
      ['a raw NUL', Buffer.from('GET /\x00../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1')],
      ['raw overlong UTF-8 bytes', Buffer.from('GET /\xc0\xae\xc0\xae/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1')],
      ['a raw space', Buffer.from('GET /.. /secret.txt HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1')],
    ] as const)('a target with %s is 400', async ([, input], { expect }) => {
      const got = await agree(input, expect);
      expect(got.map((r) => r.status)).toEqual([400]);
      expect(got[0]!.body.toString('latin1')).not.toContain(site.secret);
    });

    test('a directory redirect names the normalised path, never another host', async ({ expect }) => {
      for (const target of ['//sub', '/sub', '/./sub', '/x/../sub']) {
        const [answer] = await agree(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`, expect);
        expect(answer!.status, target).toBe(301);
        expect(answer!.headers['location'], target).toBe('/sub/');
      }
    });
  });

  describe.concurrent('request smuggling: 400 (or 501/413) and close, and the smuggled request is never read', () => {
    const NEXT = 'GET /smuggled.txt HTTP/1.1\r\nHost: x\r\n\r\n';
    const post = (fields: string, body = ''): string => `POST / HTTP/1.1\r\nHost: x\r\n${fields}\r\n${body}`;
    const chunked = (body: string): string => post('Transfer-Encoding: chunked\r\n', body);
    const SHAPES: ReadonlyArray<readonly [name: string, input: string, status: number]> = [
      ['Content-Length then Transfer-Encoding (CL.TE)', post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['Transfer-Encoding then Content-Length (TE.CL)', post('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n', `${(NEXT.length + 2).toString(16)}\r\n${NEXT}\r\n0\r\n\r\n`), 400],
      ['two differing Content-Length fields', post('Content-Length: 0\r\nContent-Length: 41\r\n') + NEXT, 400],
      ['a Content-Length list with differing values', post('Content-Length: 0, 41\r\n') + NEXT, 400],
      ['a signed Content-Length', post('Content-Length: +0\r\n') + NEXT, 400],
      ['a hexadecimal Content-Length', post('Content-Length: 0x0\r\n') + NEXT, 400],
      ['a Content-Length with an inner space', post('Content-Length: 1 0\r\n') + NEXT, 400],
      ['chunked twice, on two lines', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['chunked not the final coding', post('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n') + NEXT, 400],
      ['a misspelt coding (xchunked)', post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['an unknown coding under chunked', post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n') + NEXT, 501],
      ['Transfer-Encoding in HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${NEXT}`, 400],
      ['whitespace before the colon', post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['obs-fold of Transfer-Encoding', post('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['obs-fold of another field', post('X-A: a\r\n b\r\nContent-Length: 0\r\n') + NEXT, 400],
      ['a bare LF between fields', post('X-A: a\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['a bare CR in a field', post('X-A: a\rTransfer-Encoding: chunked\r\n', '0\r\n\r\n') + NEXT, 400],
      ['a space inside a field name', post('Content Length: 0\r\n') + NEXT, 400],
      ['a NUL in a field value', post('X-A: a\x00b\r\nContent-Length: 0\r\n') + NEXT, 400],
      ['two Host fields', `GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n${NEXT}`, 400],
      ['an invalid chunk size', chunked('zz\r\nabc\r\n0\r\n\r\n') + NEXT, 400],
      ['a negative chunk size', chunked('-1\r\nabc\r\n0\r\n\r\n') + NEXT, 400],
      ['chunk data longer than its size', chunked('3\r\nabcdef\r\n0\r\n\r\n') + NEXT, 400],
      ['a bare LF after the chunk size', chunked('3\nabc\r\n0\r\n\r\n') + NEXT, 400],
      ['a bare CR in a chunk extension', chunked('3;a=b\rc\r\nabc\r\n0\r\n\r\n') + NEXT, 400],
      ['a space before the chunk size ends (no ";")', chunked('3 \r\nabc\r\n0\r\n\r\n') + NEXT, 400],
      ['a chunk size that overflows', chunked('fffffffffffffffffffffff\r\n') + NEXT, 413],
    ];

    test.for(SHAPES.map(([name, input, status]) => ({ name, input, status })))('$name → $status', async ({ input, status }, { expect }) => {
      const got = await agree(input, expect);
      expect(got.map((r) => r.status)).toEqual([status]);
      expect(got[0]!.headers['connection']).toBe('close');
      expect(Buffer.concat(got.map((r) => r.body)).toString('latin1')).not.toContain('SMUGGLED');
    });

    test('control: a well-framed body followed by a pipelined request is two requests', async ({ expect }) => {
      const got = await agree(post('Content-Length: 5\r\n', 'hello') + 'GET /f0.txt HTTP/1.1\r\nHost: x\r\n\r\n', expect);
      expect(got.map((r) => r.status)).toEqual([405, 200]);
      expect(got[1]!.body.equals(site.files.get('/f0.txt')!)).toBe(true);
    });
  });

  describe('limits, at and just past each one', () => {
    const L = DEFAULT_LIMITS;
    /** `GET <target> HTTP/1.1` whose request line is exactly `length` bytes. */
    const lineOf = (length: number): string => `GET /${'a'.repeat(length - 'GET / HTTP/1.1'.length)} HTTP/1.1`;

    test(`a request line of ${L.maxRequestLine} bytes is read (404); one byte more is 414`, async () => {
      expect((await agree(`${lineOf(L.maxRequestLine)}\r\nHost: x\r\n\r\n`)).map((r) => r.status)).toEqual([404]);
      expect((await agree(`${lineOf(L.maxRequestLine + 1)}\r\nHost: x\r\n\r\n`)).map((r) => r.status)).toEqual([414]);
    });

    test(`${L.maxHeaders} header fields are read; ${L.maxHeaders + 1} are 431`, async () => {
      const fields = (n: number): string => ['Host: x', ...Array.from({ length: n - 1 }, (_, i) => `X-${i}: ${i}`)].join('\r\n');
      expect((await agree(`GET /f0.txt HTTP/1.1\r\n${fields(L.maxHeaders)}\r\n\r\n`)).map((r) => r.status)).toEqual([200]);
      expect((await agree(`GET /f0.txt HTTP/1.1\r\n${fields(L.maxHeaders + 1)}\r\n\r\n`)).map((r) => r.status)).toEqual([431]);
    });

    test(`a header section of ${L.maxHeaderBytes} bytes is read; one byte more is 431`, async () => {
      // Every field line counts with its CRLF: "Host: x\r\n" is 9 bytes, "X-Pad: " 7 more plus CRLF.
      const section = (bytes: number): string => `Host: x\r\nX-Pad: ${'p'.repeat(bytes - 9 - 9)}\r\n`;
      expect(section(L.maxHeaderBytes).length).toBe(L.maxHeaderBytes);
      expect((await agree(`GET /f0.txt HTTP/1.1\r\n${section(L.maxHeaderBytes)}\r\n`)).map((r) => r.status)).toEqual([200]);
      expect((await agree(`GET /f0.txt HTTP/1.1\r\n${section(L.maxHeaderBytes + 1)}\r\n`)).map((r) => r.status)).toEqual([431]);
    });

    test(`a body of ${L.maxBodyBytes} bytes is read and discarded; Content-Length one more is 413`, async () => {
      const body = Buffer.alloc(L.maxBodyBytes, 0x61);
      const input = Buffer.concat([
        Buffer.from(`POST /f0.txt HTTP/1.1\r\nHost: x\r\nContent-Length: ${L.maxBodyBytes}\r\n\r\n`),
        body,
        Buffer.from('GET /f1.txt HTTP/1.1\r\nHost: x\r\n\r\n'),
      ]);
      expect((await agree(input)).map((r) => r.status)).toEqual([405, 200]);
      expect((await agree(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${L.maxBodyBytes + 1}\r\n\r\n`)).map((r) => r.status)).toEqual([413]);
    });

    test(`chunks adding up to more than ${L.maxBodyBytes} bytes are 413`, async () => {
      const half = (L.maxBodyBytes / 2).toString(16);
      const input = Buffer.concat([
        Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${half}\r\n`),
        Buffer.alloc(L.maxBodyBytes / 2, 0x62),
        Buffer.from(`\r\n${(L.maxBodyBytes / 2 + 1).toString(16)}\r\n`),
      ]);
      expect((await agree(input)).map((r) => r.status)).toEqual([413]);
    });

    test('versions other than HTTP/1.0 and 1.1 are 505, the HTTP/2 preface included', async () => {
      expect((await agree('GET / HTTP/1.2\r\nHost: x\r\n\r\n')).map((r) => r.status)).toEqual([505]);
      expect((await agree('GET / HTTP/2.0\r\nHost: x\r\n\r\n')).map((r) => r.status)).toEqual([505]);
      expect((await agree('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')).map((r) => r.status)).toEqual([505]);
    });
  });

  test(`a bounded fuzz run (${FUZZ_MAX_CASES} inputs or ${FUZZ_MAX_MS / 1000} s) is answered as the protocol says, and leaves the server whole`, async () => {
    const seed = 0x5eed + MODEL_CONFIGS.indexOf(model); // one stream per configuration, reproducible
    const fdsBefore = await steadyTreeFds(server.pid);
    const rssBefore = largestRssKb(server.pid);
    const deadline = Date.now() + FUZZ_MAX_MS;
    let ran = 0;
    for (const c of fuzzCases(seed)) {
      if (ran >= FUZZ_MAX_CASES || Date.now() > deadline) break;
      const want = oracle.expect(c.bytes);
      const conv = await converse(server.port, split(c.bytes, c.cuts));
      expectAgreement(expect, conv, want, c.bytes, `fuzz seed ${seed} case ${c.index} cut at ${JSON.stringify(c.cuts)}:`);
      ran++;
    }
    expect(ran).toBeGreaterThan(10); // the time bound must not make the run vacuous
    // Still whole: a good request is answered correctly, no fd is left behind, memory is bounded.
    const [ok] = await agree('GET /f3.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(ok!.status).toBe(200);
    expect(ok!.body.equals(site.files.get('/f3.txt')!)).toBe(true);
    await until(() => treeFds(server.pid) <= fdsBefore, 15_000, `fds back to ${fdsBefore} (now ${treeFds(server.pid)})`);
    expect(largestRssKb(server.pid) - rssBefore).toBeLessThan(MEMORY_BOUND_KB);
  });

  test(`${PIPELINED.toLocaleString('en')} pipelined requests in one burst are all answered, in order, with bounded memory`, async () => {
    const n = site.smallFiles;
    const text = Array.from({ length: PIPELINED }, (_, i) => `GET /f${i % n}.txt HTTP/1.1\r\nHost: x\r\n${i === PIPELINED - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    const rssBefore = largestRssKb(server.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, largestRssKb(server.pid)); }, 20);
    let conv: Conversation;
    try {
      conv = await converse(server.port, Buffer.from(text), { timeoutMs: 60_000 });
    } finally {
      clearInterval(sampler);
    }
    expect(conv.ended).toBe('closed');
    const { responses, rest } = parseResponses(conv.raw);
    expect(rest.length).toBe(0);
    expect(responses).toHaveLength(PIPELINED);
    const wrong = responses.findIndex((r, i) => r.status !== 200 || !r.body.equals(site.files.get(`/f${i % n}.txt`)!));
    expect(wrong, `first wrong or out-of-order answer`).toBe(-1);
    expect(rssPeak - rssBefore).toBeLessThan(MEMORY_BOUND_KB);
  });

  test('is still up, and serving, after all of it', async () => {
    expect(server.proc.exitCode).toBeNull();
    const [ok] = await agree('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(ok!.status).toBe(200);
    expect(ok!.body.equals(site.files.get('/index.html')!)).toBe(true);
  });
});
