/**
 * HttpSession end to end, in process: raw request bytes in, response bytes out through a
 * RecordingSink. Covers static serving (MIME, validators, cache, HEAD, large files), errors,
 * keep-alive, pipelining with deferred application answers, parser errors and half-close.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEMO_SITE_ROOT, StaticSite, httpProtocol, type HttpOptions, type HttpResponder, type Session } from '../src/index.js';
import { RecordingSink, fakeRequest, parseResponses, type ParsedResponse } from '../src/testing.js';
import { KEEP_ALIVE } from '../src/http/response.js';

const BIG = 8 * 1024 * 1024;
let root: string;
let bigFile: Buffer;

beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'session-test-')));
  const files: Record<string, string | Buffer> = {
    'index.html': '<!doctype html><h1>home</h1>',
    'a.txt': 'hello, world\n',
    'style.css': 'body { color: red }',
    'logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>',
    'pic.png': Buffer.from('89504e470d0a1a0a', 'hex'),
    'data.json': '{"ok":true}',
    'noext': 'opaque',
    'docs/index.html': '<h1>docs</h1>',
    'empty.txt': '',
  };
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), data);
  }
  bigFile = randomBytes(BIG);
  fs.writeFileSync(path.join(root, 'big.bin'), bigFile);
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A session on a RecordingSink, fed strings. */
function connect(options: Partial<HttpOptions> = {}): { sink: RecordingSink; session: Session; send(text: string): void } {
  const sink = new RecordingSink();
  const session = httpProtocol({ root, ...options }).open(sink);
  return { sink, session, send: (text) => session.receive(Buffer.from(text, 'latin1')) };
}

function get(target: string, headers: Record<string, string> = {}, method = 'GET', version = '1.1'): string {
  const lines = Object.entries({ Host: 'test', ...headers }).map(([n, v]) => `${n}: ${v}\r\n`);
  return `${method} ${target} HTTP/${version}\r\n${lines.join('')}\r\n`;
}

/** One request on a fresh connection; its single response. */
function exchange(request: string, options: Partial<HttpOptions> = {}, head = false): ParsedResponse {
  const { sink, send } = connect(options);
  send(request);
  const responses = parseResponses(sink.output(), [head]);
  expect(responses).toHaveLength(1);
  return responses[0]!;
}

