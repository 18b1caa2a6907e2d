/** The node:http baseline honours the same CLI contract as the models and is a competent static server. */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoRoundTrip, exchange, makeTempSite, randomPayload, request, startCommand, type RunningServer, type TempSite } from '@course/testkit';
import { runEchoInWorker } from '@course/client';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The compiled baseline, as the bench runs it (tests spawn dist/, never src/). */
const NODE_HTTP_MAIN = fileURLToPath(new URL('../dist/baselines/node-http.js', import.meta.url));

const PAGE = '<!doctype html><title>bench</title>' + 'x'.repeat(500);

describe('node-http baseline', () => {
  let site: TempSite;
  let server: RunningServer;
  beforeAll(async () => {
    site = makeTempSite({ 'bench.html': PAGE, 'docs/index.html': '<p>docs</p>', 'style.css': 'p{}' });
    server = await startCommand([process.execPath, NODE_HTTP_MAIN, '--port', '0', '--root', site.root]);
  });
  afterAll(async () => {
    await server?.stop();
    site?.remove();
  });

  it('prints the contract banner', () => {
    expect(server.banner).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+ node-http protocol=http /);
  });

  it('serves a file with type, length and validators', async () => {
    const res = await request(server.port, '/bench.html');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe(PAGE);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(PAGE.length);
    expect(res.headers.etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(res.headers['last-modified']!)).not.toBeNaN();
    expect((await request(server.port, '/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await request(server.port, '/docs/')).body.toString()).toBe('<p>docs</p>');
  });

  it('answers conditional requests with 304', async () => {
    const first = await request(server.port, '/bench.html');
    const byTag = await request(server.port, '/bench.html', { headers: { 'if-none-match': first.headers.etag! } });
    expect(byTag.status).toBe(304);
    expect(byTag.body.length).toBe(0);
    const byDate = await request(server.port, '/bench.html', { headers: { 'if-modified-since': first.headers['last-modified']! } });
    expect(byDate.status).toBe(304);
    expect((await request(server.port, '/bench.html', { headers: { 'if-none-match': 'W/"other"' } })).status).toBe(200);
  });

  it('answers HEAD without a body, 404, 405, and refuses to leave the root', async () => {
    const head = await request(server.port, '/bench.html', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers['content-length'])).toBe(PAGE.length);
    expect(head.body.length).toBe(0);
    expect((await request(server.port, '/missing.html')).status).toBe(404);
    expect((await request(server.port, '/bench.html', { method: 'POST' })).status).toBe(405);
    // %2f survives URL parsing and decodes to '/': the decoded path would climb out of the root
    expect((await request(server.port, '/..%2f..%2f..%2fetc%2fpasswd')).status).toBe(400);
    expect((await request(server.port, '/%E0%A4%A')).status).toBe(400);
  });

  it('keeps the connection alive and answers pipelined requests in order', async () => {
    const r = await exchange(server.port, 'GET /style.css HTTP/1.1\r\nHost: x\r\n\r\nGET /bench.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(r.responses.map((x) => x.body.toString())).toEqual(['p{}', PAGE]);
  });

  it('computes /api/fib on its event loop, and rejects a bad n', async () => {
    const res = await request(server.port, '/api/fib?n=20');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ n: 20, fib: 6765 });
    expect((await request(server.port, '/api/fib?n=99')).status).toBe(400);
    expect((await request(server.port, '/api/fib?n=-1')).status).toBe(400);
  });

  it('exits 0 on SIGTERM', async () => {
    const other = await startCommand([process.execPath, NODE_HTTP_MAIN, '--port', '0', '--root', site.root]);
    expect(await other.stop()).toEqual({ code: 0, signal: null });
  });

  it('echoes with --protocol echo', async () => {
    const echo = await startCommand([process.execPath, NODE_HTTP_MAIN, '--port', '0', '--protocol', 'echo']);
    try {
      expect(echo.banner).toMatch(/^listening on tcp:\/\//);
      const data = randomPayload(256 * 1024);
      expect((await echoRoundTrip(echo.port, data)).equals(data)).toBe(true);
    } finally {
      await echo.stop();
    }
  });

  it('echoes whole lines with --codec line (the framed-echo peer), and testkit\'s line load counts them', async () => {
    const echo = await startCommand([process.execPath, NODE_HTTP_MAIN, '--port', '0', '--protocol', 'echo', '--codec', 'line']);
    try {
      // A line split over three writes comes back once it is complete, as one line.
      const got = await new Promise<string>((resolve, reject) => {
        const sock = connect({ port: echo.port, host: '127.0.0.1' }, async () => {
          for (const part of ['hel', 'lo\nwor', 'ld\n']) { sock.write(part); await new Promise((r) => setTimeout(r, 20)); }
        });
        let text = '';
        sock.setEncoding('latin1');
        sock.on('data', (d: string) => { text += d; if (text.split('\n').length === 3) { sock.destroy(); resolve(text); } });
        sock.on('error', reject);
      });
      expect(got).toBe('hello\nworld\n');
      const r = await runEchoInWorker({ host: '127.0.0.1', port: echo.port, framing: 'line', connections: 4, payloadBytes: 64, durationMs: 300 });
      expect(r.errors).toBe(0);
      expect(r.messages).toBeGreaterThan(4);
    } finally {
      await echo.stop();
    }
  });

  it.each([
    [['--codec', 'line'], '--codec frames TCP: it needs --protocol echo, got http'],
    [['--protocol', 'echo', '--codec', 'fixed:4'], '--codec expects line or none here'],
    [['--bogus', '1'], 'unknown flag --bogus'],
    [['--port', '70000'], '--port expects an integer from 0 to 65535'],
    [['--host', 'example.com'], '--host expects an IPv4 or IPv6 address'],
    [['--root', '/no/such/dir'], '--root: "/no/such/dir" is not a directory'],
  ])('rejects %j with one line and exit code 2', (args, message) => {
    const r = spawnSync(process.execPath, [NODE_HTTP_MAIN, ...args], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(2);
    expect(r.stderr.startsWith(`node-http: ${message}`)).toBe(true);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('names the errno when the port is taken', () => {
    const r = spawnSync(process.execPath, [NODE_HTTP_MAIN, '--port', String(server.port)], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('node-http: listen: EADDRINUSE\n');
  });
});
