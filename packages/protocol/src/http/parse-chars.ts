/**
 * Byte classes of the HTTP/1.1 grammar (RFC 9110 §5.6, RFC 9112), as one lookup table.
 *
 * The parser classifies every byte it scans with `CHAR_CLASS[byte] & FLAG`: one array read and one
 * AND per byte, no branches on ranges, no regular expressions. Each flag is one grammar rule.
 *
 * Immutable after module load; shared by every parser of every thread.
 */

/** `tchar` (RFC 9110 §5.6.2): the characters of a token (method, field name, coding name). */
export const TCHAR = 1;
/** Allowed inside a field value: `field-vchar` (VCHAR / obs-text), SP and HTAB (RFC 9110 §5.5). */
export const FIELD_CHAR = 2;
/** Allowed in a request-target: VCHAR only, so no SP, no CTL, no obs-text (RFC 9112 §3.2). */
export const TARGET_CHAR = 4;
/** HEXDIG, for chunk sizes (RFC 9112 §7.1). */
export const HEX_DIGIT = 8;
/** A–Z: a field name containing one must be lower-cased. */
export const UPPER = 16;
/** `qdtext` of a quoted-string (RFC 9110 §5.6.4): what may stand unescaped between the quotes. */
export const QDTEXT = 32;

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const EQUALS = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;

export const CHAR_CLASS: Uint8Array = buildTable();

function buildTable(): Uint8Array {
  const t = new Uint8Array(256);
  const tokenPunct = "!#$%&'*+-.^_`|~";
  for (let c = 0; c < 256; c++) {
    const isAlpha = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    const isDigit = c >= 0x30 && c <= 0x39;
    const isVchar = c >= 0x21 && c <= 0x7e;
    const isObsText = c >= 0x80;
    let flags = 0;
    if (isAlpha || isDigit || tokenPunct.includes(String.fromCharCode(c))) flags |= TCHAR;
    if (isVchar || isObsText || c === SP || c === HTAB) flags |= FIELD_CHAR;
    if (isVchar) flags |= TARGET_CHAR;
    if (isDigit || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)) flags |= HEX_DIGIT;
    if (c >= 0x41 && c <= 0x5a) flags |= UPPER;
    // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text: everything printable but `"` and `\`.
    if (c === HTAB || c === SP || c === 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e) || isObsText) {
      flags |= QDTEXT;
    }
    t[c] = flags;
  }
  return t;
}

/** Value of one hexadecimal digit (the caller has checked HEX_DIGIT). */
export function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/**
 * Field names that real clients send on nearly every request. Finding a name here (byte compare,
 * ignoring case) saves creating and lower-casing a string per header line: on a keep-alive
 * connection that is most of the parser's allocations.
 */
const KNOWN_FIELD_NAMES = [
  'accept', 'accept-charset', 'accept-encoding', 'accept-language', 'authorization', 'cache-control',
  'connection', 'content-length', 'content-type', 'cookie', 'date', 'dnt', 'expect', 'forwarded',
  'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range', 'if-unmodified-since',
  'keep-alive', 'origin', 'pragma', 'priority', 'range', 'referer', 'sec-ch-ua', 'sec-ch-ua-mobile',
  'sec-ch-ua-platform', 'sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site', 'sec-fetch-user', 'te',
  'trailer', 'transfer-encoding', 'upgrade', 'upgrade-insecure-requests', 'user-agent', 'via',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'x-requested-with',
];

/** The methods of RFC 9110 §9 and PATCH: compared exactly, since methods are case-sensitive. */
const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** Names grouped by length, the first thing compared. */
function byLength(names: string[]): string[][] {
  const table: string[][] = [];
  for (const name of names) (table[name.length] ??= []).push(name);
  return table;
}
const FIELD_NAMES_BY_LENGTH = byLength(KNOWN_FIELD_NAMES);
const METHODS_BY_LENGTH = byLength(KNOWN_METHODS);

/** The entry of `table` spelled by src[start, end); `fold` ORs each byte with `fold` first (0x20: ignore case). */
function findKnown(table: string[][], fold: number, src: Uint8Array, start: number, end: number): string | undefined {
  const candidates = table[end - start];
  if (candidates === undefined) return undefined;
  for (let k = 0; k < candidates.length; k++) {
    const name = candidates[k]!;
    let i = 0;
    while (i < name.length && (src[start + i]! | fold) === name.charCodeAt(i)) i++;
    if (i === name.length) return name;
  }
  return undefined;
}

/**
 * The lower-case well-known name spelled by `src[start, end)` in any case, or undefined.
 * The bytes must already be tchars: then `byte | 0x20` equals a lower-case letter, digit or '-'
 * only for that letter in either case, that digit, or '-' (the other bytes it would accept are
 * control characters, which are not tchars).
 */
export function knownFieldName(src: Uint8Array, start: number, end: number): string | undefined {
  return findKnown(FIELD_NAMES_BY_LENGTH, 0x20, src, start, end);
}

/** The standard method spelled exactly by `src[start, end)`, as a shared string, or undefined. */
export function knownMethod(src: Uint8Array, start: number, end: number): string | undefined {
  return findKnown(METHODS_BY_LENGTH, 0, src, start, end);
}
