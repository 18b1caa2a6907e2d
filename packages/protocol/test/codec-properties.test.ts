/**
 * Property tests of the framing codecs (fast-check), over generated codecs of all four kinds
 * (line, delimiter, fixed, length field with random knobs):
 *
 * - decode ∘ encode is identity: frames encoded back to back decode to the same frames, however
 *   the stream is cut into reads (random cuts, byte by byte), with a read buffer reused between
 *   pushes;
 * - encode ∘ decode is identity: re-encoding the decoded frames gives the wire bytes back;
 * - on any bytes at all (noise included) the cut never matters: the same frames, then the same
 *   error or the same partial frame, as a single push; nothing throws, and a decoder never holds
 *   more than its maximum frame plus one read.
 */
import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { delimiterCodec, fixedCodec, isFrameError, lengthFieldCodec, lineCodec, parseCodecSpec, type Codec, type FrameError } from '../src/index.js';

// ---------------------------------------------------------------------------------------------
// Generated codecs, and frames each can carry
// ---------------------------------------------------------------------------------------------

/** Small alphabets make delimiters (and their prefixes) occur inside frames often. */
const byteFrom = (alphabet: number[]): fc.Arbitrary<number> => fc.constantFrom(...alphabet);
const ALPHABET = [0x61, 0x62, 0x0d, 0x0a, 0x00, 0xff];

const lineArb = fc.integer({ min: 1, max: 40 }).map((max) => lineCodec(max));
const delimiterArb = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 4 }).map((d) => d.map((b) => ALPHABET[b % ALPHABET.length]!)), fc.integer({ min: 1, max: 40 }))
  .map(([d, max]) => delimiterCodec(d, max));
const fixedArb = fc.integer({ min: 1, max: 16 }).map((n) => fixedCodec(n));
const lengthArb = fc
  .record({
    offset: fc.integer({ min: 0, max: 4 }),
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    endian: fc.constantFrom('be' as const, 'le' as const),
    adjust: fc.integer({ min: -12, max: 12 }),
    stripExtra: fc.integer({ min: -12, max: 3 }), // strip = offset + size + this, at least 0
    max: fc.integer({ min: 16, max: 300 }), // at least offset + size + 3: every generated strip fits a frame
  })
  .map(({ stripExtra, ...o }) => lengthFieldCodec({ ...o, strip: Math.max(0, o.offset + o.size + stripExtra) }));
const codecArb: fc.Arbitrary<Codec> = fc.oneof(lineArb, delimiterArb, fixedArb, lengthArb);

/** Frames the codec accepts to encode (candidates it refuses, like a line holding `\n`, are dropped). */
function framesFor(codec: Codec): fc.Arbitrary<Uint8Array[]> {
  const candidate = codec.spec.startsWith('fixed:')
    ? fc.uint8Array({ minLength: codec.maxFrameLength, maxLength: codec.maxFrameLength })
    : fc.oneof(fc.array(byteFrom(ALPHABET), { maxLength: 48 }).map((a) => Uint8Array.from(a)), fc.uint8Array({ maxLength: 48 }));
  return fc.array(candidate, { maxLength: 12 }).map((frames) => frames.filter((f) => encodes(codec, f)).map((f) => keptHeaderSet(codec, f)));
}

/**
 * A length codec with strip < offset + size keeps (part of) the length field in the frame, and
 * encoding writes the true length there: a random frame's field bytes are replaced by it, which
 * is what a frame of that codec always holds. Every other frame is left as generated.
 */
function keptHeaderSet(codec: Codec, frame: Uint8Array): Uint8Array {
  const m = /^length:offset=(\d+),size=(\d+),.*strip=(\d+)/.exec(codec.spec);
  if (!m || Number(m[3]) >= Number(m[1]) + Number(m[2])) return frame;
  return Buffer.from(codec.encode(frame)).subarray(Number(m[3]));
}

