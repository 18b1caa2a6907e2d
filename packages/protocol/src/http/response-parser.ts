/**
 * An incremental HTTP/1.1 *response* parser (RFC 9112): the client's half of the HTTP core.
 *
 * The server's `RequestParser` reads what clients send; this reads what servers answer. It is fed
 * whatever read(2) returned — half a status line, one response, or a burst of pipelined responses —
 * and reports each complete response, in order. The result never depends on how the bytes were
 * split into reads.
 *
 * Framing (RFC 9112 §6.3), in the order the RFC decides it:
 *   1. the answer to HEAD, 1xx, 204 and 304 have no body;
 *   2. Transfer-Encoding with chunked last: the body is chunks (§7.1), trailers skipped;
 *      Transfer-Encoding without chunked last: the body runs until the server closes;
 *   3. Content-Length: exactly that many bytes;
 *   4. neither: the body runs until the server closes (and the connection cannot be reused).
 * A response with both Transfer-Encoding and Content-Length, or with differing Content-Lengths, is
 * rejected (§6.3 items 3 and 5: the framing is in doubt, so nothing after it can be trusted).
 * Interim 1xx responses (100 Continue) are skipped; 101 ends the parse (the protocol changed).
 *
 * Two modes. By default nothing is allocated per response: header names are compared byte by
 * byte, Content-Length is read as digits, bodies are counted and skipped — what a load generator
 * needs (it only counts statuses and times). With `collect: true` the header fields and the body
 * are kept as well, for clients that use the answer.
 *
 * Ownership: the `ParsedResponse` passed to `onResponse` belongs to the parser and is reused for
 * the next response: read it during the call, copy what must outlive it. Threading: a parser
 * belongs to the one thread that owns the connection.
 */
import { CHAR_CLASS, CR, HEX_DIGIT, HTAB, LF, SP, TCHAR, hexValue } from './parse-chars.js';
import { CONNECTION_CLOSE, CONNECTION_KEEP_ALIVE, checkTransferCoding, connectionOptions, parseContentLength } from './parse-fields.js';

/** One response, as far as the client needs it. Reused by its parser (see the file comment). */
export interface ParsedResponse {
  status: number;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: number;
  /** May the connection carry another request after this one? */
  keepAlive: boolean;
  /** Bytes of body (decoded: chunk framing not counted). */
  bodyLength: number;
  /** `collect` mode: the header fields in order, names as sent; otherwise empty. */
  headers: Array<[string, string]>;
  /** `collect` mode: the body; otherwise null. */
  body: Buffer | null;
}

/** What the parser reports. Called on the parser's thread, from inside `push` or `finish`. */
export interface ResponseHandler {
  /** A response is complete. `res` is valid during the call only. */
  onResponse(res: ParsedResponse): void;
  /** The bytes are not a valid response stream; the parser stops. The connection must be closed. */
  onError(reason: string): void;
  /**
   * Asked once a response's head is complete: does it answer a HEAD request? (Then it has no body,
   * whatever its Content-Length says.) Default: no.
   */
  answersHead?(): boolean;
}

export interface ResponseParserOptions {
  /** Keep header fields and bodies (default false: count and skip). */
  collect?: boolean;
  /** Longest status line plus header section (and trailer section) accepted. Default 64 KiB. */
  maxHeaderBytes?: number;
}

// Parser states. The line states assemble one CRLF-terminated line at a time.
const STATUS_LINE = 0;
const HEADER_LINE = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_END = 4;
const TRAILER_LINE = 5;
const BODY_LENGTH = 6;
const BODY_UNTIL_CLOSE = 7;
/** After a response that does not keep the connection, a 101, or an error: nothing more is read. */
const DONE = 8;
const FAILED = 9;

// Lower-case names of the fields that decide framing, as bytes for a compare without allocating.
const CONTENT_LENGTH = bytes('content-length');
const TRANSFER_ENCODING = bytes('transfer-encoding');
const CONNECTION = bytes('connection');
const KEEP_ALIVE = bytes('keep-alive');
const CLOSE = bytes('close');
const CHUNKED = bytes('chunked');

export class ResponseParser {
  /** True once the parser stopped for good (an error, a closing response, a 101). */
  get stopped(): boolean {
    return this.state === DONE || this.state === FAILED;
  }

  /** True while a response has begun and is not complete yet. */
  get midResponse(): boolean {
    return this.state !== STATUS_LINE ? this.state !== DONE && this.state !== FAILED : this.lineLength > 0;
  }

