/**
 * The WebSocket session end to end, in process: the upgrade inside HttpSession (handshake
 * checks, 101, pipelined bytes), echo, pings, the closing handshake, the heartbeat and the close
 * timeout on a fake clock, back-pressure, and a handler's hooks. Raw bytes in, frames out
 * through a RecordingSink.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { DEMO_SITE_ROOT, acceptKey, httpProtocol, type HttpOptions, type Session, type WebSocketConn, type WebSocketHandler } from '../src/index.js';
import { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, encodeClientFrame } from '../src/ws/frame.js';
import { RecordingSink } from '../src/testing.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

function handshake(path = '/ws/echo', headers: Record<string, string> = {}, version = '1.1'): string {
  const all: Record<string, string> = {
    Host: 'test',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': KEY,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all).filter(([, v]) => v !== '').map(([n, v]) => `${n}: ${v}\r\n`);
  return `GET ${path} HTTP/${version}\r\n${lines.join('')}\r\n`;
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** What the server wrote: the HTTP head(s) before the first frame, then its frames (unmasked). */
function read(sink: RecordingSink, heads = 1): { heads: string[]; frames: Frame[] } {
  const out = sink.output();
  const list: string[] = [];
  let at = 0;
  for (let i = 0; i < heads; i++) {
    const end = out.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) throw new Error('no HTTP head');
    const head = out.toString('latin1', at, end + 4);
    const length = /content-length: (\d+)/i.exec(head);
    at = end + 4 + (length ? Number(length[1]) : 0);
    list.push(head);
  }
  const frames: Frame[] = [];
  while (at < out.length) {
    const b0 = out[at]!;
    const b1 = out[at + 1]!;
    expect(b1 & 0x80).toBe(0); // a server never masks (§5.1)
    let len = b1 & 0x7f;
    let p = at + 2;
    if (len === 126) {
      len = out.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(out.readBigUInt64BE(p));
      p += 8;
    }
    frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: out.subarray(p, p + len) });
    at = p + len;
  }
  return { heads: list, frames };
}

function connect(options: Partial<HttpOptions> = {}): { sink: RecordingSink; session: Session; send(b: string | Buffer): void } {
  const sink = new RecordingSink();
  const session = httpProtocol({ root: DEMO_SITE_ROOT, ...options }).open(sink);
  return { sink, session, send: (b) => session.receive(typeof b === 'string' ? Buffer.from(b, 'latin1') : b) };
}

const closeCode = (f: Frame): number => f.payload.readUInt16BE(0);

