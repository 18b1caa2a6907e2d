import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { echoRoundTrip, exchange, openSocket, randomPayload, REPO_ROOT, request, startServer, type RunningServer } from '@course/testkit';

const SITE = join(REPO_ROOT, 'site');

describe('01-blocking serving HTTP', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer('01-blocking'); });
  afterAll(async () => { await server?.stop(); });

  it('prints the banner the CLI contract promises', () => {
    expect(server.banner).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ 01-blocking/);
  });

  it('serves the demo site', async () => {
    const res = await request(server.port, '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body.equals(readFileSync(join(SITE, 'index.html')))).toBe(true);
    const css = await request(server.port, '/style.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  it('answers HEAD with headers only', async () => {
    const res = await request(server.port, '/', { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(Number(res.headers['content-length'])).toBe(readFileSync(join(SITE, 'index.html')).length);
    expect(res.body.length).toBe(0);
  });

  it('answers 404 for a missing file and keeps serving', async () => {
    expect((await request(server.port, '/no-such-file.html')).status).toBe(404);
    expect((await request(server.port, '/')).status).toBe(200);
  });

  it('keeps a connection alive across requests', async () => {
    const r = await exchange(server.port, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(r.responses[1]!.headers['content-type']).toMatch(/^text\/css/);
  });

  it('answers pipelined requests in order', async () => {
    const paths = ['/', '/style.css', '/missing', '/'];
    const burst = paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    const r = await exchange(server.port, burst);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200, 404, 200]);
    expect(r.responses[1]!.headers['content-type']).toMatch(/^text\/css/);
  });

  it('never serves a file outside the root', async () => {
    for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%252e%252e/etc/passwd', '/..\\..\\etc\\passwd', '/%c0%ae%c0%ae/etc/passwd']) {
      const r = await exchange(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const res = r.responses[0];
      expect(res, path).toBeDefined();
      expect(res!.status, path).toBeGreaterThanOrEqual(400);
      expect(res!.body.toString('latin1'), path).not.toMatch(/root:.*:0:0:/);
    }
  });

  it('is iterative: a second client waits while the first holds its connection', async () => {
    const first = await openSocket(server.port);
    first.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // served, then the server waits for more from `first`
    await new Promise<void>((resolve) => first.once('data', () => resolve()));
    let secondAnswered = false;
    const second = request(server.port, '/style.css', { timeoutMs: 30000 }).then((res) => { secondAnswered = true; return res; });
    // The first connection is still open, so the server is still inside its read(): the second waits.
    // Proof by ordering, not timing: the second can only be answered after the first closes.
    await new Promise((r) => setTimeout(r, 300));
    expect(secondAnswered).toBe(false);
    first.end();
    const res = await second;
    expect(res.status).toBe(200);
  });
});

describe('01-blocking serving echo', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer('01-blocking', { args: ['--protocol', 'echo'] }); });
  afterAll(async () => { await server?.stop(); });

  it('announces a tcp:// URL', () => {
    expect(server.banner).toMatch(/^listening on tcp:\/\/127\.0\.0\.1:\d+ /);
  });

  it('echoes 1 MB byte-exact', async () => {
    const data = randomPayload(1024 * 1024);
    const back = await echoRoundTrip(server.port, data);
    expect(back.equals(data)).toBe(true);
  });
});

describe('01-blocking process contract', () => {
  it('exits 0 on SIGTERM, even while blocked in accept', async () => {
    const server = await startServer('01-blocking');
    const { code, signal } = await server.stop();
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });

  it('exits 0 on SIGTERM while blocked reading a stalled client', async () => {
    const server = await startServer('01-blocking');
    const s = await openSocket(server.port);
    s.write('GET / HTTP/1.1\r\nHost: x\r\n'); // half a request: the server sits in read()
    await new Promise((r) => setTimeout(r, 100));
    const { code } = await server.stop();
    expect(code).toBe(0);
    s.destroy();
  });

  it('rejects a bad flag with one line and exit code 2', async () => {
    for (const args of [['--bogus', '1'], ['--port', 'abc'], ['--protocol', 'ftp'], ['--root', '/no/such/dir']]) {
      const err = await startServer('01-blocking', { args }).then(() => 'started', (e: Error) => e.message);
      expect(err).toMatch(/exited \(code 2/);
      const flag = args[0]!;
      expect(err).toContain(flag);
    }
  });

  it('reports a port in use by its errno name', async () => {
    const a = await startServer('01-blocking');
    const err = await startServer('01-blocking', { args: ['--port', String(a.port)] }).then(() => 'started', (e: Error) => e.message);
    await a.stop();
    expect(err).toMatch(/exited \(code 1/);
    expect(err).toContain('EADDRINUSE');
    expect(err).not.toMatch(/\n\s+at /); // no stack trace
  });
});
