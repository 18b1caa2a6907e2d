/**
 * Step 06 as a long-connection server (src/push.ts), black-box with the `ws` package as the
 * client: broadcast and publish reach every reactor's clients exactly once and in order per
 * sender; a WorkerPool task pushes; a client that never reads is dropped past --max-backpressure
 * while the server's memory stays bounded, or with --slow-consumer close is closed with 1008 (or
 * cut by the close timeout if it never reads that either); the heartbeat closes a silent client.
 * The app is test/fixtures/push-app.mjs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { ServerFixture, broadcastRound, maskedFrame, openRawWebSockets, packageMain, type RunningServer } from '@course/testkit';
import { URING_SETUP_ERRNO_ENV } from '@course/syscalls';
import { createServer } from '../dist/index.js';
import { PKG, type Stats } from './helpers.js';

const APP = fileURLToPath(new URL('./fixtures/push-app.mjs', import.meta.url));
const servers = new ServerFixture(PKG);
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.terminate();
  await servers.cleanup();
});

/** A client of /ws/push: every text message it gets, and where the server put it. */
interface Client {
  ws: WebSocket;
  reactor: number;
  id: number;
  texts: string[];
  /** Resolves once `pred` holds for the messages received (checked on each new one). */
  until(pred: (texts: string[]) => boolean, what: string): Promise<void>;
}

async function client(server: RunningServer): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/push`);
  clients.push(ws);
  const texts: string[] = [];
  const waiters: Array<() => void> = [];
  const hello = await new Promise<{ reactor: number; id: number }>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('message', (d) => resolve(JSON.parse(String(d))));
  });
  ws.on('message', (d, isBinary) => {
    if (!isBinary) texts.push(String(d));
    for (const w of waiters.splice(0)) w();
  });
  const until = (pred: (t: string[]) => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${texts.length} messages: ${texts.slice(-5).join(' | ')}`)), 30_000);
      const check = () => {
        if (pred(texts)) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { ws, reactor: hello.reactor, id: hello.id, texts, until };
}

/** Clients until every reactor has at least `each` (round-robin spreads them). */
async function spread(server: RunningServer, reactors: number, each: number): Promise<Client[]> {
  const all: Client[] = [];
  while ([...Array(reactors).keys()].some((r) => all.filter((c) => c.reactor === r).length < each)) {
    all.push(await client(server));
    if (all.length > reactors * each * 3) throw new Error('connections do not spread over the reactors');
  }
  return all;
}

/** server.stats() as `c`'s reactor reports it (the app's `stats` command): the next one that comes. */
async function statsVia(c: Client): Promise<Stats> {
  const isStats = (x: string) => x.startsWith('{"reactors"');
  const seen = c.texts.filter(isStats).length;
  c.ws.send(JSON.stringify({ cmd: 'stats' }));
  await c.until((t) => t.filter(isStats).length > seen, 'the stats');
  return JSON.parse(c.texts.filter(isStats).at(-1)!) as Stats;
}

/** The socket under a `ws` client: paused, it reads nothing more (a client that never reads). */
const socketOf = (c: Client) => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tagged = (texts: string[], tag: string) => texts.filter((t) => t.startsWith(`${tag}:`));
const seq = (n: number, tag: string) => Array.from({ length: n }, (_, k) => `${tag}:${k}`);

