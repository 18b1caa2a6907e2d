/**
 * Mutational fuzzing, the simple kind: start from valid requests, break them a few bytes at a
 * time in the ways parsers get wrong (CR/LF, spaces, NUL, '%', '\', high bytes, digits, framing
 * headers, pipelining), and sometimes send pure noise. Seeded, so a failure is reproducible: the
 * test prints the seed and the input.
 *
 * Pure functions and a small PRNG; any thread.
 */

/** mulberry32: a tiny, good-enough 32-bit PRNG. Returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid requests to start from: every framing the parser knows, and the paths of the hostile site. */
export const CORPUS: readonly string[] = Object.freeze([
  'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'HEAD /f1.txt HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n',
  'GET /sub/ HTTP/1.0\r\n\r\n',
  'GET /sub HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'POST /f2.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext="v"\r\nhello\r\n0\r\nTrailer: t\r\n\r\n',
  'GET /f3.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /f4.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /f5.txt?q=1#frag HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET http://x/f6.txt HTTP/1.1\r\nHost: x\r\n\r\n',
  'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n',
  'GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /escape.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'DELETE /f7.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
  'BREW /f8.txt HTTP/1.1\r\nHost: x\r\n\r\n',
]);

/** Bytes that matter to an HTTP parser. */
const INTERESTING = Buffer.from('\x00\t\n\r "%,./:;\\\x7f\x80\xc0\xff09aF-+', 'latin1');

/** Header lines that change framing or connection handling. */
const HOSTILE_LINES: readonly string[] = [
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, identity',
  'Content-Length: 3',
  'Content-Length: 99999999999999999999',
  'Content-Length: -1',
  'Content-Length: 3, 4',
  ' folded',
  'Host: y',
  'Connection: close',
  'Connection: keep-alive, upgrade',
  'Upgrade: websocket',
  'Expect: 100-continue',
  'X: a\x01b',
  'X:\x00',
  ' X: y',
  'X : y',
];

type Rng = () => number;
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!;

/** One random change to `b`. */
function mutateOnce(rng: Rng, b: Buffer): Buffer {
  const at = int(rng, b.length + 1);
  switch (int(rng, 9)) {
    case 0: { // flip one bit
      if (b.length === 0) return b;
      const c = Buffer.from(b);
      const i = Math.min(at, b.length - 1);
      c[i] = c[i]! ^ (1 << int(rng, 8));
      return c;
    }
    case 1: { // overwrite a byte with an interesting one
      if (b.length === 0) return b;
      const c = Buffer.from(b);
      c[Math.min(at, b.length - 1)] = pick(rng, [...INTERESTING]);
      return c;
    }
    case 2: // insert 1-3 interesting bytes
      return Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(rng, 3) }, () => pick(rng, [...INTERESTING]))), b.subarray(at)]);
    case 3: // delete up to 8 bytes
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rng, 8))]);
    case 4: { // duplicate a range (often a whole line: repeated headers, pipelined fragments)
      const len = 1 + int(rng, 40);
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
    case 5: { // insert a hostile header line after the request line
      const eol = b.indexOf('\r\n');
      if (eol < 0) return b;
      return Buffer.concat([b.subarray(0, eol + 2), Buffer.from(`${pick(rng, HOSTILE_LINES)}\r\n`, 'latin1'), b.subarray(eol + 2)]);
    }
    case 6: // truncate
      return b.subarray(0, at);
    case 7: // pipeline another request after (or before) this one
      return rng() < 0.5 ? Buffer.concat([b, Buffer.from(pick(rng, CORPUS))]) : Buffer.concat([Buffer.from(pick(rng, CORPUS)), b]);
    default: { // CRLF → LF or CR alone, somewhere
      const crlf = b.indexOf('\r\n', at);
      if (crlf < 0) return b;
      const keep = rng() < 0.5 ? '\n' : '\r';
      return Buffer.concat([b.subarray(0, crlf), Buffer.from(keep), b.subarray(crlf + 2)]);
    }
  }
}

/** Noise: mostly printable, with line ends and high bytes. */
function noise(rng: Rng): Buffer {
  const len = 1 + int(rng, 200);
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    const r = rng();
    out[i] = r < 0.7 ? 0x20 + int(rng, 95) : r < 0.85 ? pick(rng, [0x0d, 0x0a]) : int(rng, 256);
  }
  return out;
}

export interface FuzzCase {
  index: number;
  bytes: Buffer;
  /** Where to cut the input into pieces sent with a pause between them (read boundaries). */
  cuts: number[];
}

/** Longest input: small enough that a server reads it in one read, whatever it decides. */
const MAX_INPUT = 4096;

/**
 * An endless, reproducible stream of fuzz inputs. Inputs that would reach step 06's demo
 * application (`/api/...`) are skipped: the in-process oracle serves static files only.
 */
export function* fuzzCases(seed: number): Generator<FuzzCase> {
  const rng = prng(seed);
  for (let index = 0; ; index++) {
    let bytes: Buffer;
    if (rng() < 0.1) {
      bytes = noise(rng);
    } else {
      bytes = Buffer.from(pick(rng, CORPUS), 'latin1');
      for (let m = 1 + int(rng, 4); m > 0; m--) bytes = mutateOnce(rng, bytes);
    }
    if (bytes.length === 0 || bytes.length > MAX_INPUT || bytes.includes('/api/')) continue;
    const pieces = int(rng, 3); // 0, 1 or 2 cuts
    const cuts = Array.from({ length: pieces }, () => 1 + int(rng, bytes.length)).sort((a, b) => a - b);
    yield { index, bytes, cuts: [...new Set(cuts)].filter((c) => c < bytes.length) };
  }
}

/** `bytes` cut at `cuts`. */
export function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of cuts) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out;
}
