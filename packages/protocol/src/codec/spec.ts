/**
 * The `--codec` spec: one string names a codec and its knobs, so it can be typed on a command
 * line and handed to worker threads as plain data (each thread parses it for itself).
 *
 *   none                                   raw bytes, no framing
 *   line[:max=N]                           `\n` or `\r\n` ends a frame
 *   delimiter:X[,max=N]                    X ends a frame; X is written with escapes
 *   fixed:N                                every frame is N bytes
 *   length[:offset=O,size=S,endian=E,adjust=A,strip=K,max=N]   a length field (length-field.ts)
 *
 * Threading: pure functions; any thread.
 */
import { Buffer } from 'node:buffer';
import { lineCodec, delimiterCodec } from './delimiter.js';
import { fixedCodec } from './fixed.js';
import { LENGTH_FIELD_DEFAULTS, lengthFieldCodec, type LengthFieldOptions } from './length-field.js';
import type { Codec } from './codec.js';

/** The largest `max` (and `fixed` size) a spec may ask for: a connection may hold this much. */
export const MAX_FRAME_LIMIT = 64 * 1024 * 1024;
/** `line` and `delimiter` frames are text-sized by default. */
export const DEFAULT_DELIMITED_MAX = 64 * 1024;

/** For `--help`: the grammar and every default. */
export const CODEC_SPEC_HELP = [
  'codec specs (--protocol echo echoes each frame, encoded):',
  '  none                   raw bytes, no framing',
  `  line[:max=N]           a frame ends at \\n or \\r\\n; at most N bytes (default ${DEFAULT_DELIMITED_MAX})`,
  `  delimiter:X[,max=N]    a frame ends at the bytes X, written with \\n \\r \\t \\\\ \\xHH (a comma is \\x2c)`,
  '  fixed:N                every frame is N bytes',
  '  length[:k=v,...]       | offset bytes | length field L (size bytes) | rest |, frame length',
  '                         F = offset + size + L + adjust; the frame is bytes [strip, F)',
  `                         offset=${LENGTH_FIELD_DEFAULTS.offset} size=${LENGTH_FIELD_DEFAULTS.size} (1|2|4|8) endian=${LENGTH_FIELD_DEFAULTS.endian} (be|le) adjust=${LENGTH_FIELD_DEFAULTS.adjust}`,
  `                         strip=offset+size max=${LENGTH_FIELD_DEFAULTS.max} (the largest F)`,
  `  a frame over max closes its connection; every max is at most ${MAX_FRAME_LIMIT}`,
].join('\n');

/** A spec that names no codec the grammar allows. The message says what is wrong, in one line. */
export class CodecSpecError extends Error {}

/** Parse a `--codec` spec: a Codec, or null for `none`. Throws CodecSpecError. */
export function parseCodecSpec(spec: string): Codec | null {
  const colon = spec.indexOf(':');
  const kind = colon === -1 ? spec : spec.slice(0, colon);
  const rest = colon === -1 ? null : spec.slice(colon + 1);
  try {
    switch (kind) {
      case 'none':
        if (rest !== null) throw new CodecSpecError('none takes no options');
        return null;
      case 'line': {
        const o = options(kind, rest ?? '', ['max']);
        return lineCodec(limit(o, 'max', DEFAULT_DELIMITED_MAX));
      }
      case 'delimiter': {
        if (rest === null || rest === '' || rest.startsWith(',')) throw new CodecSpecError('delimiter needs its bytes: delimiter:X (e.g. delimiter:\\r\\n)');
        const comma = rest.indexOf(',');
        const delimiter = unescape(comma === -1 ? rest : rest.slice(0, comma));
        const o = options(kind, comma === -1 ? '' : rest.slice(comma + 1), ['max']);
        return delimiterCodec(delimiter, limit(o, 'max', DEFAULT_DELIMITED_MAX));
      }
      case 'fixed': {
        if (rest === null || !/^\d+$/.test(rest)) throw new CodecSpecError(`fixed needs a size in bytes: fixed:N, got "${spec}"`);
        const size = Number(rest);
        if (size < 1 || size > MAX_FRAME_LIMIT) throw new CodecSpecError(`fixed:N expects N from 1 to ${MAX_FRAME_LIMIT}, got ${rest}`);
        return fixedCodec(size);
      }
      case 'length': {
        const o = options(kind, rest ?? '', ['offset', 'size', 'endian', 'adjust', 'strip', 'max']);
        const picked: Partial<LengthFieldOptions> = {};
        if (o.has('offset')) picked.offset = integer(o, 'offset', 0, MAX_FRAME_LIMIT);
        if (o.has('size')) {
          const size = integer(o, 'size', 1, 8);
          if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new CodecSpecError(`length: size must be 1, 2, 4 or 8, got ${size}`);
          picked.size = size;
        }
        if (o.has('endian')) {
          const endian = o.get('endian');
          if (endian !== 'be' && endian !== 'le') throw new CodecSpecError(`length: endian must be be or le, got "${endian}"`);
          picked.endian = endian;
        }
        if (o.has('adjust')) picked.adjust = integer(o, 'adjust', -MAX_FRAME_LIMIT, MAX_FRAME_LIMIT);
        if (o.has('strip')) picked.strip = integer(o, 'strip', 0, MAX_FRAME_LIMIT);
        picked.max = limit(o, 'max', LENGTH_FIELD_DEFAULTS.max);
        return lengthFieldCodec(picked);
      }
      default:
        throw new CodecSpecError(`unknown codec "${kind}" (expected none, line, delimiter:X, fixed:N or length[:...])`);
    }
  } catch (err) {
    // The codecs' own RangeErrors (a delimiter that is empty, a max smaller than the header) are spec errors too.
    if (err instanceof RangeError) throw new CodecSpecError(`${kind}: ${err.message}`);
    throw err;
  }
}

/** `k=v,k=v` into a map, refusing unknown and repeated keys. */
function options(kind: string, text: string, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (text === '') return out;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    if (!allowed.includes(key)) throw new CodecSpecError(`${kind}: unknown option "${key}" (expected ${allowed.map((k) => `${k}=`).join(', ')})`);
    if (eq === -1 || eq === part.length - 1) throw new CodecSpecError(`${kind}: ${key} needs a value (${key}=...)`);
    if (out.has(key)) throw new CodecSpecError(`${kind}: ${key} given twice`);
    out.set(key, part.slice(eq + 1));
  }
  return out;
}

function integer(o: Map<string, string>, key: string, min: number, max: number): number {
  const raw = o.get(key)!;
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CodecSpecError(`${key} expects an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function limit(o: Map<string, string>, key: string, fallback: number): number {
  return o.has(key) ? integer(o, key, 1, MAX_FRAME_LIMIT) : fallback;
}

/** `\n \r \t \0 \\ \xHH` into bytes; any other character is its UTF-8. */
function unescape(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') { out.push(...Buffer.from(c, 'utf8')); continue; }
    const e = text[++i];
    if (e === 'n') out.push(0x0a);
    else if (e === 'r') out.push(0x0d);
    else if (e === 't') out.push(0x09);
    else if (e === '0') out.push(0x00);
    else if (e === '\\') out.push(0x5c);
    else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) { out.push(parseInt(text.slice(i + 1, i + 3), 16)); i += 2; }
    else throw new CodecSpecError(`delimiter: bad escape "\\${e ?? ''}" (use \\n \\r \\t \\0 \\\\ or \\xHH)`);
  }
  return Uint8Array.from(out);
}