function encodes(codec: Codec, frame: Uint8Array): boolean {
  try {
    codec.encode(frame);
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

const cutsArb = fc.array(fc.nat(), { maxLength: 30 });

/** Not a speed target: room for a shared, loaded machine to finish the runs. */
const LONG = 120_000;

// ---------------------------------------------------------------------------------------------
// Running a decoder
// ---------------------------------------------------------------------------------------------

interface Outcome {
  frames: Buffer[];
  error: FrameError | null;
  buffered: number;
}

/**
 * Push `input` cut at `cuts`, each piece through one reused read buffer (as a model does), and
 * drain after each push, checking the bound on what the decoder holds.
 */
function feed(codec: Codec, input: Uint8Array, cuts: number[]): Outcome {
  const d = codec.decoder();
  const readBuffer = Buffer.alloc(input.length + 1);
  const frames: Buffer[] = [];
  let error: FrameError | null = null;
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...points, input.length]) {
    if (to <= from) continue;
    readBuffer.set(input.subarray(from, to));
    d.push(readBuffer.subarray(0, to - from));
    readBuffer.fill(0xee, 0, to - from);
    for (let f = d.next(); f !== null && error === null; f = d.next()) {
      if (isFrameError(f)) {
        error = f;
        expect(d.next(), 'an error is returned again').toBe(f);
      } else {
        frames.push(Buffer.from(f)); // a copy: views die with the next push
      }
    }
    // Drained: what is held is one partial frame, within the maximum plus a delimiter's worth.
    // (A plain check, not expect(): this runs once per byte in the byte-by-byte feeds.)
    if (d.buffered > codec.maxFrameLength + 4) throw new Error(`${codec.spec}: ${d.buffered} bytes held after draining`);
    from = to;
  }
  return { frames, error, buffered: d.buffered };
}

const wire = (codec: Codec, frames: Uint8Array[]): Buffer => Buffer.concat(frames.map((f) => codec.encode(f)));
const byteByByte = (input: Uint8Array): number[] => Array.from({ length: input.length }, (_, i) => i);

// ---------------------------------------------------------------------------------------------

describe('codec properties', () => {
  test('decode(encode(frames)) = frames, for any cut of the stream', () => {
    fc.assert(
      fc.property(codecArb.chain((c) => fc.tuple(fc.constant(c), framesFor(c), cutsArb)), ([codec, frames, cuts]) => {
        const bytes = wire(codec, frames);
        const expected = frames.map((f) => Buffer.from(f));
        for (const split of [[], cuts, byteByByte(bytes)]) {
          const out = feed(codec, bytes, split);
          expect(out.error, codec.spec).toBeNull();
          expect(out.frames, codec.spec).toEqual(expected);
          expect(out.buffered).toBe(0);
        }
      }),
      { numRuns: 200 },
    );
  }, LONG);

  test('encode(decode(bytes)) = bytes: the decoded frames re-encode to the wire they came from', () => {
    fc.assert(
      fc.property(codecArb.chain((c) => fc.tuple(fc.constant(c), framesFor(c), cutsArb)), ([codec, frames, cuts]) => {
        const bytes = wire(codec, frames);
        const decoded = feed(codec, bytes, cuts).frames;
        expect(wire(codec, decoded).equals(bytes), codec.spec).toBe(true);
      }),
      { numRuns: 200 },
    );
  }, LONG);

  test('on any bytes, the cut never changes the outcome, and nothing throws', () => {
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(byteFrom(ALPHABET), { maxLength: 400 }).map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(codecArb, noise, cutsArb, (codec, bytes, cuts) => {
        const whole = feed(codec, bytes, []);
        for (const split of [cuts, byteByByte(bytes)]) {
          const cut = feed(codec, bytes, split);
          expect(cut.frames, codec.spec).toEqual(whole.frames);
          // The same kind of error; its reason may differ (a line seen too long before its \n).
          expect(cut.error?.frameError, codec.spec).toEqual(whole.error?.frameError);
          if (!whole.error) expect(cut.buffered).toBe(whole.buffered);
        }
        // What was framed fits the maximum.
        for (const f of whole.frames) expect(f.length).toBeLessThanOrEqual(codec.maxFrameLength);
      }),
      { numRuns: 200 },
    );
  }, LONG);

  test('a codec rebuilt from its spec is the same codec', () => {
    fc.assert(
      fc.property(codecArb.chain((c) => fc.tuple(fc.constant(c), framesFor(c))), ([codec, frames]) => {
        const again = parseCodecSpec(codec.spec)!;
        expect(again.spec).toBe(codec.spec);
        expect(wire(again, frames).equals(wire(codec, frames))).toBe(true);
      }),
      { numRuns: 200 },
    );
  }, LONG);
});
