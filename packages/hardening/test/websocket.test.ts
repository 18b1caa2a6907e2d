/**
 * WebSocket on every model, from the outside: `GET /ws/echo` with the `ws` package as the
 * independent client (text and binary, 0 B to 1 MiB, fragmented, pings, the closing handshake),
 * raw bad frames over a plain socket for the close codes, handshakes refused with the right
 * status, the heartbeat cutting a client that never answers pings — and HTTP on the same port
 * still served.
 *
 * The protocol is the same code in every model (the HTTP session upgrades); what differs is what
 * a long-lived connection does to the model. 01 serves one connection at a time, so a second
 * WebSocket client waits until the first leaves; every other model serves both.
 *
 * Nothing here is timed: the heartbeat test only waits (with a generous limit) for the ping and
 * the close that must come.
 */
import { Buffer } from 'node:buffer';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { ws as frames } from '@course/protocol';
import { openSocket, request, startServer, until, waitForClose, type RunningServer } from '@course/testkit';
import { MODEL_CONFIGS, type ModelConfig } from '../src/models.js';

const MAX_MESSAGE = 1024 * 1024; // the default of --ws-max-message, given explicitly
const PING_S = 1;
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** Open a `ws` client on /ws/echo; resolves once open. */
function connectWs(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const client = new WebSocket(`ws://127.0.0.1:${port}/ws/echo`, { perMessageDeflate: true }); // offered, must be refused
    client.once('open', () => resolve(client));
    client.once('error', reject);
  });
}

/** Send `data` and resolve with the next message and its binary flag. */
function roundTrip(client: WebSocket, send: () => void): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve, reject) => {
    const onClose = (code: number): void => reject(new Error(`closed with ${code} before the echo`));
    client.once('message', (data, isBinary) => {
      client.off('close', onClose);
      resolve({ data: data as Buffer, isBinary });
    });
    client.once('close', onClose);
    send();
  });
}