describe('static files over HTTP', () => {
  it('serves a file with its length, type, validators, Date and Server', () => {
    const res = exchange(get('/a.txt'));
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello, world\n');
    expect(res.headers['content-length']).toBe('13');
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['etag']).toMatch(/^"d-[0-9a-f]+"$/);
    expect(Date.parse(res.headers['last-modified']!)).toBe(Math.floor(fs.statSync(path.join(root, 'a.txt')).mtimeMs / 1000) * 1000);
    expect(res.headers['date']).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
    expect(res.headers['server']).toBe('course');
    expect(res.headers['connection']).toBeUndefined(); // HTTP/1.1 keeps the connection by default
  });

  it.each([
    ['/index.html', 'text/html; charset=utf-8'],
    ['/', 'text/html; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/logo.svg', 'image/svg+xml'],
    ['/pic.png', 'image/png'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/noext', 'application/octet-stream'],
  ])('Content-Type of %s is %s', (target, type) => {
    expect(exchange(get(target)).headers['content-type']).toBe(type);
  });

  it('serves an empty file with Content-Length 0', () => {
    const res = exchange(get('/empty.txt'));
    expect([res.status, res.headers['content-length'], res.body.length]).toEqual([200, '0', 0]);
  });

  it('answers HEAD with the headers of GET and no body', () => {
    const getRes = exchange(get('/a.txt'));
    const { sink, send } = connect();
    send(get('/a.txt', {}, 'HEAD'));
    const out = sink.output();
    const [res] = parseResponses(out, [true]);
    expect(res!.status).toBe(200);
    expect(res!.headers['content-length']).toBe('13');
    expect(res!.headers['etag']).toBe(getRes.headers['etag']);
    expect(out.toString('latin1').endsWith('\r\n\r\n')).toBe(true); // nothing after the header block
  });

  it('sends a large file with sendFile, whole and byte-exact', () => {
    const { sink, send } = connect();
    send(get('/big.bin'));
    const files = sink.events.filter((e) => e.type === 'sendFile');
    expect(files).toEqual([expect.objectContaining({ offset: 0, length: BIG })]);
    const [res] = parseResponses(sink.output());
    expect(res!.headers['content-length']).toBe(String(BIG));
    expect(res!.headers['content-type']).toBe('application/octet-stream');
    expect(res!.body.equals(bigFile)).toBe(true);
  });

  it('answers HEAD on a large file without sending it', () => {
    const { sink, send } = connect();
    send(get('/big.bin', {}, 'HEAD'));
    expect(sink.events.some((e) => e.type === 'sendFile')).toBe(false);
    const [res] = parseResponses(sink.output(), [true]);
    expect(res!.headers['content-length']).toBe(String(BIG));
  });

  it('writes a cached file as two prebuilt buffers, reusing the same body buffer', () => {
    const { sink, send } = connect();
    send(get('/a.txt'));
    send(get('/a.txt'));
    const writes = sink.events.filter((e) => e.type === 'write').map((e) => (e as { bytes: Uint8Array }).bytes);
    expect(writes).toHaveLength(4); // header block + body, twice
    expect(writes[3]).toBe(writes[1]); // the very same Buffer: served from memory, not copied
  });

  it('rebuilds the header block when the Date second changes, never rewriting a buffer already handed out', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const { sink, send } = connect();
      vi.setSystemTime(new Date('2030-01-01T00:00:00.250Z'));
      send(get('/a.txt'));
      vi.setSystemTime(new Date('2030-01-01T00:00:00.900Z'));
      send(get('/a.txt'));
      vi.setSystemTime(new Date('2030-01-01T00:00:01.100Z'));
      send(get('/a.txt'));
      const heads = sink.events.filter((e) => e.type === 'write').map((e) => (e as { bytes: Uint8Array }).bytes);
      const dateOf = (bytes: Uint8Array | undefined) => /Date: (.*)\r\n/.exec(Buffer.from(bytes!).toString('latin1'))![1];
      expect(heads[2]).toBe(heads[0]); // same second, same prebuilt buffer
      expect(heads[4]).not.toBe(heads[0]);
      expect(dateOf(heads[0])).toBe('Tue, 01 Jan 2030 00:00:00 GMT'); // untouched after the refresh
      expect(dateOf(heads[4])).toBe('Tue, 01 Jan 2030 00:00:01 GMT');
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers 404 with a short text body', () => {
    const res = exchange(get('/missing'));
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body.toString()).toBe('404 Not Found\n');
  });

  it('answers 400 to a path that tries to leave the root', () => {
    expect(exchange(get('/%2e%2e/%2e%2e/etc/passwd')).status).toBe(400);
    expect(exchange(get('/a.txt%00')).status).toBe(400);
  });

  it('redirects a directory to its slash, keeping the query', () => {
    const res = exchange(get('/docs?x=1&y=2'));
    expect(res.status).toBe(301);
    expect(res.headers['location']).toBe('/docs/?x=1&y=2');
    expect(exchange(get('/docs/')).body.toString()).toBe('<h1>docs</h1>');
  });

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE'])('answers %s with 405 and Allow', (method) => {
    const res = exchange(get('/a.txt', { 'Content-Length': '0' }, method));
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toBe('GET, HEAD');
  });

  it('answers a method it does not know with 501, and keeps the connection', () => {
    const { sink, send } = connect();
    send(get('/a.txt', {}, 'BREW') + get('/a.txt', {}, 'get'));
    expect(parseResponses(sink.output()).map((r) => r.status)).toEqual([501, 501]); // methods are case-sensitive
    expect(sink.ended).toBe(false);
  });
});

