/**
 * The message-echo engine against independent servers — the `ws` package and a node:net line
 * echo — in this process (the engine runs on a worker thread, so this thread serves). No
 * assertion depends on speed.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { runEchoInWorker, type EchoOptions } from '../src/index.js';

describe('echo engine', () => {
  let server: Server | WebSocketServer | null = null;
  afterEach(async () => {
    const s = server;
    server = null;
    if (s instanceof WebSocketServer) for (const c of s.clients) c.terminate();
    await new Promise<void>((r) => s?.close(() => r()) ?? r());
  });

  const listen = (s: Server): Promise<number> => new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

  it('websocket: upgrades with the ws package, and every echo it counts was echoed by the server', async () => {
    let echoed = 0;
    let upgrades = 0;
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/echo' });
    server = wss;
    wss.on('connection', (c) => {
      upgrades++;
      c.on('message', (data, isBinary) => {
        if (isBinary || data.toString() !== 'x'.repeat(64)) return c.close(1003, 'unexpected message');
        echoed++;
        c.send(data, { binary: isBinary });
      });
    });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    const r = await runEchoInWorker({ host: '127.0.0.1', port, framing: 'websocket', path: '/echo', connections: 5, payloadBytes: 64, durationMs: 400 });
    expect(r.errors).toBe(0);
    expect(upgrades).toBe(5);
    expect(r.connects).toBe(5);
    expect(r.messages).toBeGreaterThan(5);
    // Each connection may have one message in flight at the end, echoed but not counted.
    expect(echoed - r.messages).toBeGreaterThanOrEqual(0);
    expect(echoed - r.messages).toBeLessThanOrEqual(5);
    expect(r.histogram.totalCount).toBe(r.messages);
  });

  it('line: counts lines echoed by a node:net server, one in flight per connection', async () => {
    let lines = 0;
    const s = createServer((sock: Socket) => {
      sock.on('data', (d) => {
        for (const b of d) if (b === 10) lines++;
        sock.write(d);
      });
      sock.on('error', () => {});
    });
    server = s;
    const port = await listen(s);
    const r = await runEchoInWorker({ host: '127.0.0.1', port, framing: 'line', connections: 3, payloadBytes: 64, durationMs: 300 });
    expect(r.errors).toBe(0);
    expect(r.messages).toBeGreaterThan(3);
    expect(lines - r.messages).toBeGreaterThanOrEqual(0);
    expect(lines - r.messages).toBeLessThanOrEqual(3);
  });

  it('names a refused upgrade EPROTO and counts no echo', async () => {
    const s = createServer((sock: Socket) => {
      sock.once('data', () => sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'));
      sock.on('error', () => {});
    });
    server = s;
    const port = await listen(s);
    const r = await runEchoInWorker({ host: '127.0.0.1', port, framing: 'websocket', path: '/none', connections: 2, payloadBytes: 8, durationMs: 300, timeoutMs: 200 });
    expect(r.messages).toBe(0);
    expect(r.connects).toBe(0);
    expect(r.errorCodes.EPROTO).toBeGreaterThanOrEqual(2);
  });

  it('counts a server that stops answering as timeouts, and one that closes as EOF, and reconnects', async () => {
    let connections = 0;
    const s = createServer((sock: Socket) => {
      const mine = ++connections;
      let seen = 0;
      sock.on('data', (d) => {
        // The first connection answers twice, then sits on the third message; the others
        // answer once, then close.
        seen++;
        if (mine === 1 && seen <= 2) sock.write(d);
        else if (mine > 1 && seen === 1) sock.write(d);
        else if (mine > 1) sock.destroy();
      });
      sock.on('error', () => {});
    });
    server = s;
    const port = await listen(s);
    const opts: EchoOptions = { host: '127.0.0.1', port, framing: 'line', connections: 1, payloadBytes: 16, durationMs: 900, timeoutMs: 250 };
    const r = await runEchoInWorker(opts);
    expect(r.errorCodes.ETIMEDOUT).toBe(1);
    expect(r.errorCodes.EOF).toBeGreaterThanOrEqual(1);
    expect(connections).toBeGreaterThanOrEqual(3);
    // Two echoes on the first connection, one on each later one (the last may still be waiting).
    expect(r.messages).toBeGreaterThanOrEqual(connections);
    expect(r.messages).toBeLessThanOrEqual(connections + 1);
  });

  it('refuses bad options with a RangeError', async () => {
    await expect(runEchoInWorker({ host: '127.0.0.1', port: 1, framing: 'line', connections: 0, payloadBytes: 8, durationMs: 100 })).rejects.toThrow(/connections/);
    await expect(runEchoInWorker({ host: '127.0.0.1', port: 1, framing: 'smoke' as never, connections: 1, payloadBytes: 8, durationMs: 100 })).rejects.toThrow(/framing/);
  });
});
