/**
 * The WebSocket frame parser against hand-made vectors: every rule of RFC 6455 §5 it enforces,
 * with the close code it answers; the length encodings at their edges; and that the verdict never
 * depends on how the bytes were split into reads. The UTF-8 validator is checked against Node's
 * own (`buffer.isUtf8`, simdutf) as the independent implementation.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { FrameParser, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT, closeFrame, encodeClientFrame, encodeFrame, frameHeader, type FrameEvents } from '../src/ws/frame.js';
import { Utf8Validator } from '../src/ws/utf8.js';

type Event =
  | ['message', string, boolean]
  | ['ping', string]
  | ['pong', string]
  | ['close', number, string]
  | ['error', number];

/** Feed `chunks` to a fresh parser; what it reported, payloads as hex (text as text). */
function parse(chunks: Uint8Array[], maxMessage = 1 << 20): Event[] {
  const out: Event[] = [];
  const events: FrameEvents = {
    onMessage: (data, isBinary) => out.push(['message', isBinary ? data.toString('hex') : data.toString('utf8'), isBinary]),
    onPing: (p) => out.push(['ping', p.toString('hex')]),
    onPong: (p) => out.push(['pong', p.toString('hex')]),
    onClose: (code, reason) => out.push(['close', code, reason]),
    onError: (code) => out.push(['error', code]),
  };
  const parser = new FrameParser(events, maxMessage);
  for (const c of chunks) {
    // Each chunk is a view of a reused buffer, as a model's read buffer would be: clobber it after.
    const scratch = Buffer.from(c);
    parser.push(scratch);
    scratch.fill(0xee);
  }
  return out;
}

const whole = (...frames: Buffer[]): Event[] => parse([Buffer.concat(frames)]);
const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const text = (s: string, fin = true): Buffer => encodeClientFrame(OP_TEXT, s, { fin, maskKey: KEY });
const binary = (b: Uint8Array, fin = true): Buffer => encodeClientFrame(OP_BINARY, b, { fin });
const cont = (p: string | Uint8Array, fin = true): Buffer => encodeClientFrame(OP_CONTINUATION, p, { fin });
const close = (code: number, reason = ''): Buffer => {
  const p = Buffer.alloc(2 + Buffer.byteLength(reason));
  p.writeUInt16BE(code, 0);
  p.write(reason, 2);
  return encodeClientFrame(OP_CLOSE, p);
};

describe('valid frames', () => {
  test('RFC 6455 §5.7: a masked "Hello"', () => {
    expect(parse([Buffer.from('818537fa213d7f9f4d5158', 'hex')])).toEqual([['message', 'Hello', false]]);
  });

  test('text, binary, empty messages, ping and pong, one after another in one read', () => {
    expect(whole(text('héllo'), binary(Buffer.from([0, 1, 255])), text(''), binary(Buffer.alloc(0)), encodeClientFrame(OP_PING, 'hi'), encodeClientFrame(OP_PONG, ''))).toEqual([
      ['message', 'héllo', false],
      ['message', '0001ff', true],
      ['message', '', false],
      ['message', '', true],
      ['ping', Buffer.from('hi').toString('hex')],
      ['pong', ''],
    ]);
  });

  test.each([0, 1, 125, 126, 127, 65535, 65536, 100_000])('a %i-byte payload: the right length encoding, and back', (n) => {
    const payload = Buffer.alloc(n, 0x61);
    const frame = encodeClientFrame(OP_BINARY, payload);
    // 7-bit length up to 125; 126 + 16-bit up to 65535; 127 + 64-bit above (§5.2).
    const headerLength = n <= 125 ? 2 : n <= 65535 ? 4 : 10;
    expect(frame.length).toBe(headerLength + 4 + n);
    expect(frame[1]! & 0x7f).toBe(n <= 125 ? n : n <= 65535 ? 126 : 127);
    const events = parse([frame]);
    expect(events).toHaveLength(1);
    expect(events[0]![0]).toBe('message');
    expect((events[0] as ['message', string, boolean])[1]).toBe(payload.toString('hex'));
    expect(frameHeader(OP_BINARY, n)).toHaveLength(headerLength); // the server's own header too
  });

  test('a fragmented message is joined; pings between fragments are reported at once', () => {
    expect(whole(text('frag', false), encodeClientFrame(OP_PING, 'p1'), cont('men', false), encodeClientFrame(OP_PONG, 'x'), cont('ted'))).toEqual([
      ['ping', Buffer.from('p1').toString('hex')],
      ['pong', Buffer.from('x').toString('hex')],
      ['message', 'fragmented', false],
    ]);
  });

  test('a code point split across fragments and across reads is valid text', () => {
    const euro = Buffer.from('€', 'utf8'); // e2 82 ac
    const frames = Buffer.concat([encodeClientFrame(OP_TEXT, euro.subarray(0, 1), { fin: false }), cont(euro.subarray(1, 2), false), cont(euro.subarray(2))]);
    for (let i = 0; i <= frames.length; i++) expect(parse([frames.subarray(0, i), frames.subarray(i)])).toEqual([['message', '€', false]]);
  });

  test('a message exactly at the limit is accepted, fragmented or not', () => {
    expect(parse([binary(Buffer.alloc(1000))], 1000)).toHaveLength(1);
    expect(parse([Buffer.concat([binary(Buffer.alloc(600), false), cont(Buffer.alloc(400))])], 1000)[0]![0]).toBe('message');
  });

  test('close frames: code and reason; none; stop after', () => {
    expect(whole(close(1000, 'bye'), text('ignored'))).toEqual([['close', 1000, 'bye']]);
    expect(whole(encodeClientFrame(OP_CLOSE, ''))).toEqual([['close', 1005, '']]);
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999]) {
      expect(whole(close(code))).toEqual([['close', code, '']]);
    }
  });
});