function closed(client: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** A raw socket after a successful handshake: the 101 head, and a reader of server frames. */
interface Raw {
  sock: Socket;
  head: string;
  /** Resolves with the next whole frame from the server. */
  frame(): Promise<{ opcode: number; payload: Buffer }>;
}

async function rawHandshake(port: number, early: Buffer = Buffer.alloc(0)): Promise<Raw> {
  const sock = await openSocket(port);
  sock.on('error', () => {});
  const head = `GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  sock.write(Buffer.concat([Buffer.from(head, 'latin1'), early])); // one write: frames right behind the handshake
  let buf = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiting?.();
  });
  const more = (): Promise<void> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no data from the server')), 20_000);
    const onClose = () => { clearTimeout(timer); reject(new Error('closed')); };
    sock.once('close', onClose);
    waiting = () => { clearTimeout(timer); sock.off('close', onClose); waiting = null; resolve(); };
  });
  while (buf.indexOf('\r\n\r\n') < 0) await more();
  const end = buf.indexOf('\r\n\r\n') + 4;
  const answer = buf.toString('latin1', 0, end);
  buf = buf.subarray(end);
  const frame = async (): Promise<{ opcode: number; payload: Buffer }> => {
    for (;;) {
      if (buf.length >= 2) {
        let len = buf[1]! & 0x7f;
        let at = 2;
        if (len === 126) { len = buf.length >= 4 ? buf.readUInt16BE(2) : Infinity; at = 4; }
        else if (len === 127) { len = buf.length >= 10 ? Number(buf.readBigUInt64BE(2)) : Infinity; at = 10; }
        if (buf.length >= at + len) {
          const f = { opcode: buf[0]! & 0x0f, payload: buf.subarray(at, at + len) };
          buf = buf.subarray(at + len);
          return f;
        }
      }
      await more();
    }
  };
  return { sock, head: answer, frame };
}

/** A handshake the server refuses: the status line and the whole answer, once it closes. */
async function refusedHandshake(port: number, headers: Record<string, string>): Promise<string> {
  const sock = await openSocket(port);
  sock.on('error', () => {});
  const all = { Host: 'x', Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': KEY, 'Sec-WebSocket-Version': '13', ...headers };
  let got = '';
  sock.on('data', (d: Buffer) => { got += d.toString('latin1'); });
  sock.write(`GET /ws/echo HTTP/1.1\r\n${Object.entries(all).filter(([, v]) => v !== '').map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
  await waitForClose(sock, 20_000);
  return got;
}

describe.each(MODEL_CONFIGS)('$name: WebSocket', (model: ModelConfig) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer(model.pkg, { args: ['--ws-max-message', String(MAX_MESSAGE), '--ws-ping', String(PING_S), ...model.args] });
  });

  afterAll(async () => {
    const exit = await server?.stop();
    expect(exit).toEqual({ code: 0, signal: null });
  });

  test('echo with the `ws` client: text and binary, 0 B to 1 MiB, fragmented; pings; permessage-deflate not negotiated; a clean close', async () => {
    const client = await connectWs(server.port);
    try {
      expect(client.extensions).toBe(''); // we offered permessage-deflate; the server must not accept it
      for (const size of [0, 1, 125, 126, 65_535, 65_536, 300_000, MAX_MESSAGE]) {
        const bytes = Buffer.alloc(size);
        for (let i = 0; i < size; i++) bytes[i] = (i * 7 + size) & 0xff;
        const bin = await roundTrip(client, () => client.send(bytes));
        expect(bin.isBinary).toBe(true);
        expect(bin.data.equals(bytes), `binary ${size} B`).toBe(true);
        const text = 'é€😀x'.repeat(Math.floor(size / 10));
        const txt = await roundTrip(client, () => client.send(text));
        expect(txt.isBinary).toBe(false);
        expect(txt.data.toString('utf8') === text, `text ${size} B`).toBe(true);
      }
      // Fragmented: three frames, one message; the `ws` client frames it.
      const joined = await roundTrip(client, () => {
        client.send('frag', { fin: false });
        client.send('men', { fin: false });
        client.send('ted', { fin: true });
      });
      expect(joined.data.toString()).toBe('fragmented');
      // A ping is answered with a pong carrying its payload.
      const pong = await new Promise<Buffer>((resolve) => {
        client.once('pong', (data) => resolve(data));
        client.ping(Buffer.from('are you there'));
      });
      expect(pong.toString()).toBe('are you there');
      // Closing: the server echoes the code.
      const done = closed(client);
      client.close(4000, 'bye');
      expect((await done).code).toBe(4000);
    } finally {
      client.terminate();
    }
  });

  test('a message over --ws-max-message is refused with 1009', async () => {
    const client = await connectWs(server.port);
    const done = closed(client);
    client.send(Buffer.alloc(MAX_MESSAGE + 1));
    expect((await done).code).toBe(1009);
  });

  test.each([
    ['an unmasked frame', 1002, frames.encodeClientFrame(frames.OP_TEXT, 'x', { masked: false })],
    ['RSV1 set', 1002, frames.encodeClientFrame(frames.OP_TEXT, 'x', { rsv: 4 })],
    ['opcode 3', 1002, frames.encodeClientFrame(3, 'x')],
    ['a 126-byte ping', 1002, frames.encodeClientFrame(frames.OP_PING, Buffer.alloc(126))],
    ['a continuation with no message', 1002, frames.encodeClientFrame(frames.OP_CONTINUATION, 'x')],
    ['invalid UTF-8 in text', 1007, frames.encodeClientFrame(frames.OP_TEXT, Buffer.from([0xed, 0xa0, 0x80]))],
    ['close code 1005', 1002, frames.encodeClientFrame(frames.OP_CLOSE, Buffer.from([0x03, 0xed]))],
  ])('raw: %s gets a close frame with %i, then the server closes', async (_name, code, bad) => {
    const raw = await rawHandshake(server.port);
    expect(raw.head).toMatch(/^HTTP\/1\.1 101 /);
    raw.sock.write(bad);
    const f = await raw.frame();
    expect(f.opcode).toBe(frames.OP_CLOSE);
    expect(f.payload.readUInt16BE(0)).toBe(code);
    await waitForClose(raw.sock, 20_000);
  });

  test('bytes right behind the handshake are frames; a peer that never answers pings is pinged, then cut', async () => {
    const early = Buffer.concat([frames.encodeClientFrame(frames.OP_TEXT, 'hello'), frames.encodeClientFrame(frames.OP_BINARY, Buffer.from([1, 2, 3]))]);
    const raw = await rawHandshake(server.port, early);
    expect(raw.head).toMatch(/\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    expect((await raw.frame()).payload.toString()).toBe('hello');
    expect([...(await raw.frame()).payload]).toEqual([1, 2, 3]);
    // Now silence: the heartbeat (--ws-ping 1) pings, and cuts us when no pong comes.
    let f = await raw.frame();
    while (f.opcode !== frames.OP_PING) f = await raw.frame();
    await waitForClose(raw.sock, 30_000);
  });

  test('handshakes refused: version 8 → 426 with Sec-WebSocket-Version: 13; a bad key → 400; no upgrade token → 400', async () => {
    const v8 = await refusedHandshake(server.port, { 'Sec-WebSocket-Version': '8' });
    expect(v8).toMatch(/^HTTP\/1\.1 426 /);
    expect(v8).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/);
    expect(await refusedHandshake(server.port, { 'Sec-WebSocket-Key': 'c2hvcnQ=' })).toMatch(/^HTTP\/1\.1 400 /);
    expect(await refusedHandshake(server.port, { Connection: 'keep-alive' })).toMatch(/^HTTP\/1\.1 400 /);
  });

  test('HTTP on the same port still serves', async () => {
    const res = await request(server.port, '/');
    expect(res.status).toBe(200);
  });

  if (model.concurrent) {
    test('two WebSocket clients at once are both served', async () => {
      const a = await connectWs(server.port);
      const b = await connectWs(server.port);
      try {
        expect((await roundTrip(b, () => b.send('to b'))).data.toString()).toBe('to b');
        expect((await roundTrip(a, () => a.send('to a'))).data.toString()).toBe('to a');
      } finally {
        a.terminate();
        b.terminate();
      }
    });
  } else {
    test('iterative: a second WebSocket client is not served while the first is open, and is once it leaves', async () => {
      const first = await connectWs(server.port);
      const second = new WebSocket(`ws://127.0.0.1:${server.port}/ws/echo`);
      let opened = false;
      second.once('open', () => { opened = true; });
      second.on('error', () => {});
      try {
        // While the first is open, the server is inside its read loop: the second waits in the
        // accept queue. (Keeping the first busy proves the server is alive meanwhile.)
        for (let i = 0; i < 5; i++) expect((await roundTrip(first, () => first.send(`still here ${i}`))).data.toString()).toBe(`still here ${i}`);
        expect(opened).toBe(false);
        const done = closed(first);
        first.close(1000);
        await done;
        await until(() => opened, 20_000, 'the second client to be served');
      } finally {
        first.terminate();
        second.terminate();
      }
    });
  }
});
