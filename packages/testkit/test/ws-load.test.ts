/** The raw WebSocket load side: client frames are masked correctly; server frames are counted across any split. */
import { describe, expect, it } from 'vitest';
import { FrameCounter, countServerFrames, maskedFrame, type FrameState } from '../src/ws-load.js';

/** A binary server frame (unmasked), by hand. */
const serverFrame = (len: number): Buffer => anyServerFrame(0x2, len);

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

/** An unmasked server frame of any opcode, final or not. */
function anyServerFrame(opcode: number, length: number, fin = true): Buffer {
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
    anyServerFrame(0x1, 0), anyServerFrame(0x2, 125), anyServerFrame(0x9, 3), anyServerFrame(0x1, 126),
    anyServerFrame(0x2, 65535), anyServerFrame(0x1, 10, false), anyServerFrame(0x0, 5), anyServerFrame(0x2, 65536),
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
    const head = Buffer.concat([anyServerFrame(0x1, 200), anyServerFrame(0x2, 70000), anyServerFrame(0x1, 3)]);
    const s = fresh();
    let total = 0;
    for (let i = 0; i < head.length; i++) total += countServerFrames(s, head, i, i + 1);
    expect(total).toBe(3);
    expect(s.hdrLen).toBe(0);
    expect(s.skip).toBe(0);
  });

  it('reports a close frame or a masked frame as -1', () => {
    expect(countServerFrames(fresh(), Buffer.concat([anyServerFrame(0x1, 4), anyServerFrame(0x8, 2)]), 0, 10)).toBe(-1);
    const masked = anyServerFrame(0x1, 4);
    masked[1]! |= 0x80;
    expect(countServerFrames(fresh(), masked, 0, masked.length)).toBe(-1);
  });
});