describe('protocol errors and their close codes', () => {
  test.each([1, 2, 4, 3, 7])('RSV bits %i without an extension → 1002', (rsv) => {
    expect(whole(encodeClientFrame(OP_TEXT, 'x', { rsv }))).toEqual([['error', 1002]]);
  });

  test.each([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf])('opcode 0x%s → 1002', (op) => {
    expect(whole(encodeClientFrame(op, 'x'))).toEqual([['error', 1002]]);
  });

  test('an unmasked client frame → 1002', () => {
    expect(whole(encodeClientFrame(OP_TEXT, 'x', { masked: false }))).toEqual([['error', 1002]]);
  });

  test('control frames: fragmented → 1002; 126 bytes → 1002; 125 bytes is fine', () => {
    expect(whole(encodeClientFrame(OP_PING, 'x', { fin: false }))).toEqual([['error', 1002]]);
    expect(whole(encodeClientFrame(OP_PING, Buffer.alloc(126)))).toEqual([['error', 1002]]);
    expect(whole(encodeClientFrame(OP_CLOSE, Buffer.alloc(126)))).toEqual([['error', 1002]]);
    expect(whole(encodeClientFrame(OP_PING, Buffer.alloc(125)))).toEqual([['ping', '00'.repeat(125)]]);
  });

  test('continuation rules: none begun → 1002; text inside a fragmented message → 1002', () => {
    expect(whole(cont('x'))).toEqual([['error', 1002]]);
    expect(whole(text('a', false), text('b'))).toEqual([['error', 1002]]);
    expect(whole(text('a', false), binary(Buffer.from('b')))).toEqual([['error', 1002]]);
    expect(whole(text('a'), cont('b'))).toEqual([['message', 'a', false], ['error', 1002]]);
  });

  test('a 64-bit length with its top bit set → 1002; one over the limit → 1009, before any payload', () => {
    const huge = encodeClientFrame(OP_BINARY, '', { length: 2 ** 40 });
    huge[2] = 0x80; // most significant bit of the 64-bit length
    expect(parse([huge])).toEqual([['error', 1002]]);
    // 2^40 bytes announced, none sent: refused on the header alone (nothing is buffered).
    expect(parse([encodeClientFrame(OP_BINARY, '', { length: 2 ** 40 })])).toEqual([['error', 1009]]);
    expect(parse([encodeClientFrame(OP_BINARY, '', { length: 65536 })], 65535)).toEqual([['error', 1009]]);
    expect(parse([binary(Buffer.alloc(1001))], 1000)).toEqual([['error', 1009]]);
    expect(parse([Buffer.concat([binary(Buffer.alloc(600), false), cont(Buffer.alloc(401))])], 1000)).toEqual([['error', 1009]]);
  });

  test.each([
    ['overlong 2-byte', 'c0af'],
    ['overlong 3-byte', 'e080af'],
    ['UTF-16 surrogate', 'eda080'],
    ['above U+10FFFF', 'f4908080'],
    ['F5 lead', 'f5808080'],
    ['stray continuation', '80'],
    ['truncated at message end', 'e282'],
  ])('invalid UTF-8 in text (%s) → 1007', (_name, hex) => {
    expect(whole(encodeClientFrame(OP_TEXT, Buffer.from(hex, 'hex')))).toEqual([['error', 1007]]);
  });

  test('invalid UTF-8 is found in the first fragment, before the message ends', () => {
    expect(whole(encodeClientFrame(OP_TEXT, Buffer.from('ff', 'hex'), { fin: false }))).toEqual([['error', 1007]]);
    // Binary is not checked.
    expect(whole(binary(Buffer.from('ff', 'hex')))).toEqual([['message', 'ff', true]]);
  });

  test('close payloads: 1 byte → 1002; codes that may not be sent → 1002; bad UTF-8 reason → 1007', () => {
    expect(whole(encodeClientFrame(OP_CLOSE, Buffer.from([3])))).toEqual([['error', 1002]]);
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]) expect(whole(close(code))).toEqual([['error', 1002]]);
    const bad = Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('ff', 'hex')]);
    expect(whole(encodeClientFrame(OP_CLOSE, bad))).toEqual([['error', 1007]]);
  });

  test('after an error nothing more is parsed', () => {
    expect(whole(encodeClientFrame(OP_TEXT, 'x', { rsv: 4 }), text('later'))).toEqual([['error', 1002]]);
  });
});

