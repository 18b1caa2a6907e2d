/**
 * The message-echo engine: its frame counter against hand-made server frames split at every
 * point, and the engine against independent servers — the `ws` package and a node:net line
 * echo — in this process (the engine runs on a worker thread, so this thread serves). No
 * assertion depends on speed.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { countServerFrames, runEchoInWorker, type EchoOptions, type FrameState } from '../src/index.js';

/** An unmasked server frame. */
function serverFrame(opcode: number, length: number, fin = true): Buffer {
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const f = Buffer.alloc(head + length, 0x61);
  f[0] = (fin ? 0x80 : 0) | opcode;
  if (head === 2) f[1] = length;
  else if (head === 4) {
    f[1] = 126;
    f.writeUInt16BE(length, 2);
  } else {
    f[1] = 127;
    f.writeBigUInt64BE(BigInt(length), 2);
  }
  return f;
}

const fresh = (): FrameState => ({ skip: 0, opcode: 0, hdr: null, hdrLen: 0 });

describe('countServerFrames', () => {
  // Messages of 0, 125, 126, 65535 and 65536 bytes (all three header sizes), a ping between
  // them, and one message in two fragments: five messages are counted, never the ping or the
  // first fragment.
  const stream = Buffer.concat([
    serverFrame(0x1, 0), serverFrame(0x2, 125), serverFrame(0x9, 3), serverFrame(0x1, 126),
    serverFrame(0x2, 65535), serverFrame(0x1, 10, false), serverFrame(0x0, 5), serverFrame(0x2, 65536),
  ]);

  it('counts whole messages in one read', () => {
    expect(countServerFrames(fresh(), stream, 0, stream.length)).toBe(6);
  });

  it('counts the same across two reads split at every byte', () => {
    const wrong: string[] = [];
    for (let cut = 0; cut <= stream.length; cut++) {
      const s = fresh();
      const total = countServerFrames(s, stream, 0, cut) + countServerFrames(s, stream, cut, stream.length);
      if (total !== 6) wrong.push(`split at ${cut}: counted ${total}`);
    }
    expect(wrong).toEqual([]);
  });

  it('counts the same fed one byte at a time', () => {
    const head = Buffer.concat([serverFrame(0x1, 200), serverFrame(0x2, 70000), serverFrame(0x1, 3)]);
    const s = fresh();
    let total = 0;
    for (let i = 0; i < head.length; i++) total += countServerFrames(s, head, i, i + 1);
    expect(total).toBe(3);
    expect(s.hdrLen).toBe(0);
    expect(s.skip).toBe(0);
  });

  it('reports a close frame or a masked frame as -1', () => {
    expect(countServerFrames(fresh(), Buffer.concat([serverFrame(0x1, 4), serverFrame(0x8, 2)]), 0, 10)).toBe(-1);
    const masked = serverFrame(0x1, 4);
    masked[1]! |= 0x80;
    expect(countServerFrames(fresh(), masked, 0, masked.length)).toBe(-1);
  });
});

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