describe('pushes across reactors', () => {
  it('broadcast and publish reach the clients of every reactor exactly once, in order per sender', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '3', '--workers', '1']);
    const all = await spread(server, 3, 2);
    const [a, b] = [all.find((c) => c.reactor === 0)!, all.find((c) => c.reactor === 1)!];
    const N = 200;
    const tagA = `${a.reactor}:${a.id}`;
    const tagB = `${b.reactor}:${b.id}`;
    // Two senders on two reactors at once: each one's messages must stay in its order.
    a.ws.send(JSON.stringify({ cmd: 'broadcast', n: N }));
    b.ws.send(JSON.stringify({ cmd: 'publish', topic: 'room', n: N }));
    for (const c of all) {
      await c.until((t) => tagged(t, tagA).length >= N && tagged(t, tagB).length >= N, `both senders' messages on ${c.reactor}:${c.id}`);
    }
    // A last marker through the same paths: nothing more of the first rounds arrives after it.
    a.ws.send(JSON.stringify({ cmd: 'publish', topic: 'room', n: 1 }));
    for (const c of all) await c.until((t) => t.filter((x) => x === `${tagA}:0`).length === 2, 'the marker');
    for (const c of all) {
      expect(tagged(c.texts, tagA).slice(0, N)).toEqual(seq(N, tagA));
      expect(tagged(c.texts, tagA).length).toBe(N + 1); // the broadcast once, then the marker
      expect(tagged(c.texts, tagB)).toEqual(seq(N, tagB));
    }
  });

  it('broadcast skips `except`; publish reaches subscribers only, on every reactor', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '2', '--workers', '1']);
    const all = await spread(server, 2, 2);
    const [sender, ...others] = all;
    // One client per reactor joins topic "news"; the others do not.
    const readers = [all.find((c) => c.reactor === 0)!, all.find((c) => c.reactor === 1)!];
    for (const r of readers) {
      r.ws.send(JSON.stringify({ cmd: 'sub', topic: 'news' }));
      await r.until((t) => t.includes('{"ok":"sub"}'), 'subscribed');
    }
    const tag = `${sender!.reactor}:${sender!.id}`;
    sender!.ws.send(JSON.stringify({ cmd: 'broadcast', n: 3, except: true }));
    sender!.ws.send(JSON.stringify({ cmd: 'publish', topic: 'news', n: 2 }));
    const expected = (c: Client) => (c === sender ? [] : seq(3, tag)).concat(readers.includes(c) ? seq(2, tag) : []);
    for (const c of all) await c.until((t) => tagged(t, tag).length >= expected(c).length, `the pushes on ${c.reactor}:${c.id}`);
    // Then a round trip through every reactor (a marker published to "room" by each client):
    // whatever else was coming from the sender has come by then.
    for (const c of all) c.ws.send(JSON.stringify({ cmd: 'publish', topic: 'room', n: 1 }));
    for (const c of all) await c.until((t) => all.every((o) => t.includes(`${o.reactor}:${o.id}:0`)), 'the markers');
    expect(others.length).toBeGreaterThan(0);
    // Exactly what each should have had, once each, in the sender's order; then its marker.
    for (const c of all) expect(tagged(c.texts, tag)).toEqual(expected(c).concat([`${tag}:0`]));
  });

  it('a push from a WorkerPool task arrives (by connRef), before the task\'s own result', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '2', '--workers', '2']);
    const all = await spread(server, 2, 1);
    for (const c of all) {
      c.ws.send(JSON.stringify({ cmd: 'task', text: `for ${c.reactor}` }));
      await c.until((t) => t.includes('task-done'), 'the task');
      const i = c.texts.indexOf(`from-task:for ${c.reactor}`);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(c.texts.indexOf('task-done'));
    }
  });

  // --send-batch: each SubReactor's 200 sends of a round leave as one io_uring submission, or as
  // 200 send(2)s; and where io_uring is refused (forced here), uring says why and sends with send(2).
  it.each([
    ['uring', {}, 'uring'],
    ['calls', {}, 'calls'],
    ['uring', { [URING_SETUP_ERRNO_ENV]: 'EPERM' }, 'calls'],
  ] as const)('a broadcast reaches 600 raw clients over three reactors, round after round (the bench\'s load side; --send-batch %s %o)', async (sends, env, used) => {
    const server = await servers.start(['--app', APP, '--reactors', '3', '--workers', '1', '--send-batch', sends], { ...process.env, ...env });
    expect(server.banner).toContain(` send-batch=${used} `);
    if (used !== sends) expect(server.stderr()).toMatch(/--send-batch uring: io_uring is not permitted.*EPERM.*; sending with send\(2\)/);
    const raw = await openRawWebSockets(server.port, '127.0.0.1', '/ws/push', 600, 50);
    try {
      expect([raw.failures, raw.firstError]).toEqual([0, null]);
      await new Promise((r) => setTimeout(r, 200)); // the greetings are in
      const trigger = maskedFrame(0x1, JSON.stringify({ cmd: 'broadcast', n: 1 }));
      for (let round = 1; round <= 3; round++) {
        const before = raw.clients.map((c) => c.counter.frames);
        await broadcastRound(raw.clients[0]!, trigger, raw.clients);
        // Exactly one more frame each: nobody got it twice.
        await new Promise((r) => setTimeout(r, 100));
        expect(raw.clients.every((c, i) => c.counter.frames === before[i]! + 1)).toBe(true);
      }
    } finally {
      raw.release();
    }
  });

  it('server.close(ref, code) closes that WebSocket with the code', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '2', '--workers', '1']);
    const c = await client(server);
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    c.ws.send(JSON.stringify({ cmd: 'close', code: 4001 }));
    expect(await closed).toBe(4001);
  });
});