describe('conditional requests', () => {
  const etagOf = (target: string) => exchange(get(target)).headers['etag']!;
  const lastModifiedOf = (target: string) => exchange(get(target)).headers['last-modified']!;

  it('answers 304 to a matching If-None-Match, with the validators and no body', () => {
    const etag = etagOf('/a.txt');
    const { sink, send } = connect();
    send(get('/a.txt', { 'If-None-Match': etag }));
    const [res] = parseResponses(sink.output());
    expect(res!.status).toBe(304);
    expect(res!.headers['etag']).toBe(etag);
    expect(res!.headers['last-modified']).toBeDefined();
    expect(res!.headers['content-length']).toBeUndefined();
    expect(sink.output().toString('latin1').endsWith('\r\n\r\n')).toBe(true);
  });

  it('matches lists, weak tags and *', () => {
    const etag = etagOf('/a.txt');
    expect(exchange(get('/a.txt', { 'If-None-Match': `"nope", ${etag}` })).status).toBe(304);
    expect(exchange(get('/a.txt', { 'If-None-Match': `W/${etag}` })).status).toBe(304);
    expect(exchange(get('/a.txt', { 'If-None-Match': '*' })).status).toBe(304);
    expect(exchange(get('/a.txt', { 'If-None-Match': '"nope"' })).status).toBe(200);
  });

  it('answers 304 when not modified since, 200 when modified since', () => {
    const lastModified = lastModifiedOf('/a.txt');
    const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    expect(exchange(get('/a.txt', { 'If-Modified-Since': lastModified })).status).toBe(304);
    expect(exchange(get('/a.txt', { 'If-Modified-Since': earlier })).status).toBe(200);
    expect(exchange(get('/a.txt', { 'If-Modified-Since': 'not a date' })).status).toBe(200);
  });

  it('lets If-None-Match take precedence over If-Modified-Since', () => {
    const lastModified = lastModifiedOf('/a.txt');
    const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    const etag = etagOf('/a.txt');
    expect(exchange(get('/a.txt', { 'If-None-Match': '"other"', 'If-Modified-Since': lastModified })).status).toBe(200);
    expect(exchange(get('/a.txt', { 'If-None-Match': etag, 'If-Modified-Since': earlier })).status).toBe(304);
  });

  it('applies to large files too', () => {
    const etag = etagOf('/big.bin');
    const { sink, send } = connect();
    send(get('/big.bin', { 'If-None-Match': etag }));
    expect(parseResponses(sink.output())[0]!.status).toBe(304);
    expect(sink.events.some((e) => e.type === 'sendFile')).toBe(false);
  });
});

describe('the small-file cache', () => {
  it('notices a changed file (size or mtime) when revalidating', () => {
    const file = path.join(root, 'changing.txt');
    fs.writeFileSync(file, 'version one');
    fs.utimesSync(file, 1_600_000_000, 1_600_000_000);
    const { sink, send } = connect({ static: { revalidateMs: 0 } });
    send(get('/changing.txt'));
    fs.writeFileSync(file, 'version two'); // same size
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    send(get('/changing.txt'));
    const [first, second] = parseResponses(sink.output());
    expect(first!.body.toString()).toBe('version one');
    expect(second!.body.toString()).toBe('version two');
    expect(second!.headers['etag']).not.toBe(first!.headers['etag']);
  });

  it('serves from memory between checks', () => {
    const file = path.join(root, 'stale.txt');
    fs.writeFileSync(file, 'cached');
    const { sink, send } = connect({ static: { revalidateMs: 3_600_000 } });
    send(get('/stale.txt'));
    fs.writeFileSync(file, 'on disk now');
    send(get('/stale.txt'));
    expect(parseResponses(sink.output()).map((r) => r.body.toString())).toEqual(['cached', 'cached']);
  });

  it('stays within its byte budget, dropping the least recently used', () => {
    const dir = fs.mkdtempSync(path.join(root, 'cache-'));
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(dir, `f${i}.txt`), Buffer.alloc(1000, 65 + i));
    const limit = 3 * (1000 + 1024);
    const site = new StaticSite(dir, { maxCacheBytes: limit, revalidateMs: 3_600_000 });
    const sink = new RecordingSink();
    for (let i = 0; i < 10; i++) site.serve(fakeRequest('GET', `/f${i}.txt`), KEEP_ALIVE, sink);
    expect(site.cacheSize).toEqual({ files: 3, bytes: limit });
    const bodies = parseResponses(sink.output()).map((r) => r.body.toString().slice(0, 1));
    expect(bodies.join('')).toBe('ABCDEFGHIJ');
  });

  it('does not cache files over the size limit', () => {
    const site = new StaticSite(root, { maxCachedFileBytes: 4 });
    const sink = new RecordingSink();
    site.serve(fakeRequest('GET', '/a.txt'), KEEP_ALIVE, sink);
    expect(site.cacheSize.files).toBe(0);
    expect(sink.events.map((e) => e.type)).toEqual(['write', 'sendFile']);
    expect(parseResponses(sink.output())[0]!.body.toString()).toBe('hello, world\n');
  });
});

