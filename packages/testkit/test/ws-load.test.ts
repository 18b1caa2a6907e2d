/** The raw WebSocket load side: client frames are masked correctly; server frames are counted across any split. */
import { describe, expect, it } from 'vitest';
import { FrameCounter, maskedFrame } from '../src/ws-load.js';

/** A server frame (unmasked), by hand. */
function serverFrame(len: number): Buffer {
  const head = len < 126 ? Buffer.from([0x82, len]) : len < 65536 ? Buffer.from([0x82, 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x82, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
  return Buffer.concat([head, Buffer.alloc(len, 0x61)]);
}

describe('maskedFrame', () => {
  it.each([0, 1, 125, 126, 65535, 65536])('a %i-byte payload: FIN, opcode, mask bit, length, and the payload unmasks back', (len) => {
    const payload = Buffer.alloc(len, 0x62);
    const f = maskedFrame(0x2, payload);
    expect(f[0]).toBe(0x82);
    expect(f[1]! & 0x80).toBe(0x80);
    const code = f[1]! & 0x7f;
    const [head, declared] = code < 126 ? [2, code] : code === 126 ? [4, f.readUInt16BE(2)] : [10, Number(f.readBigUInt64BE(2))];
    expect(declared).toBe(len);
    const mask = f.subarray(head, head + 4);
    const body = f.subarray(head + 4);
    expect(body.length).toBe(len);
    expect(Buffer.from(body.map((b, i) => b ^ mask[i & 3]!)).equals(payload)).toBe(true);
  });
});

describe('FrameCounter', () => {
  it('counts frames of every length class, split at every point', () => {
    const stream = Buffer.concat([serverFrame(0), serverFrame(5), serverFrame(126), serverFrame(300), serverFrame(70_000), serverFrame(1)]);
    for (let cut = 0; cut <= stream.length; cut += cut < 400 ? 1 : 997) {
      const c = new FrameCounter();
      c.push(stream.subarray(0, cut));
      c.push(stream.subarray(cut));
      expect(c.frames).toBe(6);
    }
  });

  it('counts frames fed one byte at a time', () => {
    const stream = Buffer.concat([serverFrame(3), serverFrame(200), serverFrame(0)]);
    const c = new FrameCounter();
    let seen = 0;
    for (const b of stream) seen += c.push(Buffer.from([b]));
    expect([seen, c.frames]).toEqual([3, 3]);
  });
});