describe('the opening handshake', () => {
  test('RFC 6455 §1.3: the sample key gets the sample accept value', () => {
    expect(acceptKey(KEY)).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    const { sink, session, send } = connect();
    send(handshake());
    const [head] = read(sink).heads;
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toMatch(/\r\nUpgrade: websocket\r\n/);
    expect(head).toMatch(/\r\nConnection: Upgrade\r\n/);
    expect(head).toMatch(/\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
    expect(head).not.toMatch(/Sec-WebSocket-Protocol|Sec-WebSocket-Extensions/);
    expect(sink.ended).toBe(false);
    expect(session.deadline).toBe(Infinity); // no heartbeat by default: no timeout at all
  });

  test('Connection is a token list, compared case-insensitively; so is Upgrade', () => {
    const { sink, send } = connect();
    send(handshake('/ws/echo', { Connection: 'keep-alive, UPGRADE', Upgrade: 'foo/1, WebSocket' }));
    expect(read(sink).heads[0]).toMatch(/^HTTP\/1\.1 101/);
  });

  test.each([
    ['no upgrade token in Connection', { Connection: 'keep-alive' }, 400],
    ['no Connection', { Connection: '' }, 400],
    ['a key of 15 bytes', { 'Sec-WebSocket-Key': Buffer.alloc(15).toString('base64') }, 400],
    ['a key that is not base64', { 'Sec-WebSocket-Key': 'not base64 at all!!!!!==' }, 400],
    ['no key', { 'Sec-WebSocket-Key': '' }, 400],
    ['version 8', { 'Sec-WebSocket-Version': '8' }, 426],
    ['no version', { 'Sec-WebSocket-Version': '' }, 426],
  ])('%s → %i, and the connection closes', (_name, headers, status) => {
    const { sink, send } = connect();
    send(handshake('/ws/echo', headers as Record<string, string>) + encodeClientFrame(OP_TEXT, 'x').toString('latin1'));
    const out = sink.output().toString('latin1');
    expect(out).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(out).toMatch(/\r\nConnection: close\r\n/);
    if (status === 426) expect(out).toMatch(/\r\nSec-WebSocket-Version: 13\r\n/);
    expect(sink.ended).toBe(true);
  });

  test('two keys, or HTTP/1.0 → 400', () => {
    const two = connect();
    two.send(handshake('/ws/echo').replace('\r\n\r\n', `\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`));
    expect(two.sink.output().toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    const old = connect();
    old.send(handshake('/ws/echo', {}, '1.0'));
    expect(old.sink.output().toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
  });

  test('permessage-deflate offered: not negotiated, no extension header in the answer', () => {
    const { sink, send } = connect();
    send(handshake('/ws/echo', { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }));
    expect(read(sink).heads[0]).not.toMatch(/Extensions/i);
  });

  test('subprotocols: the first offered that the endpoint speaks, in its spelling; or none', () => {
    const chat: WebSocketHandler = { protocols: ['chat.v2', 'chat.v1'], onMessage: (c) => c.send(c.protocol) };
    const options = { websocket: { endpoints: { '/chat': chat } } };
    const both = connect(options);
    both.send(handshake('/chat', { 'Sec-WebSocket-Protocol': 'other, chat.v1, chat.v2' }));
    both.send(encodeClientFrame(OP_TEXT, '?'));
    const r = read(both.sink);
    expect(r.heads[0]).toMatch(/\r\nSec-WebSocket-Protocol: chat\.v1\r\n/);
    expect(r.frames[0]!.payload.toString()).toBe('chat.v1');
    const none = connect(options);
    none.send(handshake('/chat', { 'Sec-WebSocket-Protocol': 'CHAT.V1' })); // names are case-sensitive
    expect(read(none.sink).heads[0]).not.toMatch(/Sec-WebSocket-Protocol/);
  });

  test('an Upgrade to a path without an endpoint is plain HTTP, and the connection goes on', () => {
    const { sink, send } = connect();
    send(handshake('/') + 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n');
    const out = sink.output().toString('latin1');
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(out).toMatch(/HTTP\/1\.1 404 /);
    expect(sink.ended).toBe(false);
  });

  test('`websocket: false` turns the endpoints off', () => {
    const { sink, send } = connect({ websocket: false });
    send(handshake());
    expect(sink.output().toString('latin1')).toMatch(/^HTTP\/1\.1 404 /);
  });

  test('bytes pipelined behind the handshake are WebSocket frames, in the same read or later', () => {
    const frames = Buffer.concat([encodeClientFrame(OP_TEXT, 'one'), encodeClientFrame(OP_BINARY, Buffer.from([1, 2]))]);
    const all = Buffer.concat([Buffer.from('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n' + handshake(), 'latin1'), frames]);
    for (const split of [all.length - frames.length - 3, all.length - frames.length, all.length - 5, all.length]) {
      const { sink, send } = connect();
      send(all.subarray(0, split));
      send(all.subarray(split));
      const r = read(sink, 2);
      expect(r.heads[0]).toMatch(/^HTTP\/1\.1 200 /);
      expect(r.heads[1]).toMatch(/^HTTP\/1\.1 101 /);
      expect(r.frames.map((f) => [f.opcode, f.payload.toString('hex')])).toEqual([
        [OP_TEXT, Buffer.from('one').toString('hex')],
        [OP_BINARY, '0102'],
      ]);
    }
  });

  test('an upgrade behind a deferred answer waits for it, then switches', () => {
    let later: (() => void) | null = null;
    const { sink, session, send } = connect({
      route: (req, res) => {
        if (req.path !== '/slow') return false;
        later = () => res.send(200, {}, 'slow');
        return true;
      },
    });
    send('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n' + handshake() + encodeClientFrame(OP_TEXT, 'hi').toString('latin1'));
    expect(sink.output().length).toBe(0);
    expect(session.paused).toBe(true); // the model stops reading until the 101 is out
    send(encodeClientFrame(OP_TEXT, 'more')); // still kept, behind the handshake
    later!();
    const r = read(sink, 2);
    expect(r.heads[0]).toMatch(/^HTTP\/1\.1 200 /);
    expect(r.heads[1]).toMatch(/^HTTP\/1\.1 101 /);
    expect(r.frames.map((f) => f.payload.toString())).toEqual(['hi', 'more']);
  });
});

describe('echo, pings and closing', () => {
  function open(options: Partial<HttpOptions> = {}) {
    const c = connect(options);
    c.send(handshake());
    return c;
  }

  test('text and binary come back with their opcode; fragments are joined; a ping between them is answered first', () => {
    const { sink, send } = open();
    send(Buffer.concat([
      encodeClientFrame(OP_TEXT, 'héllo'),
      encodeClientFrame(OP_BINARY, Buffer.alloc(70_000, 3)),
      encodeClientFrame(OP_TEXT, 'a', { fin: false }),
      encodeClientFrame(OP_PING, 'are you there'),
      encodeClientFrame(OP_CONTINUATION, 'b'),
    ]));
    const frames = read(sink).frames;
    expect(frames.map((f) => f.opcode)).toEqual([OP_TEXT, OP_BINARY, OP_PONG, OP_TEXT]);
    expect(frames[0]!.payload.toString()).toBe('héllo');
    expect(frames[1]!.payload.equals(Buffer.alloc(70_000, 3))).toBe(true);
    expect(frames[2]!.payload.toString()).toBe('are you there');
    expect(frames[3]!.payload.toString()).toBe('ab');
    expect(frames.every((f) => f.fin)).toBe(true);
  });

  test('the peer closes: its code is echoed, then the sink ends', () => {
    const { sink, send } = open();
    send(encodeClientFrame(OP_CLOSE, Buffer.from([0x0f, 0xa0, 0x68, 0x69]))); // 4000 "hi"
    const f = read(sink).frames;
    expect(f).toHaveLength(1);
    expect(f[0]!.opcode).toBe(OP_CLOSE);
    expect(closeCode(f[0]!)).toBe(4000);
    expect(sink.ended).toBe(true);
  });

  test('an empty close is answered with an empty close', () => {
    const { sink, send } = open();
    send(encodeClientFrame(OP_CLOSE, ''));
    expect(read(sink).frames[0]!.payload.length).toBe(0);
    expect(sink.ended).toBe(true);
  });

  test.each([
    ['an unmasked frame', encodeClientFrame(OP_TEXT, 'x', { masked: false }), 1002],
    ['RSV1 (no permessage-deflate)', encodeClientFrame(OP_TEXT, 'x', { rsv: 4 }), 1002],
    ['invalid UTF-8', encodeClientFrame(OP_TEXT, Buffer.from([0xc3, 0x28])), 1007],
    ['a message over the limit', encodeClientFrame(OP_BINARY, Buffer.alloc(101)), 1009],
    ['a bad close code', encodeClientFrame(OP_CLOSE, Buffer.from([0x03, 0xed])), 1002],
  ])('%s: close with %i, then end; nothing after it is echoed', (_name, frame, code) => {
    const { sink, send } = open({ websocket: { maxMessage: 100 } });
    send(Buffer.concat([frame, encodeClientFrame(OP_TEXT, 'after')]));
    const f = read(sink).frames;
    expect(f.map((x) => x.opcode)).toEqual([OP_CLOSE]);
    expect(closeCode(f[0]!)).toBe(code);
    expect(sink.ended).toBe(true);
  });

  test('the application closes: close frame, data ignored until the peer answers, then end', () => {
    let conn: WebSocketConn | null = null;
    const closes: Array<[number, string]> = [];
    const handler: WebSocketHandler = {
      onOpen: (c) => { conn = c; },
      onMessage: (c, d) => c.send(d, false),
      onClose: (_c, code, reason) => closes.push([code, reason]),
    };
    const { sink, session, send } = connect({ websocket: { endpoints: { '/ws/app': handler }, now: () => 1000, closeTimeoutMs: 500 } });
    send(handshake('/ws/app'));
    conn!.close(4001, 'going');
    expect(conn!.open).toBe(false);
    expect(conn!.send('late')).toBe(false);
    expect(session.deadline).toBe(1500);
    send(encodeClientFrame(OP_TEXT, 'ignored'));
    expect(sink.ended).toBe(false);
    send(encodeClientFrame(OP_CLOSE, Buffer.from([0x0f, 0xa1])));
    const f = read(sink).frames;
    expect(f.map((x) => x.opcode)).toEqual([OP_CLOSE]); // ours only: theirs answered ours
    expect(f[0]!.payload.subarray(2).toString()).toBe('going');
    expect(sink.ended).toBe(true);
    expect(closes).toEqual([[4001, '']]);
    expect(() => conn!.close(1005)).not.toThrow(); // idempotent once closing
  });

  test('a peer that never answers our close is cut at the close timeout', () => {
    let conn: WebSocketConn | null = null;
    let now = 0;
    const { session, send } = connect({
      websocket: { endpoints: { '/x': { onOpen: (c) => { conn = c; }, onMessage: () => {} } }, now: () => now, closeTimeoutMs: 300 },
    });
    send(handshake('/x'));
    conn!.close();
    expect(session.timeout!(299)).toBe(false); // early: nothing to do
    now = 300;
    expect(session.timeout!(300)).toBe(true);
  });

  test('invalid close codes from the application are refused', () => {
    let conn: WebSocketConn | null = null;
    const { send } = connect({ websocket: { endpoints: { '/x': { onOpen: (c) => { conn = c; }, onMessage: () => {} } } } });
    send(handshake('/x'));
    expect(() => conn!.close(1006)).toThrow(RangeError);
    expect(() => conn!.close(1000, 'x'.repeat(124))).toThrow(RangeError);
  });

  test('a FIN without a close frame reports 1006 and ends', () => {
    const closes: number[] = [];
    const { sink, session, send } = connect({ websocket: { endpoints: { '/x': { onMessage: () => {}, onClose: (_c, code) => closes.push(code) } } } });
    send(handshake('/x'));
    session.peerClosed();
    expect(sink.ended).toBe(true);
    session.close();
    expect(closes).toEqual([1006]); // once
  });

  test('a handler that throws closes its connection with 1011; the session survives', () => {
    const { sink, send } = connect({ websocket: { endpoints: { '/x': { onMessage: () => { throw new Error('bug'); } } } } });
    const quiet = console.error;
    console.error = () => {};
    try {
      send(handshake('/x'));
      send(encodeClientFrame(OP_TEXT, 'boom'));
    } finally {
      console.error = quiet;
    }
    const f = read(sink).frames;
    expect(f.map((x) => x.opcode)).toEqual([OP_CLOSE]);
    expect(closeCode(f[0]!)).toBe(1011);
  });
});

describe('heartbeat and back-pressure', () => {
  test('a silent connection is pinged after one interval and cut after the next; any traffic keeps it', () => {
    let now = 10_000;
    const { sink, session, send } = connect({ websocket: { pingIntervalMs: 1000, now: () => now } });
    send(handshake());
    expect(session.deadline).toBe(11_000);
    // Traffic during the interval: no ping at the check.
    send(encodeClientFrame(OP_TEXT, 'hi'));
    now = 11_000;
    expect(session.timeout!(now)).toBe(false);
    expect(read(sink).frames.map((f) => f.opcode)).toEqual([OP_TEXT]);
    expect(session.deadline).toBe(12_000);
    // Silence: a ping; the pong keeps the connection.
    now = 12_000;
    expect(session.timeout!(now)).toBe(false);
    expect(read(sink).frames.map((f) => f.opcode)).toEqual([OP_TEXT, OP_PING]);
    send(encodeClientFrame(OP_PONG, ''));
    now = 13_000;
    expect(session.timeout!(now)).toBe(false);
    // Silence again: ping, then nothing for a whole interval: cut.
    now = 14_000;
    expect(session.timeout!(now)).toBe(false);
    now = 15_000;
    expect(session.timeout!(now)).toBe(true);
    expect(read(sink).frames.map((f) => f.opcode)).toEqual([OP_TEXT, OP_PING, OP_PING]);
  });

  test('at maxBackpressure, pushes are dropped and counted (drop) or the connection closes with 1008 (close)', () => {
    const conns: WebSocketConn[] = [];
    const handler: WebSocketHandler = { onOpen: (c) => { conns.push(c); }, onMessage: () => {} };
    const drop = connect({ websocket: { endpoints: { '/x': handler }, maxBackpressure: 100 } });
    drop.send(handshake('/x'));
    drop.sink.pending = 99; // the model has 99 bytes it could not send yet
    // Checked before queueing: under the bound, a frame of any size goes (here one of 211 bytes).
    expect(conns[0]!.send('x'.repeat(200))).toBe(true);
    expect(conns[0]!.send(Buffer.alloc(5000))).toBe(true); // a large one too, by reference
    drop.sink.pending = 100;
    expect(conns[0]!.send('1')).toBe(false);
    expect(conns[0]!.sendFrame(Buffer.from([0x81, 1, 0x31]))).toBe(false);
    expect(conns[0]!.dropped).toBe(2);
    expect(conns[0]!.open).toBe(true);

    const close = connect({ websocket: { endpoints: { '/x': handler }, maxBackpressure: 100, onBackpressure: 'close' } });
    close.send(handshake('/x'));
    close.sink.pending = 100;
    expect(conns[1]!.send('x')).toBe(false);
    expect(conns[1]!.open).toBe(false);
    expect(conns[1]!.dropped).toBe(0);
    expect(conns[1]!.send('x')).toBe(false); // closing: refused, no second close frame
    const f = read(close.sink).frames;
    expect(f.map((x) => x.opcode)).toEqual([OP_CLOSE]);
    expect(closeCode(f[0]!)).toBe(1008);
    expect(f[0]!.payload.subarray(2).toString('utf8')).toBe('too much unsent output');
  });

  test('an endpoint\'s own options override the protocol\'s for its connections only', () => {
    const conns = new Map<string, WebSocketConn>();
    const onMessage = () => {};
    const pushing: WebSocketHandler = { onOpen: (c) => { conns.set('push', c); }, onMessage, options: { maxBackpressure: 10, onBackpressure: 'close' } };
    const echoing: WebSocketHandler = { onOpen: (c) => { conns.set('echo', c); }, onMessage };
    const endpoints = { '/push': pushing, '/echo': echoing };
    const a = connect({ websocket: { endpoints } });
    a.send(handshake('/push'));
    const b = connect({ websocket: { endpoints } });
    b.send(handshake('/echo'));
    a.sink.pending = 10;
    b.sink.pending = 1 << 20;
    expect(conns.get('echo')!.send('x')).toBe(true); // the protocol's default: no bound
    expect(conns.get('push')!.send('x')).toBe(false);
    expect(conns.get('push')!.open).toBe(false);
    expect(closeCode(read(a.sink).frames[0]!)).toBe(1008);
    expect(() => connect({ websocket: { endpoints: { '/x': { onMessage, options: { onBackpressure: 'linger' as 'drop' } } } } })).toThrow(/onBackpressure must be drop or close/);
  });

  test('one encoded frame can be queued on many connections (broadcast)', async () => {
    const { ws } = await import('../src/index.js');
    const conns: WebSocketConn[] = [];
    const a = connect({ websocket: { endpoints: { '/x': { onOpen: (c) => { conns.push(c); }, onMessage: () => {} } } } });
    const b = connect({ websocket: { endpoints: { '/x': { onOpen: (c) => { conns.push(c); }, onMessage: () => {} } } } });
    a.send(handshake('/x'));
    b.send(handshake('/x'));
    const frame = ws.encodeFrame(ws.OP_TEXT, 'to all');
    for (const c of conns) expect(c.sendFrame(frame)).toBe(true);
    const written = [a.sink, b.sink].map((s) => s.events.filter((e) => e.type === 'write').at(-1));
    expect(written.every((e) => e !== undefined && e.type === 'write' && e.bytes === frame)).toBe(true); // the same bytes, not copies
  });
});

describe('what a connection keeps, and how a message leaves', () => {
  test('onOpen gets the whole upgrade request; afterwards the connection keeps only its path', () => {
    let seen: { query: string; origin: string | undefined } | null = null;
    let conn: WebSocketConn | null = null;
    const { send } = connect({
      websocket: {
        endpoints: {
          '/x': {
            onOpen: (c, req) => {
              conn = c;
              seen = { query: req.query, origin: req.headers.find(([n]) => n === 'origin')?.[1] };
            },
            onMessage: () => {},
          },
        },
      },
    });
    send(handshake('/x?room=7', { Origin: 'http://example.test' }));
    expect(seen).toEqual({ query: 'room=7', origin: 'http://example.test' });
    expect(conn!.path).toBe('/x');
    expect('request' in conn!).toBe(false); // the request is not held for the connection's lifetime
  });

  test('a payload up to 4 KiB leaves as one buffer, header and payload together; a larger one by reference behind its header', () => {
    let conn: WebSocketConn | null = null;
    const { sink, send } = connect({ websocket: { endpoints: { '/x': { onOpen: (c) => { conn = c; }, onMessage: () => {} } } } });
    send(handshake('/x'));
    const writes = () => sink.events.filter((e) => e.type === 'write');
    const before = writes().length;
    const small = Buffer.alloc(4096, 7);
    expect(conn!.send(small)).toBe(true);
    const one = writes().slice(before);
    expect(one).toHaveLength(1);
    expect(one[0]!.type === 'write' && one[0]!.bytes.length).toBe(4 + 4096);
    const large = Buffer.alloc(4097, 8);
    expect(conn!.send(large)).toBe(true);
    const two = writes().slice(before + 1);
    expect(two).toHaveLength(2);
    expect(two[1]!.type === 'write' && two[1]!.bytes).toBe(large); // not copied
    const { frames } = read(sink);
    expect(frames.map((f) => [f.opcode, f.payload.length])).toEqual([[OP_BINARY, 4096], [OP_BINARY, 4097]]);
    expect(frames[0]!.payload.equals(small) && frames[1]!.payload.equals(large)).toBe(true);
  });
});