  private state = STATUS_LINE;
  private readonly collect: boolean;
  private readonly maxHeaderBytes: number;
  /** The response being parsed; handed to `onResponse`, then reset for the next. */
  private readonly res: ParsedResponse = { status: 0, versionMinor: 1, keepAlive: true, bodyLength: 0, headers: [], body: null };
  /** A line split across reads: its first part, copied (the read buffer is reused). */
  private line: Buffer = Buffer.allocUnsafe(256);
  private lineLength = 0;
  /** Bytes of status line + header section (or of the trailer section) so far, against the limit. */
  private headBytes = 0;
  /** Content-Length seen (-1 none), and whether Transfer-Encoding was. */
  private contentLength = -1;
  private transferEncoding: 'none' | 'chunked' | 'other' = 'none';
  /** Connection options seen (CONNECTION_CLOSE | CONNECTION_KEEP_ALIVE bits). */
  private connection = 0;
  /** Body (or current chunk) bytes still to come. */
  private remaining = 0;
  /** `collect` mode: body pieces, joined at the end. */
  private bodyParts: Buffer[] = [];

  constructor(
    private readonly handler: ResponseHandler,
    opts: ResponseParserOptions = {},
  ) {
    this.collect = opts.collect ?? false;
    this.maxHeaderBytes = opts.maxHeaderBytes ?? 64 * 1024;
  }