describe('splits never change the result', () => {
  const stream = Buffer.concat([
    text('hello'),
    text('frag', false),
    encodeClientFrame(OP_PING, 'between'),
    cont('ment€d', false),
    cont('!'),
    binary(Buffer.alloc(300, 7)), // a 16-bit length
    encodeClientFrame(OP_BINARY, Buffer.alloc(40, 9), { length: 40 }),
    encodeClientFrame(OP_PONG, ''),
    close(1000, 'done'),
  ]);
  const expected = parse([stream]);

  test('the stream itself', () => {
    expect(expected.map((e) => e[0])).toEqual(['message', 'ping', 'message', 'message', 'message', 'pong', 'close']);
    expect(expected[2]).toEqual(['message', 'fragment€d!', false]);
  });

  test('every split point into two reads', () => {
    for (let i = 1; i < stream.length; i++) {
      const got = parse([stream.subarray(0, i), stream.subarray(i)]);
      if (JSON.stringify(got) !== JSON.stringify(expected)) expect({ split: i, got }).toEqual({ split: i, got: expected });
    }
  });

  test('a 64-bit length, split everywhere in its header and around it', () => {
    const big = Buffer.concat([encodeClientFrame(OP_BINARY, Buffer.alloc(65_536, 5)), text('after')]);
    const want = parse([big]);
    for (let i = 1; i < 24; i++) expect(parse([big.subarray(0, i), big.subarray(i)])).toEqual(want);
    for (let i = big.length - 20; i < big.length; i++) expect(parse([big.subarray(0, i), big.subarray(i)])).toEqual(want);
  });

  test('one byte per read', () => {
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
    expect(parse(bytes)).toEqual(expected);
  });

  test('random splits of random streams, with errors in them', () => {
    const frame = fc.oneof(
      fc.string().map((s) => text(s)),
      fc.uint8Array({ maxLength: 300 }).map((b) => binary(b)),
      fc.uint8Array({ maxLength: 20 }).map((b) => encodeClientFrame(OP_TEXT, b)), // often invalid UTF-8
      fc.constant(encodeClientFrame(OP_PING, 'p')),
      fc.constant(text('a', false)),
      fc.constant(cont('b')),
      fc.integer({ min: 0, max: 0xf }).map((op) => encodeClientFrame(op, 'z', { fin: op < 8 })),
    );
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 6 }), (frames, cuts) => {
        const all = Buffer.concat(frames);
        const points = [...new Set(cuts.map((c) => (all.length === 0 ? 0 : c % all.length)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const p of points) {
          chunks.push(all.subarray(at, p));
          at = p;
        }
        chunks.push(all.subarray(at));
        expect(parse(chunks, 200)).toEqual(parse([all], 200));
      }),
      { numRuns: 300 },
    );
  });
});

describe('UTF-8 validation agrees with Node (simdutf)', () => {
  test('random bytes and random text, in random pieces', () => {
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ unit: 'grapheme' }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))));
    fc.assert(
      fc.property(bytes, fc.nat(), (b, cut) => {
        const v = new Utf8Validator();
        const at = b.length === 0 ? 0 : cut % (b.length + 1);
        const ok = v.push(b, 0, at) && v.push(b, at, b.length) && v.complete;
        expect(ok).toBe(isUtf8(b));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('frames the server sends', () => {
  test('unmasked, FIN set, payload as given; close frames carry the code', () => {
    expect(encodeFrame(OP_TEXT, 'Hello').toString('hex')).toBe('810548656c6c6f'); // RFC 6455 §5.7
    expect(closeFrame(1000).toString('hex')).toBe('880203e8');
    expect(closeFrame(1005).toString('hex')).toBe('8800');
    expect(closeFrame(1002, 'x'.repeat(200)).length).toBe(2 + 125); // cut to a control frame's size
  });
});