describe('keep-alive', () => {
  it('HTTP/1.1 keeps the connection unless told to close', () => {
    const { sink, send } = connect();
    send(get('/a.txt'));
    expect(sink.ended).toBe(false);
    send(get('/a.txt', { Connection: 'close' }));
    expect(sink.ended).toBe(true);
    const [first, second] = parseResponses(sink.output());
    expect(first!.headers['connection']).toBeUndefined();
    expect(second!.headers['connection']).toBe('close');
  });

  it('HTTP/1.0 closes unless asked to keep, and confirms keep-alive', () => {
    const closing = connect();
    closing.send(get('/a.txt', {}, 'GET', '1.0'));
    expect(parseResponses(closing.sink.output())[0]!.headers['connection']).toBe('close');
    expect(closing.sink.ended).toBe(true);

    const keeping = connect();
    keeping.send(get('/a.txt', { Connection: 'keep-alive' }, 'GET', '1.0'));
    expect(parseResponses(keeping.sink.output())[0]!.headers['connection']).toBe('keep-alive');
    expect(keeping.sink.ended).toBe(false);
  });

  it('answers nothing pipelined after a closing request', () => {
    const { sink, send } = connect();
    send(get('/a.txt', { Connection: 'close' }) + get('/index.html'));
    send(get('/index.html'));
    expect(parseResponses(sink.output())).toHaveLength(1);
    expect(sink.ended).toBe(true);
  });

  it('closes after an error answer only when the client asked to', () => {
    const { sink, send } = connect();
    send(get('/missing') + get('/missing', {}, 'POST'));
    expect(parseResponses(sink.output()).map((r) => r.status)).toEqual([404, 405]);
    expect(sink.ended).toBe(false);
  });
});

