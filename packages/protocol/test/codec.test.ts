/**
 * The framing codecs, one behaviour at a time: line, delimiter, fixed, length field (netty's own
 * javadoc examples, byte for byte), the `--codec` spec, and framed echo over a RecordingSink.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  delimiterCodec,
  echoProtocol,
  fixedCodec,
  isFrameError,
  lengthFieldCodec,
  lineCodec,
  parseCodecSpec,
  CodecSpecError,
  type Codec,
  type FrameDecoder,
  type FrameError,
} from '../src/index.js';
import { RecordingSink } from '../src/testing.js';

/** Push each chunk, draining after each; frames as strings (latin1), the error if one came. */
function decode(codec: Codec | FrameDecoder, chunks: Array<string | Uint8Array>): { frames: string[]; error: FrameError | null; buffered: number } {
  const d = 'decoder' in codec ? codec.decoder() : codec;
  const frames: string[] = [];
  let error: FrameError | null = null;
  for (const chunk of chunks) {
    d.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    for (let f = d.next(); f !== null; f = d.next()) {
      if (isFrameError(f)) { error = f; break; }
      frames.push(Buffer.from(f).toString('latin1'));
    }
    if (error) break;
  }
  return { frames, error, buffered: d.buffered };
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const HELLO = Buffer.from('HELLO, WORLD');

describe('line', () => {
  it('cuts at \\n and at \\r\\n, whatever the reads, and strips the end of line', () => {
    expect(decode(lineCodec(100), ['ab', 'c\r', '\nde\n\nf\rg\n', 'tail'])).toEqual({ frames: ['abc', 'de', '', 'f\rg'], error: null, buffered: 4 });
  });

  it('accepts a line of exactly max bytes, with either end of line, even when the \\r waits for its \\n', () => {
    expect(decode(lineCodec(3), ['abc\n', 'def\r', '\n']).frames).toEqual(['abc', 'def']);
  });

  it('fails a line over max as soon as it is too long, before any \\n arrives', () => {
    const { frames, error, buffered } = decode(lineCodec(3), ['ok\nabcd']);
    expect(frames).toEqual(['ok']);
    expect(error).toMatchObject({ frameError: 'too-long' });
    expect(error!.reason).toMatch(/4 bytes without a delimiter exceed max frame 3/);
    expect(buffered).toBe(0); // a dead decoder holds nothing
  });

  it('fails a complete line over max in the same read as the lines before it', () => {
    expect(decode(lineCodec(3), ['a\nabcd\nb\n'])).toMatchObject({ frames: ['a'], error: { frameError: 'too-long', reason: 'frame of 4 bytes exceeds max 3' } });
  });

  it('stays failed: the same error again, later input ignored', () => {
    const d = lineCodec(2).decoder();
    d.push(Buffer.from('xyz\n'));
    const e = d.next();
    expect(isFrameError(e)).toBe(true);
    d.push(Buffer.from('ok\n'));
    expect(d.next()).toBe(e);
    expect(d.buffered).toBe(0);
  });

  it('encodes with \\n, a line ending in \\r with \\r\\n, and refuses a line holding \\n', () => {
    const c = lineCodec(10);
    expect(Buffer.from(c.encode(Buffer.from('hi'))).toString()).toBe('hi\n');
    expect(Buffer.from(c.encode(Buffer.from('hi\r'))).toString()).toBe('hi\r\r\n');
    expect(decode(c, [c.encode(Buffer.from('hi\r'))]).frames).toEqual(['hi\r']);
    expect(() => c.encode(Buffer.from('a\nb'))).toThrow(RangeError);
    expect(() => c.encode(Buffer.alloc(11, 0x61))).toThrow(/exceeds max 10/);
  });

  it('returns views until the next push, and encode copies them', () => {
    const c = lineCodec(10);
    const d = c.decoder();
    d.push(Buffer.from('abc\n'));
    const frame = d.next() as Uint8Array;
    const wire = c.encode(frame);
    expect(wire.buffer).not.toBe(frame.buffer);
  });
});

describe('delimiter', () => {
  it('finds a multi-byte delimiter split across reads, byte by byte', () => {
    const c = delimiterCodec(Buffer.from('\r\n\r\n'), 100);
    const input = 'one\r\n\r\ntwo\r\nstill two\r\n\r\n';
    expect(decode(c, [...input]).frames).toEqual(['one', 'two\r\nstill two']);
  });

  it('cuts at the first delimiter: "aaa" with delimiter "aa" is an empty frame and a held "a"', () => {
    expect(decode(delimiterCodec(Buffer.from('aa'), 10), ['aaa'])).toMatchObject({ frames: [''], buffered: 1 });
  });

  it('allows a held partial delimiter beyond max, and fails once the frame itself is over', () => {
    const c = delimiterCodec(Buffer.from('--'), 3);
    expect(decode(c, ['abc-', '-']).frames).toEqual(['abc']);
    expect(decode(c, ['abcd-']).error).toMatchObject({ frameError: 'too-long' });
  });

  it('refuses to encode a frame the decoder would cut early', () => {
    const c = delimiterCodec(Buffer.from('aa'), 10);
    expect(() => c.encode(Buffer.from('xaay'))).toThrow(RangeError);
    expect(() => c.encode(Buffer.from('xa'))).toThrow(RangeError); // "xaaa" would cut at "x"
    expect(Buffer.from(c.encode(Buffer.from('ax'))).toString()).toBe('axaa');
  });
});

describe('fixed', () => {
  it('cuts every N bytes, whatever the reads', () => {
    expect(decode(fixedCodec(3), ['a', 'bcdef', 'ghij'])).toEqual({ frames: ['abc', 'def', 'ghi'], error: null, buffered: 1 });
  });

  it('encodes a frame of N bytes as itself, a copy, and refuses any other size', () => {
    const c = fixedCodec(2);
    const frame = Buffer.from('xy');
    const wire = c.encode(frame);
    expect(Buffer.from(wire).equals(frame)).toBe(true);
    frame[0] = 0;
    expect(wire[0]).toBe(0x78);
    expect(() => c.encode(Buffer.from('xyz'))).toThrow(/must be 2 bytes, got 3/);
  });
});

describe('length field', () => {
  // The examples of netty's LengthFieldBasedFrameDecoder javadoc, byte for byte (those with a
  // 2-byte field; netty's 3-byte fields are not one of the sizes offered here).
  it.each([
    ['2 bytes length field at offset 0, do not strip header', { offset: 0, size: 2, adjust: 0, strip: 0 }, hex('000C'), hex('000C')],
    ['2 bytes length field at offset 0, strip header', { offset: 0, size: 2, adjust: 0, strip: 2 }, hex('000C'), Buffer.alloc(0)],
    ['2 bytes length field at offset 0, do not strip header, the length field represents the length of the whole message', { offset: 0, size: 2, adjust: -2, strip: 0 }, hex('000E'), hex('000E')],
    ['2 bytes length field at offset 1 in the middle of 4 bytes header, strip the first header field and the length field', { offset: 1, size: 2, adjust: 1, strip: 3 }, hex('CA 000C FE'), hex('FE')],
    ['2 bytes length field at offset 1 in the middle of 4 bytes header, strip the first header field and the length field, the length field represents the length of the whole message', { offset: 1, size: 2, adjust: -3, strip: 3 }, hex('CA 0010 FE'), hex('FE')],
  ] as const)('netty: %s', (_title, knobs, header, keptHeader) => {
    const c = lengthFieldCodec({ ...knobs, max: 1024 });
    const wire = Buffer.concat([header, HELLO]);
    const frame = Buffer.concat([keptHeader, HELLO]);
    // Whole, and one byte per read, with the next frame behind it.
    for (const chunks of [[wire], [...Buffer.concat([wire, wire])].map((b) => Uint8Array.of(b))]) {
      const { frames, error } = decode(c, chunks);
      expect(error).toBeNull();
      expect(frames[0]).toBe(frame.toString('latin1'));
    }
    // Encoding gives the wire back: netty's stripped bytes other than the field are 0xCA here, zeros from us.
    const encoded = Buffer.from(c.encode(frame));
    expect(encoded.subarray(knobs.offset)).toEqual(wire.subarray(knobs.offset));
  });

  it('reads 1, 2, 4 and 8-byte fields in either byte order', () => {
    for (const size of [1, 2, 4, 8] as const) {
      for (const endian of ['be', 'le'] as const) {
        const field = Buffer.alloc(size);
        if (endian === 'be') field[size - 1] = 5; else field[0] = 5;
        const { frames } = decode(lengthFieldCodec({ size, endian }), [Buffer.concat([field, Buffer.from('hello')])]);
        expect(frames, `${size} ${endian}`).toEqual(['hello']);
      }
    }
  });

  it('fails a frame over max from its header alone, holding none of its body', () => {
    const d = lengthFieldCodec({ size: 4, max: 100 }).decoder();
    d.push(hex('00000061')); // 97 + 4 = 101 bytes
    expect(d.next()).toMatchObject({ frameError: 'too-long', reason: 'frame of 101 bytes exceeds max 100' });
    expect(d.buffered).toBe(0);
  });

  it('fails a 64-bit length beyond 2^53 as too long, not as a wrong number', () => {
    expect(decode(lengthFieldCodec({ size: 8 }), [hex('FFFFFFFF FFFFFFFF')]).error).toMatchObject({ frameError: 'too-long' });
    expect(decode(lengthFieldCodec({ size: 8, endian: 'le' }), [hex('0000000000002000')]).error).toMatchObject({ frameError: 'too-long' });
  });

  it('fails a length that is negative after adjustment', () => {
    const { error } = decode(lengthFieldCodec({ size: 2, adjust: -4, strip: 0 }), [hex('0003')]);
    expect(error).toMatchObject({ frameError: 'bad-length' });
    expect(error!.reason).toMatch(/length field 3 with adjust -4 is negative/);
  });

  it('fails a frame shorter than the bytes to strip', () => {
    expect(decode(lengthFieldCodec({ size: 1, strip: 4 }), [hex('01 AA')]).error).toMatchObject({ frameError: 'bad-length' });
  });

  it('an empty payload is a frame', () => {
    expect(decode(lengthFieldCodec(), [hex('00000000 00000000')]).frames).toEqual(['', '']);
  });

  it('encodes a length prefix, rewrites a kept field, and refuses what no field can say', () => {
    expect(Buffer.from(lengthFieldCodec().encode(Buffer.from('hi')))).toEqual(hex('00000002 6869'));
    expect(Buffer.from(lengthFieldCodec({ size: 2, endian: 'le' }).encode(Buffer.from('hi')))).toEqual(hex('0200 6869'));
    // strip=0: the frame carries its own header; encode sets the field from the frame's size.
    expect(Buffer.from(lengthFieldCodec({ size: 1, strip: 0 }).encode(hex('FF 6869')))).toEqual(hex('02 6869'));
    expect(() => lengthFieldCodec({ size: 1, strip: 0 }).encode(Buffer.alloc(0))).toThrow(/header bytes/);
    expect(() => lengthFieldCodec({ size: 1, max: 1000 }).encode(Buffer.alloc(256))).toThrow(/does not fit a 1-byte field/);
    expect(() => lengthFieldCodec({ max: 10 }).encode(Buffer.alloc(7))).toThrow(/exceeds max 10/);
  });

  it('refuses options that can frame nothing', () => {
    expect(() => lengthFieldCodec({ offset: 8, size: 8, max: 12 })).toThrow(/smaller than the header/);
    expect(() => lengthFieldCodec({ strip: 20, max: 10 })).toThrow(/strip 20 is larger than max 10/);
    expect(() => lengthFieldCodec({ size: 3 as 4 })).toThrow(/size must be 1, 2, 4 or 8/);
  });
});

describe('--codec specs', () => {
  it.each([
    ['line', 'line:max=65536'],
    ['line:max=10', 'line:max=10'],
    ['delimiter:\\r\\n', 'delimiter:\\r\\n,max=65536'],
    ['delimiter:\\x2c\\x00|,max=9', 'delimiter:\\x2c\\x00|,max=9'],
    ['fixed:16', 'fixed:16'],
    ['length', 'length:offset=0,size=4,endian=be,adjust=0,strip=4,max=1048576'],
    ['length:offset=1,size=2', 'length:offset=1,size=2,endian=be,adjust=0,strip=3,max=1048576'],
    ['length:size=8,endian=le,adjust=-8,strip=0,max=4096', 'length:offset=0,size=8,endian=le,adjust=-8,strip=0,max=4096'],
  ])('%s is %s, and that spec parses to itself', (spec, canonical) => {
    expect(parseCodecSpec(spec)!.spec).toBe(canonical);
    expect(parseCodecSpec(canonical)!.spec).toBe(canonical);
  });

  it('none is no codec', () => {
    expect(parseCodecSpec('none')).toBeNull();
  });

  it('the delimiter escapes give the bytes they name', () => {
    const c = parseCodecSpec('delimiter:\\x2c\\t\\\\')!;
    expect(Buffer.from(c.encode(Buffer.from('a')))).toEqual(Buffer.from('a,\t\\'));
  });

  it.each([
    ['', /unknown codec ""/],
    ['none:x', /none takes no options/],
    ['line:max=0', /max expects an integer from 1/],
    ['line:max=67108865', /max expects an integer from 1 to 67108864/],
    ['line:size=4', /line: unknown option "size"/],
    ['delimiter:', /delimiter needs its bytes/],
    ['delimiter:\\q', /bad escape "\\q"/],
    ['delimiter:\\x4', /bad escape/],
    ['fixed', /fixed needs a size/],
    ['fixed:-1', /fixed needs a size/],
    ['length:size=3', /size must be 1, 2, 4 or 8, got 3/],
    ['length:size', /size needs a value/],
    ['length:max=10,max=20', /max given twice/],
    ['length:endian=big', /endian must be be or le/],
    ['length:adjust=1.5', /adjust expects an integer/],
    ['length:strip=9,max=8', /strip 9 is larger than max 8/],
  ])('%j is refused: %s', (spec, message) => {
    expect(() => parseCodecSpec(spec)).toThrow(CodecSpecError);
    expect(() => parseCodecSpec(spec)).toThrow(message);
  });
});

describe('framed echo', () => {
  function open(spec: string): { sink: RecordingSink; log: string[]; session: ReturnType<ReturnType<typeof echoProtocol>['open']> } {
    const sink = new RecordingSink();
    const log: string[] = [];
    const protocol = echoProtocol({ codec: parseCodecSpec(spec), log: (l) => log.push(l) });
    expect(protocol.codec).toBe(parseCodecSpec(spec)!.spec);
    return { sink, log, session: protocol.open(sink, { address: '10.0.0.1', port: 4242 }) };
  }

  it('echoes each whole frame once, encoded, however the reads cut them; mid-frame while one is partial', () => {
    const { sink, session } = open('line');
    const readBuffer = Buffer.alloc(16);
    for (const piece of ['he', 'llo\r\nwor', 'ld\n']) {
      readBuffer.write(piece, 'latin1');
      session.receive(readBuffer.subarray(0, piece.length));
      readBuffer.fill(0xee); // the model's next read overwrites it
      if (piece === 'he') expect(session.midRequest).toBe(true);
    }
    expect(sink.output().toString()).toBe('hello\nworld\n');
    expect(sink.writeCalls).toBe(2); // one write per frame
    expect(session.midRequest).toBe(false);
  });

  it('answers the frames before an oversize one, logs why, and ends the connection', () => {
    const { sink, log, session } = open('length:size=1,max=5');
    session.receive(hex('02 6869 09'));
    session.receive(Buffer.from('more bytes that are never framed'));
    expect(sink.output()).toEqual(hex('02 6869'));
    expect(sink.events.at(-1)).toEqual({ type: 'end' });
    expect(log).toEqual(['echo: closing 10.0.0.1:4242: frame of 10 bytes exceeds max 5 (codec length:offset=0,size=1,endian=be,adjust=0,strip=1,max=5)']);
    expect(session.midRequest).toBe(false);
  });

  it('drops a partial frame at end of stream and ends', () => {
    const { sink, session } = open('fixed:4');
    session.receive(Buffer.from('abcdef'));
    session.peerClosed();
    expect(sink.output().toString()).toBe('abcd');
    expect(sink.ended).toBe(true);
  });
});
