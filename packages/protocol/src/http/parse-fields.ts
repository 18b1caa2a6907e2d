/**
 * The meaning of the few fields that decide how a request is framed and routed: Content-Length,
 * Transfer-Encoding, Connection, Host, and the request-target. The byte-level parser (parser.ts)
 * has already checked that names are tokens and values hold no control characters; these
 * functions read the strings it built. Pure functions, callable from any thread.
 */
import { CHAR_CLASS, TCHAR } from './parse-chars.js';

// ---------------------------------------------------------------------------------------------
// Content-Length (RFC 9112 §6.3 item 5, RFC 9110 §8.6)
// ---------------------------------------------------------------------------------------------

/**
 * The body length a Content-Length value announces, or -1 if the value is invalid.
 *
 * `value` is every Content-Length field line joined with ", ". RFC 9112 §6.3 item 5 lets a
 * recipient accept a list only when every element is a valid, identical number (a proxy may have
 * merged duplicates); anything else — empty, signed, spaced digits, differing values — is an
 * unrecoverable framing error. Numbers beyond 2^53 come back as Infinity: they can only fail the
 * body limit anyway.
 */
export function parseContentLength(value: string): number {
  const n = value.length;
  let result = -1;
  let i = 0;
  for (;;) {
    const start = i;
    let v = 0;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + (c - 0x30);
      i++;
    }
    if (i === start) return -1; // empty element, or not a digit
    if (v > Number.MAX_SAFE_INTEGER) v = Infinity;
    if (result === -1) result = v;
    else if (result !== v) return -1; // differing values: which one frames the body? Refuse.
    i = skipOws(value, i);
    if (i === n) return result;
    if (value.charCodeAt(i) !== 0x2c /* , */) return -1;
    i = skipOws(value, i + 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Transfer-Encoding (RFC 9112 §6.1, §6.3 item 4, §7)
// ---------------------------------------------------------------------------------------------

/**
 * What a server that only implements `chunked` makes of a Transfer-Encoding list.
 * - `chunked`: chunked is the only coding: the body is framed by its chunks.
 * - `malformed`: not a list of transfer-codings (400).
 * - `not-final`: chunked is absent or not last, so the body length cannot be known (§6.3 item 4:
 *   the server MUST answer 400 and close).
 * - `twice`: chunked applied more than once (§6.1: a sender MUST NOT do that) (400).
 * - `unsupported`: chunked is last, but another coding (gzip, deflate...) sits under it. The
 *   framing is sound, yet §6.1 says a server that receives a coding it does not understand SHOULD
 *   answer 501 (Not Implemented). We never decode bodies, but answering as if we had would be a
 *   lie about the request we received, so we follow the SHOULD.
 */
export type CodingVerdict = 'chunked' | 'malformed' | 'not-final' | 'twice' | 'unsupported';

/** `value`: every Transfer-Encoding field line joined with ", ". */
export function checkTransferCoding(value: string): CodingVerdict {
  // Nearly every real request says exactly `chunked`.
  if (value.length === 7 && value.toLowerCase() === 'chunked') return 'chunked';

  // transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) )
  const codings: string[] = []; // lower-cased names; a coding with parameters gets a ";" suffix
  const n = value.length;
  let i = 0;
  for (;;) {
    // Empty list elements ("a, , b") are allowed and ignored (RFC 9110 §5.6.1.2).
    while (i < n && (isOws(value.charCodeAt(i)) || value.charCodeAt(i) === 0x2c)) i++;
    if (i === n) break;
    const nameEnd = skipToken(value, i);
    if (nameEnd === i) return 'malformed';
    let name = value.slice(i, nameEnd).toLowerCase();
    i = skipOws(value, nameEnd);
    while (i < n && value.charCodeAt(i) === 0x3b /* ; */) {
      i = skipOws(value, i + 1);
      const paramEnd = skipToken(value, i);
      if (paramEnd === i) return 'malformed';
      i = skipOws(value, paramEnd);
      if (value.charCodeAt(i) !== 0x3d /* = */) return 'malformed';
      i = skipOws(value, i + 1);
      const valueEnd = value.charCodeAt(i) === 0x22 ? skipQuotedString(value, i) : skipToken(value, i);
      if (valueEnd <= i) return 'malformed';
      i = skipOws(value, valueEnd);
      name += ';';
    }
    if (i < n && value.charCodeAt(i) !== 0x2c) return 'malformed';
    codings.push(name);
  }
  if (codings.length === 0) return 'malformed'; // Transfer-Encoding = #transfer-coding, at least one
  if (codings[codings.length - 1] !== 'chunked') return 'not-final';
  let verdict: CodingVerdict = 'chunked';
  for (let k = 0; k < codings.length - 1; k++) {
    if (codings[k] === 'chunked') return 'twice';
    verdict = 'unsupported';
  }
  return verdict;
}

// ---------------------------------------------------------------------------------------------
// Connection (RFC 9110 §7.6.1, RFC 9112 §9.3)
// ---------------------------------------------------------------------------------------------

export const CONNECTION_CLOSE = 1;
export const CONNECTION_KEEP_ALIVE = 2;

/** The `close` / `keep-alive` options named in a Connection value (case-insensitive), as bits. */
export function connectionOptions(value: string): number {
  const lower = value.toLowerCase();
  if (lower === 'keep-alive') return CONNECTION_KEEP_ALIVE;
  if (lower === 'close') return CONNECTION_CLOSE;
  let options = 0;
  for (const element of lower.split(',')) {
    const option = element.replace(/^[ \t]+|[ \t]+$/g, ''); // OWS only: trim() would also eat 0xA0
    if (option === 'close') options |= CONNECTION_CLOSE;
    else if (option === 'keep-alive') options |= CONNECTION_KEEP_ALIVE;
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Host and the request-target (RFC 9112 §3.2, RFC 9110 §4.2, RFC 3986 §3.2)
// ---------------------------------------------------------------------------------------------

/** Host = uri-host [ ":" port ]; the host may be empty (RFC 9112 §3.2: a client without an authority sends an empty Host). */
export function isValidHost(value: string): boolean {
  return isAuthority(value, 0, value.length, false, false);
}

/** Which of the four forms of RFC 9112 §3.2 a request-target has. */
export type TargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk';

export interface TargetParts {
  form: TargetForm;
  /** Still percent-encoded; '/' at least; '*' for asterisk-form, '/' for authority-form (CONNECT has no path). */
  path: string;
  /** After '?', without it; '' if none. A fragment ('#...', which clients must not send) is dropped. */
  query: string;
}

/**
 * Splits a request-target (already checked to be VCHARs only) according to its form, or returns
 * null when it is not valid for `method`:
 * - origin-form `/path?query` — any method;
 * - absolute-form `http://host/path?query` — any method; the path is extracted (§3.2.2);
 * - authority-form `host:port` — only, and always, for CONNECT (§3.2.3);
 * - asterisk-form `*` — only for OPTIONS (§3.2.4).
 */
export function splitTarget(method: string, target: string): TargetParts | null {
  const first = target.charCodeAt(0);
  if (method === 'CONNECT') {
    return isAuthority(target, 0, target.length, true, true) ? { form: 'authority', path: '/', query: '' } : null;
  }
  if (first === 0x2f /* / */) return splitPathAndQuery('origin', target, 0);
  if (target === '*') return method === 'OPTIONS' ? { form: 'asterisk', path: '*', query: '' } : null;
  return splitAbsoluteForm(target);
}

function splitAbsoluteForm(target: string): TargetParts | null {
  // A server only answers for its own schemes; `ftp://...` or `urn:...` is not a target it serves.
  const lower = target.slice(0, 8).toLowerCase();
  const authorityStart = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : -1;
  if (authorityStart < 0) return null;
  let authorityEnd = authorityStart;
  while (authorityEnd < target.length) {
    const c = target.charCodeAt(authorityEnd);
    if (c === 0x2f || c === 0x3f || c === 0x23) break; // / ? #
    authorityEnd++;
  }
  // RFC 9110 §4.2.4: userinfo ("user:pass@") in an http(s) target is to be treated as an error;
  // RFC 9110 §4.2.1: an http URI with an empty host MUST be rejected.
  if (!isAuthority(target, authorityStart, authorityEnd, true, false)) return null;
  if (authorityEnd === target.length || target.charCodeAt(authorityEnd) !== 0x2f) {
    // No path: the target is the root ("http://host?q" asks for "/?q").
    const parts = splitPathAndQuery('absolute', target, authorityEnd);
    parts.path = '/';
    return parts;
  }
  return splitPathAndQuery('absolute', target, authorityEnd);
}

function splitPathAndQuery(form: TargetForm, target: string, pathStart: number): TargetParts {
  const hash = target.indexOf('#', pathStart);
  const end = hash < 0 ? target.length : hash;
  const question = target.indexOf('?', pathStart);
  if (question < 0 || question > end) {
    return { form, path: pathStart === 0 && end === target.length ? target : target.slice(pathStart, end), query: '' };
  }
  return { form, path: target.slice(pathStart, question), query: target.slice(question + 1, end) };
}

// #region authority
/**
 * `s[start, end)` is `uri-host [ ":" port ]` (RFC 3986 §3.2.2–3.2.3), without userinfo.
 * uri-host is an IP-literal in brackets (isIpLiteral), or a reg-name: unreserved, sub-delims and
 * pct-encoded characters, which also covers IPv4 addresses (a reg-name that looks like one is one).
 */
function isAuthority(s: string, start: number, end: number, needHost: boolean, needPort: boolean): boolean {
  let i = start;
  if (i < end && s.charCodeAt(i) === 0x5b /* [ */) {
    const close = s.indexOf(']', i);
    if (close < 0 || close >= end || !isIpLiteral(s, i + 1, close)) return false;
    i = close + 1;
  } else {
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c === 0x3a) break;
      if (c === 0x25 /* % */) {
        if (i + 2 >= end || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
        i += 3;
        continue;
      }
      if (!isUnreservedOrSubDelim(c)) return false; // '@' (userinfo), '/', '?', '#', '[' ...
      i++;
    }
    if (needHost && i === start) return false;
  }
  if (i === end) return !needPort;
  if (s.charCodeAt(i) !== 0x3a) return false;
  i++;
  if (needPort && i === end) return false;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
// #endregion authority

// #region ip-literal
/**
 * What stands between the brackets of an IP-literal (RFC 3986 §3.2.2), `s[start, end)`:
 *
 *   IPv6address (RFC 4291 §2.2 text forms): eight groups of 1–4 hex digits separated by ":",
 *     the last two of which may be written as an IPv4 address (`::ffff:1.2.3.4`); one "::" may
 *     stand for one or more groups of zeros, so with it at most seven groups are written.
 *   IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ), for address kinds not yet
 *     defined (`[v1.x]`).
 *
 * A zone identifier (`[fe80::1%25eth0]`, RFC 6874) is not part of RFC 3986's grammar, nor of an
 * http URI's host (RFC 9110 §4.2.1 cites 3986): it is rejected. Parsing the whole grammar matters
 * because a host that two parsers read differently (`[1::2::3]`) is a request-smuggling and
 * cache-poisoning hazard when a proxy in front reads it another way.
 */
function isIpLiteral(s: string, start: number, end: number): boolean {
  if (start < end && (s.charCodeAt(start) | 0x20) === 0x76 /* v */) return isIpvFuture(s, start + 1, end);
  const gap = s.indexOf('::', start);
  if (gap < 0 || gap >= end - 1) return ipv6Groups(s, start, end, true) === 8;
  if (s.indexOf('::', gap + 1) >= 0 && s.indexOf('::', gap + 1) < end - 1) return false; // two "::" (or ":::")
  const left = gap === start ? 0 : ipv6Groups(s, start, gap, false);
  const right = gap + 2 === end ? 0 : ipv6Groups(s, gap + 2, end, true);
  return left >= 0 && right >= 0 && left + right <= 7;
}

/**
 * How many 16-bit groups `s[start, end)` — h16 *( ":" h16 ), not empty — spells, or -1 if it is
 * not that. With `ipv4Last`, the last element may be an IPv4 address, which counts as two groups.
 */
function ipv6Groups(s: string, start: number, end: number, ipv4Last: boolean): number {
  let groups = 0;
  let i = start;
  for (;;) {
    let j = i;
    while (j < end && s.charCodeAt(j) !== 0x3a) j++;
    if (ipv4Last && j === end && s.indexOf('.', i) >= 0 && s.indexOf('.', i) < end) {
      return isIpv4(s, i, end) ? groups + 2 : -1;
    }
    if (j === i || j - i > 4) return -1; // an empty group (a lone ":" at either end) or too long
    for (let k = i; k < j; k++) if (!isHex(s.charCodeAt(k))) return -1;
    groups++;
    if (groups > 8) return -1;
    if (j === end) return groups;
    i = j + 1;
    if (i === end) return -1; // a trailing ":"
  }
}

/** IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet; 0–255, no leading zeros. */
function isIpv4(s: string, start: number, end: number): boolean {
  let octets = 0;
  let i = start;
  while (octets < 4) {
    let j = i;
    while (j < end && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x39) j++;
    const digits = j - i;
    if (digits === 0 || digits > 3 || (digits > 1 && s.charCodeAt(i) === 0x30)) return false;
    if (Number(s.slice(i, j)) > 255) return false;
    octets++;
    if (octets === 4) return j === end;
    if (j >= end || s.charCodeAt(j) !== 0x2e /* . */) return false;
    i = j + 1;
  }
  return false;
}

/** IPvFuture after its "v": 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). */
function isIpvFuture(s: string, start: number, end: number): boolean {
  let i = start;
  while (i < end && isHex(s.charCodeAt(i))) i++;
  if (i === start || i >= end || s.charCodeAt(i) !== 0x2e) return false;
  if (++i === end) return false;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isUnreservedOrSubDelim(c) && c !== 0x3a) return false;
  }
  return true;
}
// #endregion ip-literal

// ---------------------------------------------------------------------------------------------
// Small scanners over strings
// ---------------------------------------------------------------------------------------------

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function skipOws(s: string, i: number): number {
  while (i < s.length && isOws(s.charCodeAt(i))) i++;
  return i;
}

function isTchar(c: number): boolean {
  return c < 256 && (CHAR_CLASS[c]! & TCHAR) !== 0;
}

function skipToken(s: string, i: number): number {
  while (i < s.length && isTchar(s.charCodeAt(i))) i++;
  return i;
}

/** End of the quoted-string starting at `s[i] === '"'` (RFC 9110 §5.6.4), or -1 if unterminated. */
function skipQuotedString(s: string, i: number): number {
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) i++; // quoted-pair: the next character is taken literally
  }
  return -1;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

/** unreserved / sub-delims of RFC 3986 §2.2–2.3: what a reg-name is made of (with pct-encoding). */
const REG_NAME_CHAR: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=") t[c.charCodeAt(0)] = 1;
  return t;
})();

function isUnreservedOrSubDelim(c: number): boolean {
  return c < 128 && REG_NAME_CHAR[c] === 1;
}