describe('pipelining', () => {
  const burst = get('/a.txt') + get('/index.html', {}, 'HEAD') + get('/missing') + get('/style.css');

  it('answers requests sent together in order', () => {
    const { sink, send } = connect();
    send(burst);
    const responses = parseResponses(sink.output(), [false, true, false, false]);
    expect(responses.map((r) => [r.status, r.headers['content-type']])).toEqual([
      [200, 'text/plain; charset=utf-8'],
      [200, 'text/html; charset=utf-8'],
      [404, 'text/plain; charset=utf-8'],
      [200, 'text/css; charset=utf-8'],
    ]);
  });

  it('gives the same answers when the bytes arrive one at a time', () => {
    const whole = connect();
    whole.send(burst);
    const dribble = connect();
    for (const byte of Buffer.from(burst, 'latin1')) dribble.session.receive(Uint8Array.of(byte));
    const strip = (b: Buffer) => b.toString('latin1').replace(/^Date: .*$/gm, 'Date: -');
    expect(strip(dribble.sink.output())).toBe(strip(whole.sink.output()));
  });

  it('holds later answers back until a deferred route answer is sent, then sends all in order', () => {
    const pending: HttpResponder[] = [];
    const route = (req: { path: string }, res: HttpResponder) => {
      if (!req.path.startsWith('/api/')) return false;
      pending.push(res);
      return true;
    };
    const { sink, session, send } = connect({ route });
    send(get('/api/slow') + get('/a.txt') + get('/api/fast') + get('/style.css'));
    expect(sink.output().length).toBe(0); // the first answer is owed: nothing may go before it
    expect(session.awaiting).toBe(true); // owes answers: not idle
    expect(session.midRequest).toBe(false); // but no request is half-received

    pending[1]!.send(200, { 'Content-Type': 'text/plain' }, 'fast');
    expect(sink.output().length).toBe(0); // still behind /api/slow

    pending[0]!.send(201, { 'Content-Type': 'text/plain', 'X-Step': '06' }, 'slow');
    const responses = parseResponses(sink.output());
    expect(responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [201, 'slow'],
      [200, 'hello, world\n'],
      [200, 'fast'],
      [200, 'body { color: red }'],
    ]);
    expect(responses[0]!.headers['x-step']).toBe('06');
    expect(responses[0]!.headers['content-length']).toBe('4');
    expect(session.midRequest).toBe(false);
    expect(session.awaiting).toBe(false);
  });

  it('passes requests the route declines to static files, and writes synchronous route answers at once', () => {
    const route = (req: { path: string }, res: HttpResponder) => {
      if (req.path !== '/api/now') return false;
      res.send(200, { 'Content-Type': 'application/json' }, '{"now":1}');
      return true;
    };
    const { sink, send } = connect({ route });
    send(get('/api/now') + get('/a.txt'));
    expect(parseResponses(sink.output()).map((r) => r.body.toString())).toEqual(['{"now":1}', 'hello, world\n']);
  });

  it('lets the route see any method, and strips the body of HEAD answers', () => {
    const route = (req: { method: string }, res: HttpResponder) => {
      res.send(200, { 'Content-Type': 'text/plain' }, `via ${req.method}`);
      return true;
    };
    const { sink, send } = connect({ route });
    send(get('/x', { 'Content-Length': '0' }, 'POST') + get('/x', {}, 'HEAD'));
    const [post, head] = parseResponses(sink.output(), [false, true]);
    expect(post!.body.toString()).toBe('via POST');
    expect(head!.headers['content-length']).toBe('8');
    expect(head!.body.length).toBe(0);
  });

  it('answers 500 when the route throws, and keeps serving', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const route = (req: { path: string }) => {
      if (req.path === '/boom') throw new Error('app bug');
      return false;
    };
    const { sink, send } = connect({ route });
    send(get('/boom') + get('/a.txt'));
    expect(parseResponses(sink.output()).map((r) => r.status)).toEqual([500, 200]);
    expect(error).toHaveBeenCalledOnce();
  });

  it('refuses bad responder use: a second send, headers the server owns, header injection', () => {
    let saved: HttpResponder | undefined;
    const { send } = connect({ route: (_req, res) => ((saved = res), true) });
    send(get('/x'));
    const res = saved!;
    expect(() => res.send(200, { 'Content-Length': '3' }, 'abc')).toThrow(TypeError);
    expect(() => res.send(200, { 'X-A': 'a\r\nSet-Cookie: x=1' }, 'abc')).toThrow(TypeError);
    expect(() => res.send(99, {}, 'abc')).toThrow(RangeError);
    res.send(200, {}, 'abc');
    expect(() => res.send(200, {}, 'abc')).toThrow(/already sent/);
  });

  it('drops a late answer once the connection is closed', () => {
    let saved: HttpResponder | undefined;
    const { sink, session, send } = connect({ route: (_req, res) => ((saved = res), true) });
    send(get('/x'));
    session.close();
    saved!.send(200, {}, 'too late');
    expect(sink.output().length).toBe(0);
  });

  it('closes files of answers still queued when the connection closes', () => {
    const fdCount = () => fs.readdirSync('/proc/self/fd').length;
    const before = fdCount();
    const { session, send } = connect({ route: (req) => req.path === '/api/wait' });
    send(get('/api/wait') + get('/big.bin') + get('/big.bin'));
    expect(fdCount()).toBe(before + 2); // two opened files, queued behind /api/wait
    session.close();
    expect(fdCount()).toBe(before);
  });
});