describe('conn.send on a WebSocket', () => {
  it('sends bytes as a text frame when isBinary is false, as a binary frame by default', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '1', '--workers', '1']);
    const c = await client(server);
    const got: Array<{ text: string; isBinary: boolean }> = [];
    const both = new Promise<void>((resolve) => {
      c.ws.on('message', (d, isBinary) => {
        got.push({ text: String(d), isBinary });
        if (got.length === 2) resolve();
      });
    });
    const msg = JSON.stringify({ cmd: 'echo-bytes', note: 'héllo ✓' });
    c.ws.send(msg);
    await both;
    expect(got).toEqual([{ text: msg, isBinary: false }, { text: msg, isBinary: true }]);
  });
});

describe('slow consumers', () => {
  it('a client that never reads gets no more past --max-backpressure: pushes are dropped and counted, RSS stays bounded while 150 MiB go past it', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '1', '--workers', '1', '--max-backpressure', String(256 * 1024)]);
    const reader = await client(server);
    // The slow one: a WebSocket that never reads after the handshake (paused socket).
    const slow = await client(server);
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) * 1024;
    const MiB = 1024 * 1024;
    let got = 0;
    reader.ws.on('message', (_d, isBinary) => {
      if (isBinary) got++;
    });
    // 150 × 1 MiB broadcasts, one at a time: the reader acknowledges each by asking for the next.
    const send = () => reader.ws.send(JSON.stringify({ cmd: 'big', bytes: MiB }));
    const before = rss();
    let peak = before;
    for (let i = 1; i <= 150; i++) {
      send();
      while (got < i) await new Promise((r) => setTimeout(r, 2));
      if (i % 10 === 0) peak = Math.max(peak, rss());
    }
    // Bounded: the slow client's share is its socket buffers plus at most the bound and one
    // frame; keeping what went past it would show as 150 MiB or more here. The rest of the
    // growth is garbage not yet collected (two 1 MiB buffers per broadcast): hence the margin.
    expect(peak - before).toBeLessThan(80 * MiB);
    // The drops are counted where stats() shows them.
    reader.ws.send(JSON.stringify({ cmd: 'stats' }));
    await reader.until((t) => t.some((x) => x.startsWith('{"reactors"')), 'the stats');
    const stats = JSON.parse(reader.texts.find((x) => x.startsWith('{"reactors"'))!) as { reactors: Array<{ dropped: number; slowClosed: number; websockets: number }> };
    expect(stats.reactors[0]!.websockets).toBe(2);
    expect(stats.reactors[0]!.dropped).toBeGreaterThan(100); // most of the 150 MiB never queued for the slow one
    expect(got).toBe(150);
    // The default policy is drop: the slow one was never closed.
    expect(stats.reactors[0]!.slowClosed).toBe(0);
    expect(slow.ws.readyState).toBe(WebSocket.OPEN);
  });

  /**
   * --slow-consumer close, with a reader and a slow client on one reactor: 1 MiB broadcasts one
   * at a time (the reader asks for each) until the slow one's backlog reaches the bound and the
   * server gives up on it. Returns the slow client and how many broadcasts the reader has had.
   */
  async function untilSlowClosed(server: RunningServer): Promise<{ reader: Client; slow: Client; big: () => Promise<void> }> {
    const reader = await client(server);
    const slow = await client(server);
    socketOf(slow).pause();
    let got = 0;
    reader.ws.on('message', (_d, isBinary) => {
      if (isBinary) got++;
    });
    const big = async () => {
      const want = got + 1;
      reader.ws.send(JSON.stringify({ cmd: 'big', bytes: 1024 * 1024 }));
      while (got < want) await sleep(2);
    };
    for (let i = 1; ; i++) {
      await big();
      const s = await statsVia(reader);
      if (s.reactors[0]!.slowClosed > 0) break;
      // The kernel's socket buffers take a few MiB first; far more than that and the bound was not applied.
      if (i >= 200) throw new Error(`not closed after ${i} MiB: ${JSON.stringify(s.reactors[0])}`);
    }
    return { reader, slow, big };
  }

  it('with --slow-consumer close, a client that never reads is closed with 1008 and counted, once; the others keep receiving', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '1', '--workers', '1', '--max-backpressure', String(256 * 1024), '--slow-consumer', 'close']);
    const { reader, slow, big } = await untilSlowClosed(server);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => slow.ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    // More pushes: the reader gets each; the slow one, closing, gets none and is not counted again.
    for (let i = 0; i < 5; i++) await big();
    let stats = await statsVia(reader);
    expect(stats.reactors[0]).toMatchObject({ slowClosed: 1, dropped: 0 });
    // Now it reads: what was queued before the close frame, then the close frame, which the
    // client answers; the handshake done, the server closes the connection.
    socketOf(slow).resume();
    expect(await closed).toEqual({ code: 1008, reason: 'too much unsent output' });
    for (let i = 0; ; i++) {
      stats = await statsVia(reader);
      if (stats.reactors[0]!.websockets === 1) break; // the slow one left the hub
      if (i > 100) throw new Error(`the slow one is still open: ${JSON.stringify(stats.reactors[0])}`);
      await sleep(50);
    }
    expect(stats.reactors[0]).toMatchObject({ slowClosed: 1, dropped: 0, websockets: 1 });
    await big();
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('with --slow-consumer close, one that never reads its close frame either is cut by the close timeout', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '1', '--workers', '1', '--max-backpressure', String(256 * 1024), '--slow-consumer', 'close']);
    const { reader } = await untilSlowClosed(server);
    const since = Date.now();
    // The protocol's close timeout is 5 s; the reactor's sweep may add up to one second.
    let stats = await statsVia(reader);
    while (stats.reactors[0]!.websockets !== 1) {
      if (Date.now() - since > 15_000) throw new Error(`not cut: ${JSON.stringify(stats.reactors[0])}`);
      await sleep(200);
      stats = await statsVia(reader);
    }
    expect(Date.now() - since).toBeGreaterThan(3_000); // the close timeout, not something sooner
    expect(stats.reactors[0]).toMatchObject({ slowClosed: 1, dropped: 0, websockets: 1 });
    expect(reader.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('with --slow-consumer close, a TCP subscriber that never reads is ended (no close code to send) and counted', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '1', '--workers', '1', '--max-backpressure', String(256 * 1024), '--slow-consumer', 'close']);
    const reader = await client(server);
    const tcp = connect({ port: server.port, host: '127.0.0.1' });
    tcp.on('error', () => {});
    const ok = new Promise<void>((resolve) => tcp.once('data', () => resolve()));
    tcp.write('hi\n'); // not an HTTP method: the app's TCP side, which joins `room`
    await ok;
    tcp.pause(); // and never reads again
    let got = 0;
    reader.ws.on('message', (_d, isBinary) => {
      if (isBinary) got++;
    });
    for (let i = 1; ; i++) {
      reader.ws.send(JSON.stringify({ cmd: 'big-publish', bytes: 1024 * 1024 }));
      while (got < i) await sleep(2);
      const s = await statsVia(reader);
      if (s.reactors[0]!.slowClosed > 0) break;
      if (i >= 200) throw new Error(`not closed after ${i} MiB: ${JSON.stringify(s.reactors[0])}`);
    }
    // The reactor closes it at its next sweep, without waiting for the backlog it will never take.
    let stats = await statsVia(reader);
    for (let i = 0; stats.reactors[0]!.connections !== 1; i++) {
      if (i > 100) throw new Error(`the TCP subscriber is still open: ${JSON.stringify(stats.reactors[0])}`);
      await sleep(100);
      stats = await statsVia(reader);
    }
    expect(stats.reactors[0]).toMatchObject({ slowClosed: 1, dropped: 0, websockets: 1 });
    reader.ws.send(JSON.stringify({ cmd: 'big-publish', bytes: 1024 }));
    const want = got + 1;
    while (got < want) await sleep(2);
    tcp.destroy();
  });

  it('a bad --slow-consumer exits 2 with one line naming the flag; createServer throws a RangeError naming the option', async () => {
    const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0', '--slow-consumer', 'linger'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--slow-consumer/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // @ts-expect-error: not a SlowConsumerPolicy
    await expect(createServer({ port: 0, websocket: { slowConsumer: 'linger' } })).rejects.toThrow(/websocket\.slowConsumer must be one of drop\|close/);
  });

  it('a bad --send-batch exits 2 with one line naming the flag; createServer throws a RangeError naming the option', async () => {
    const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0', '--send-batch', 'writev'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--send-batch expects one of uring\|calls/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    // @ts-expect-error: not a SendBatchMode
    await expect(createServer({ port: 0, sendBatch: 'writev' })).rejects.toThrow(/sendBatch must be one of uring\|calls/);
  });
});

describe('heartbeat (--ws-ping)', () => {
  it('closes a WebSocket that never answers pings, and keeps one that does', async () => {
    const server = await servers.start(['--app', APP, '--reactors', '1', '--workers', '1', '--ws-ping', '1']);
    const alive = await client(server); // the ws package answers pings by itself
    // A silent client: the handshake by hand, then nothing (no pong).
    const sock = connect({ port: server.port, host: '127.0.0.1' });
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /ws/push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    let head = '';
    sock.on('data', (d: Buffer) => { head += d.toString('latin1'); });
    const ended = new Promise<void>((r) => sock.once('close', () => r()));
    await ended; // within two intervals and a bit: the test's timeout is the bound
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head).toContain('\x89'); // it was pinged (opcode 9) before being cut
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
  });
});