  // #region push
  /** Parse `data[start, end)`. Complete responses are reported before this returns. */
  push(data: Uint8Array, start = 0, end = data.length): void {
    let i = start;
    while (i < end) {
      const state = this.state;
      if (state === BODY_LENGTH || state === CHUNK_DATA) {
        // The fast path of a body: count it (and keep it, collecting), never scan it.
        const take = Math.min(this.remaining, end - i);
        this.takeBody(data, i, take);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) {
          if (state === BODY_LENGTH) this.complete();
          else this.state = CHUNK_DATA_END;
        }
      } else if (state === BODY_UNTIL_CLOSE) {
        this.takeBody(data, i, end - i);
        i = end;
      } else if (state === DONE || state === FAILED) {
        return; // nothing after a closing response (or an error) is read
      } else {
        i = this.pushLine(data, i, end);
      }
    }
  }
  // #endregion push

  /**
   * The server closed the connection (read returned 0). A body that runs until close is complete
   * now; a response cut short is an error. Returns true if the stream ended cleanly.
   */
  finish(): boolean {
    if (this.state === BODY_UNTIL_CLOSE) {
      this.complete();
      this.state = DONE;
      return true;
    }
    if (this.state === DONE || this.state === FAILED) return this.state === DONE;
    if (this.state === STATUS_LINE && this.lineLength === 0) {
      this.state = DONE;
      return true;
    }
    this.fail('connection closed in the middle of a response');
    return false;
  }

  /** Start over on a new connection (the same parser serves each connection a slot opens). */
  reset(): void {
    this.state = STATUS_LINE;
    this.lineLength = 0;
    this.bodyParts = [];
    this.resetHead();
    this.res.bodyLength = 0;
    this.res.body = null;
  }

  // --- lines ---------------------------------------------------------------------------------

  /** Feed bytes to the line being assembled; returns where the line states stopped reading. */
  private pushLine(data: Uint8Array, i: number, end: number): number {
    const lf = data.indexOf(LF, i);
    if (lf < 0 || lf >= end) {
      // No line end yet: keep the part we have (the read buffer is the model's and is reused).
      this.countHead(end - i);
      if (this.state !== FAILED) this.appendLine(data, i, end);
      return end;
    }
    this.countHead(lf + 1 - i);
    if (this.state === FAILED) return end;
    if (this.lineLength === 0) {
      this.onLine(data, i, lf + 1); // the common case: the whole line is in this read, no copy
    } else {
      this.appendLine(data, i, lf + 1);
      const n = this.lineLength;
      this.lineLength = 0;
      this.onLine(this.line, 0, n);
    }
    return lf + 1;
  }

  private appendLine(data: Uint8Array, from: number, to: number): void {
    const need = this.lineLength + (to - from);
    if (need > this.line.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.line.length * 2));
      this.line.copy(bigger, 0, 0, this.lineLength);
      this.line = bigger;
    }
    this.line.set(data.subarray(from, to), this.lineLength);
    this.lineLength = need;
  }

  /** The status line and header section (or a trailer section) must stay under the limit. */
  private countHead(n: number): void {
    if (this.state === CHUNK_SIZE || this.state === CHUNK_DATA_END) return; // chunk lines: bounded below
    this.headBytes += n;
    if (this.headBytes > this.maxHeaderBytes) this.fail(`header section longer than ${this.maxHeaderBytes} bytes`);
  }

  /** One line `buf[s, e)`, its LF at e - 1. Lines end in CRLF: a bare LF is an error, as in the server. */
  private onLine(buf: Uint8Array, s: number, e: number): void {
    if (e - s < 2 || buf[e - 2] !== CR) return this.fail('line not ended by CRLF');
    const end = e - 2;
    switch (this.state) {
      case STATUS_LINE:
        return this.statusLine(buf, s, end);
      case HEADER_LINE:
        return end === s ? this.endOfHead() : this.fieldLine(buf, s, end);
      case CHUNK_SIZE:
        return this.chunkSize(buf, s, end);
      case CHUNK_DATA_END:
        if (end !== s) return this.fail('chunk data not followed by CRLF');
        this.state = CHUNK_SIZE;
        return;
      case TRAILER_LINE:
        if (end === s) return this.complete(); // trailer fields are skipped: no client here uses them
        if (!this.validField(buf, s, end)) return this.fail('malformed trailer field');
        return;
    }
  }

  /** `HTTP/1.x SP 3DIGIT SP [reason]` (RFC 9112 §4; the reason phrase may be empty). */
  private statusLine(buf: Uint8Array, s: number, end: number): void {
    // "HTTP/1." then one digit, SP, three digits, then SP (optional for an empty reason).
    const ok =
      end - s >= 12 &&
      buf[s] === 0x48 && buf[s + 1] === 0x54 && buf[s + 2] === 0x54 && buf[s + 3] === 0x50 &&
      buf[s + 4] === 0x2f && buf[s + 5] === 0x31 && buf[s + 6] === 0x2e &&
      (buf[s + 7] === 0x30 || buf[s + 7] === 0x31) && buf[s + 8] === SP &&
      isDigit(buf[s + 9]!) && isDigit(buf[s + 10]!) && isDigit(buf[s + 11]!) &&
      (end - s === 12 || buf[s + 12] === SP);
    if (!ok) return this.fail('malformed status line');
    for (let k = s + 13; k < end; k++) {
      const c = buf[k]!;
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return this.fail('control character in the reason phrase');
    }
    const res = this.res;
    res.versionMinor = buf[s + 7]! - 0x30;
    res.status = (buf[s + 9]! - 0x30) * 100 + (buf[s + 10]! - 0x30) * 10 + (buf[s + 11]! - 0x30);
    if (res.status < 100) return this.fail('status code below 100');
    this.state = HEADER_LINE;
  }

  /** `field-name ":" OWS field-value OWS`; only the fields that decide framing are interpreted. */
  private fieldLine(buf: Uint8Array, s: number, end: number): void {
    if (buf[s] === SP || buf[s] === HTAB) return this.fail('obsolete line folding');
    let colon = s;
    while (colon < end && (CHAR_CLASS[buf[colon]!]! & TCHAR) !== 0) colon++;
    if (colon === s || colon === end || buf[colon] !== 0x3a) return this.fail('malformed header field');
    let vs = colon + 1;
    while (vs < end && (buf[vs] === SP || buf[vs] === HTAB)) vs++;
    let ve = end;
    while (ve > vs && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
    for (let k = vs; k < ve; k++) {
      const c = buf[k]!;
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return this.fail('control character in a header value');
    }
    if (this.collect) this.res.headers.push([latin1(buf, s, colon), latin1(buf, vs, ve)]);

    const nameLength = colon - s;
    if (nameLength === CONTENT_LENGTH.length && sameName(buf, s, CONTENT_LENGTH)) {
      const n = digits(buf, vs, ve);
      const value = n >= 0 ? n : parseContentLength(latin1(buf, vs, ve)); // a list "5, 5" is rare
      if (value < 0 || value === Infinity) return this.fail('invalid Content-Length');
      if (this.contentLength >= 0 && this.contentLength !== value) return this.fail('differing Content-Length values');
      this.contentLength = value;
    } else if (nameLength === TRANSFER_ENCODING.length && sameName(buf, s, TRANSFER_ENCODING)) {
      // Several field lines form one list; only the last coding matters for framing.
      const verdict = ve - vs === CHUNKED.length && sameName(buf, vs, CHUNKED) ? 'chunked' : checkTransferCoding(latin1(buf, vs, ve));
      if (verdict === 'malformed' || verdict === 'twice') return this.fail('invalid Transfer-Encoding');
      this.transferEncoding = verdict === 'not-final' ? 'other' : 'chunked';
    } else if (nameLength === CONNECTION.length && sameName(buf, s, CONNECTION)) {
      if (ve - vs === KEEP_ALIVE.length && sameName(buf, vs, KEEP_ALIVE)) this.connection |= CONNECTION_KEEP_ALIVE;
      else if (ve - vs === CLOSE.length && sameName(buf, vs, CLOSE)) this.connection |= CONNECTION_CLOSE;
      else this.connection |= connectionOptions(latin1(buf, vs, ve)) & (CONNECTION_CLOSE | CONNECTION_KEEP_ALIVE);
    }
  }

  /** A trailer field is checked for shape only. */
  private validField(buf: Uint8Array, s: number, end: number): boolean {
    let colon = s;
    while (colon < end && (CHAR_CLASS[buf[colon]!]! & TCHAR) !== 0) colon++;
    return colon > s && colon < end && buf[colon] === 0x3a;
  }

  // #region framing
  /** The empty line after the header section: decide how the body is framed. */
  private endOfHead(): void {
    const res = this.res;
    const status = res.status;
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim (100 Continue, 103 Early Hints): the real response follows.
      this.resetHead();
      this.state = STATUS_LINE;
      return;
    }
    if (this.transferEncoding !== 'none' && this.contentLength >= 0) return this.fail('both Transfer-Encoding and Content-Length');
    const v11 = res.versionMinor === 1;
    res.keepAlive = v11 ? (this.connection & CONNECTION_CLOSE) === 0 : (this.connection & CONNECTION_KEEP_ALIVE) !== 0 && (this.connection & CONNECTION_CLOSE) === 0;
    if (status === 101 || status === 204 || status === 304 || this.handler.answersHead?.() === true) {
      if (status === 101) res.keepAlive = false; // the bytes that follow are another protocol
      return this.complete();
    }
    if (this.transferEncoding === 'chunked') {
      this.state = CHUNK_SIZE;
    } else if (this.transferEncoding === 'other' || this.contentLength < 0) {
      res.keepAlive = false; // the body ends when the connection does
      this.state = BODY_UNTIL_CLOSE;
    } else if (this.contentLength === 0) {
      this.complete();
    } else {
      this.remaining = this.contentLength;
      this.state = BODY_LENGTH;
    }
  }
  // #endregion framing

  /** `chunk-size [ chunk-ext ]` (RFC 9112 §7.1); extensions are skipped. */
  private chunkSize(buf: Uint8Array, s: number, end: number): void {
    let k = s;
    let size = 0;
    while (k < end && (CHAR_CLASS[buf[k]!]! & HEX_DIGIT) !== 0) {
      size = size * 16 + hexValue(buf[k]!);
      if (size > Number.MAX_SAFE_INTEGER) return this.fail('chunk size too large');
      k++;
    }
    if (k === s) return this.fail('invalid chunk size');
    while (k < end && (buf[k] === SP || buf[k] === HTAB)) k++;
    if (k < end && buf[k] !== 0x3b /* ; */) return this.fail('invalid chunk size');
    if (end - s > 4096) return this.fail('chunk extension too long');
    if (size === 0) {
      this.headBytes = 0; // the trailer section has a limit of its own
      this.state = TRAILER_LINE;
    } else {
      this.remaining = size;
      this.state = CHUNK_DATA;
    }
  }

  // --- bodies and completion -----------------------------------------------------------------

  private takeBody(data: Uint8Array, from: number, n: number): void {
    if (n === 0) return;
    this.res.bodyLength += n;
    if (this.collect) this.bodyParts.push(Buffer.from(data.subarray(from, from + n)));
  }

  private complete(): void {
    const res = this.res;
    if (this.collect) {
      res.body = Buffer.concat(this.bodyParts);
      this.bodyParts = [];
    }
    // Set before the call, so that the handler sees `stopped` after a closing response.
    this.state = res.keepAlive ? STATUS_LINE : DONE;
    this.handler.onResponse(res);
    if (this.state === FAILED) return; // the handler gave up on the stream
    this.resetHead();
    res.bodyLength = 0;
    res.body = null;
  }

  /** Forget the head just parsed (after a response, or after an interim 1xx). */
  private resetHead(): void {
    this.headBytes = 0;
    this.contentLength = -1;
    this.transferEncoding = 'none';
    this.connection = 0;
    this.res.keepAlive = true;
    if (this.collect) this.res.headers = [];
  }

  /** Stop for good and report why. */
  fail(reason: string): void {
    if (this.state === FAILED) return;
    this.state = FAILED;
    this.handler.onError(reason);
  }
}

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Case-insensitive compare of `buf[s, s + lower.length)` with a lower-case ASCII name. */
function sameName(buf: Uint8Array, s: number, lower: Uint8Array): boolean {
  for (let k = 0; k < lower.length; k++) {
    if ((buf[s + k]! | 0x20) !== lower[k]) return false;
  }
  return true;
}

/** The decimal number in `buf[s, e)`, or -1 if it is not only digits (or is empty, or > 2^53). */
function digits(buf: Uint8Array, s: number, e: number): number {
  if (e === s) return -1;
  let v = 0;
  for (let k = s; k < e; k++) {
    const c = buf[k]!;
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v > Number.MAX_SAFE_INTEGER ? -1 : v;
}

function latin1(buf: Uint8Array, s: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
}