describe('malformed requests and closing', () => {
  it('answers a malformed request with its status and closes', () => {
    const { sink, send } = connect();
    send('THIS IS NOT HTTP\r\n\r\n');
    const [res] = parseResponses(sink.output());
    expect(res!.status).toBe(400);
    expect(res!.headers['connection']).toBe('close');
    expect(sink.ended).toBe(true);
  });

  it('answers the requests before a malformed one first', () => {
    const { sink, send } = connect();
    send(get('/a.txt') + 'GET / HTTP/9.9\r\n\r\n');
    const statuses = parseResponses(sink.output()).map((r) => r.status);
    expect(statuses[0]).toBe(200);
    expect(statuses).toHaveLength(2);
    expect(statuses[1]! >= 400).toBe(true);
    expect(sink.ended).toBe(true);
  });

  it('answers headers over the limit with 431', () => {
    const { sink, send } = connect({ limits: { maxHeaderBytes: 1024 } });
    send(get('/a.txt', { 'X-Big': 'x'.repeat(4096) }));
    expect(parseResponses(sink.output())[0]!.status).toBe(431);
    expect(sink.ended).toBe(true);
  });

  it('queues a parse error behind a deferred answer', () => {
    let saved: HttpResponder | undefined;
    const route = (req: { path: string }, res: HttpResponder) => req.path === '/api' && ((saved = res), true);
    const { sink, send } = connect({ route });
    send(get('/api') + 'NOT HTTP\r\n\r\n');
    expect(sink.ended).toBe(false);
    saved!.send(200, {}, 'ok');
    expect(parseResponses(sink.output()).map((r) => r.status)).toEqual([200, 400]);
    expect(sink.ended).toBe(true);
  });

  it('on half-close, answers what it has and ends', () => {
    const { sink, session, send } = connect();
    send(get('/a.txt') + 'GET /index.ht');
    expect(session.midRequest).toBe(true);
    session.peerClosed();
    expect(parseResponses(sink.output())).toHaveLength(1); // the incomplete request is dropped
    expect(sink.ended).toBe(true);
  });

  it('on half-close, waits for owed answers before ending', () => {
    let saved: HttpResponder | undefined;
    const { sink, session, send } = connect({ route: (req, res) => req.path === '/api' && ((saved = res), true) });
    send(get('/api') + get('/a.txt'));
    session.peerClosed();
    expect(sink.ended).toBe(false);
    saved!.send(200, {}, 'done');
    expect(parseResponses(sink.output()).map((r) => r.body.toString())).toEqual(['done', 'hello, world\n']);
    expect(sink.ended).toBe(true);
  });
});

describe('the demo site', () => {
  it('serves /bench.html: 540 bytes of HTML', () => {
    const { sink, session } = (() => {
      const s = new RecordingSink();
      return { sink: s, session: httpProtocol({ root: DEMO_SITE_ROOT }).open(s) };
    })();
    session.receive(Buffer.from(get('/bench.html')));
    const [res] = parseResponses(sink.output());
    expect([res!.status, res!.headers['content-type'], res!.body.length]).toEqual([200, 'text/html; charset=utf-8', 540]);
  });
});

describe('back-pressure inside one read', () => {
  /** A sink whose backlog grows with what is queued and empties only when the test says so. */
  class BackloggedSink extends RecordingSink {
    override write(bytes: Uint8Array): void {
      super.write(bytes);
      this.pending += bytes.length;
    }
    override sendFile(fd: number, offset: number, length: number): void {
      super.sendFile(fd, offset, length);
      this.pending += length;
    }
  }

  it('holds pipelined requests while output piles up, then answers them all in order as it drains', () => {
    const sink = new BackloggedSink();
    const session = httpProtocol({ root }).open(sink);
    const count = 6; // three 8 MiB files and three small ones in one read
    session.receive(Buffer.from(Array.from({ length: count }, (_, i) => get(i % 2 === 0 ? '/big.bin' : '/a.txt')).join(''), 'latin1'));
    const sentFirst = sink.events.filter((e) => e.type === 'sendFile').length;
    expect(sentFirst).toBe(1); // held after the first big file: one file open at a time, not all of them
    expect(session.paused).toBe(true); // the model must stop reading meanwhile
    for (let turns = 0; turns < 1000 && session.paused; turns++) {
      sink.pending = 0; // the model sent everything
      session.drained();
    }
    expect(session.paused).toBe(false);
    const responses = parseResponses(sink.output());
    expect(responses.map((r) => r.status)).toEqual(Array(count).fill(200));
    expect(responses.every((r, i) => (i % 2 === 0 ? r.body.equals(bigFile) : r.body.toString() === 'hello, world\n'))).toBe(true);
  });

  it('still answers held requests after the peer half-closes, then ends', () => {
    const sink = new BackloggedSink();
    const session = httpProtocol({ root }).open(sink);
    session.receive(Buffer.from(get('/big.bin').repeat(3), 'latin1'));
    session.peerClosed();
    expect(sink.ended).toBe(false); // answers are still owed
    for (let turns = 0; turns < 1000 && !sink.ended; turns++) {
      sink.pending = 0;
      session.drained();
    }
    expect(parseResponses(sink.output())).toHaveLength(3);
    expect(sink.ended).toBe(true);
  });
});
