// #region design-notes
/**
 * A strict, incremental HTTP/1.1 request parser (RFC 9112).
 *
 * The model hands us whatever read(2) returned: half a request line, one request, or fifty
 * pipelined requests with their bodies. `push()` parses every complete request it can right away
 * into a queue and copies only the unfinished tail (at most one partial line), so the common case
 * — whole requests inside one read — never copies a byte. `next()` hands the requests out in order.
 *
 * The result never depends on how the bytes were split into reads. A line is judged once it is
 * settled — its LF has arrived, or a CR and the byte after it — or once it is already too long to
 * be valid, never earlier; and when a read ends inside a line, the next read only scans the new
 * bytes. Bodies are framed (Content-Length or chunked) and discarded: the server serves static
 * files only.
 *
 * What is rejected, and why, is listed below. Every rejection is final: after an error the
 * connection must be answered and closed (RFC 9112 §9.6, and §11.2 on smuggling: once framing is
 * in doubt, no later byte can be trusted).
 *
 *   400  malformed request line; target not valid for its method; bare CR; bare LF (RFC 9112 §2.2
 *        allows a recipient to accept a lone LF as a line end — we don't: llhttp-strict does not
 *        either, and a lone LF is how "Missing CR between headers" smuggling works); obs-fold
 *        (§5.2 allows rejecting it); whitespace between field name and colon (§5.1 MUST); control
 *        characters in a field value (§5.5); invalid or differing Content-Length (§6.3 item 5);
 *        Transfer-Encoding with Content-Length (§6.1 MAY reject — we do); Transfer-Encoding in
 *        HTTP/1.0 (§6.1 MUST treat as faulty); chunked not last (§6.3 item 4 MUST); chunked twice
 *        (§6.1); bad chunk size, extension or missing CRLF after chunk data (§7.1); HTTP/1.1
 *        without Host, several Hosts, or an invalid Host (§3.2 MUST).
 *   413  Content-Length, or the sum of chunk sizes, above `maxBodyBytes`.
 *   414  request line longer than `maxRequestLine` (reported as soon as more bytes came without a line end).
 *   431  header (or trailer) section above `maxHeaderBytes` or with more than `maxHeaders` lines.
 *   501  a transfer coding other than chunked (gzip, deflate...) under a final chunked (§6.1 SHOULD).
 *   505  a well-formed version other than HTTP/1.0 and HTTP/1.1 (HTTP/0.9, HTTP/1.2, HTTP/2.0...).
 *        RFC 9110 §2.5 says a server SHOULD treat HTTP/1.2 as 1.1; this course answers 505 for any
 *        version it was not written for, as the project's issue asks.
 *
 * What is accepted that a stricter reading could refuse: any token as method (unknown methods are
 * the session's 501, RFC 9110 §9.1); VCHARs like `"` `|` `{` in the target (llhttp accepts them
 * too); a `#fragment`, which is dropped from path and query; leading empty lines before a request
 * (§2.2 SHOULD ignore at least one — we ignore any number, without buffering them); several
 * identical Content-Length values (§6.3 item 5).
 *
 * After a request that does not keep the connection alive (`Connection: close`, HTTP/1.0 without
 * `keep-alive`, or CONNECT), the parser stops: later bytes are dropped unread (§9.6: the server
 * MUST NOT process further requests). CONNECT is parsed (authority-form) so the session can answer
 * 405, but what follows it may already be tunnel data, so its body is never framed.
 *
 * A GET with `websocket` in its Upgrade header may be the last HTTP request of the connection:
 * what follows it may be WebSocket frames (a client may send them right behind the handshake).
 * So the parser stops there too, but keeps the bytes after it (`upgradeRequest`,
 * `takeUpgradeData`); the session then either switches protocols or, for a path with no
 * WebSocket endpoint, ignores the Upgrade (RFC 9110 §7.8 allows that) and calls `resume`. Any
 * other `Upgrade` is ignored: the request is served as plain HTTP/1.1.
 *
 * Threading: a parser belongs to the one thread that owns the connection.
 */
// #endregion design-notes
import {
  BACKSLASH,
  CHAR_CLASS,
  COLON,
  CR,
  DQUOTE,
  EQUALS,
  FIELD_CHAR,
  HEX_DIGIT,
  HTAB,
  LF,
  QDTEXT,
  SEMICOLON,
  SP,
  TARGET_CHAR,
  TCHAR,
  UPPER,
  hexValue,
  knownFieldName,
  knownMethod,
} from './parse-chars.js';
import {
  CONNECTION_CLOSE,
  CONNECTION_KEEP_ALIVE,
  checkTransferCoding,
  connectionOptions,
  isValidHost,
  parseContentLength,
  splitTarget,
} from './parse-fields.js';

/** Size limits; each is checked before the bytes it limits are buffered. Immutable. */
export interface HttpLimits {
  /** Longest request line, without its CRLF (→ 414). */
  maxRequestLine: number;
  /** Largest header section: every field line with its CRLF (→ 431). Trailers get the same budget. */
  maxHeaderBytes: number;
  /** Most field lines in the header section (→ 431). Trailers get the same budget. */
  maxHeaders: number;
  /** Largest request body, Content-Length or the sum of chunk sizes (→ 413). */
  maxBodyBytes: number;
}

// #region default-limits
/** 8190 is Apache's LimitRequestLine default; 16 KiB of headers and 100 lines are common server defaults. */
export const DEFAULT_LIMITS: HttpLimits = Object.freeze({
  maxRequestLine: 8190,
  maxHeaderBytes: 16384,
  maxHeaders: 100,
  maxBodyBytes: 1024 * 1024,
});
// #endregion default-limits

/** Bytes decoded at once by RequestParser.str: a few typical request heads. */
const TEXT_WINDOW = 1024;

/** Longest chunk-size line, extensions included. Extensions carry nothing we use; this bounds them. */
const MAX_CHUNK_LINE = 4096;

/** One parsed request. Created by the parser, then owned by whoever took it from `next()`. */
export interface HttpRequest {
  /** As sent, e.g. 'GET' (methods are case-sensitive, RFC 9110 §9.1). */
  method: string;
  /** The request-target as sent. */
  target: string;
  /**
   * The path of the target, still percent-encoded, never empty: the target's path for
   * origin-form and absolute-form ('/' at least), '*' for asterisk-form (OPTIONS *), and '/' for
   * authority-form (CONNECT, which names no path).
   */
  path: string;
  /** After '?', without it; '' if none. */
  query: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: 0 | 1;
  /** Field lines in order: names lower-cased, values with surrounding OWS trimmed (latin1-decoded). */
  headers: Array<[name: string, value: string]>;
  /** RFC 9112 §9.3: HTTP/1.1 persists unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`. CONNECT never. */
  keepAlive: boolean;
  /** A body was framed (and discarded). */
  hasBody: boolean;
}

/** First value of the field `name` (lower-case), or undefined. */
export function getHeader(req: HttpRequest, name: string): string | undefined {
  const headers = req.headers;
  for (let i = 0; i < headers.length; i++) {
    const field = headers[i]!;
    if (field[0] === name) return field[1];
  }
  return undefined;
}

/** Why the stream was refused, and the status to answer with before closing. */
export interface HttpParseError {
  status: 400 | 413 | 414 | 431 | 501 | 505;
  reason: string;
}

export function isParseError(x: unknown): x is HttpParseError {
  if (typeof x !== 'object' || x === null) return false;
  const candidate = x as Partial<HttpParseError>;
  return typeof candidate.status === 'number' && typeof candidate.reason === 'string';
}

// #region states
// Where the parser stands in the stream. The line states parse one CRLF-terminated line at a time.
const REQUEST_LINE = 0;
const HEADER_LINE = 1;
const TRAILER_LINE = 2;
const CHUNK_SIZE_LINE = 3;
const BODY = 4; // Content-Length body: count bytes down
const CHUNK_DATA = 5; // inside a chunk: count bytes down
const CHUNK_DATA_END = 6; // the CRLF after a chunk's data
const STOPPED = 7; // the last request did not keep the connection: ignore everything after it
const FAILED = 8; // the stream is malformed: ignore everything
const UPGRADED = 9; // stopped after a WebSocket upgrade request: keep what follows, unparsed
// #endregion states

// What a line handler returns instead of the position after the line.
const NEED_MORE = -1; // the line is not settled yet
const FAILURE = -2; // the parser has failed (this.error is set)

/** Node's Buffer has a fast latin1 decoder that @types/node does not declare (undici uses it too). */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

const EMPTY = Buffer.alloc(0);

// #region request-parser
/**
 * One connection's request parser. Owned by the session of that connection, on its thread.
 */
export class RequestParser {
  private readonly limits: HttpLimits;
  private state = REQUEST_LINE;

  /** Completed requests not yet taken by next(), oldest first. */
  private readonly queue: HttpRequest[] = [];
  /** Set once, when the stream turns out malformed; returned by every next() after the queue. */
  private error: HttpParseError | null = null;

  /** The unconsumed tail of earlier pushes (a partial line, or the CR of a CRLF), at tail[0, tailLen). */
  private tail: Buffer = EMPTY;
  private tailLen = 0;
  /** Bytes of the current partial line known to hold no CR or LF: the next read scans from there. */
  private scanFrom = 0;
  /** A request has begun (a byte of it, other than leading empty lines, was seen) and is not complete. */
  private begun = false;
  /** src[textStart, textEnd) of the current parse() as one string: fields are cut from it (see str). */
  private text = '';
  private textStart = 0;
  private textEnd = 0;

  // The request being parsed.
  private method = '';
  private target = '';
  private path = '';
  private query = '';
  private versionMinor: 0 | 1 = 1;
  private headers: Array<[string, string]> = [];
  /** Bytes and lines of the header (or trailer) section so far, for the 431 limits. */
  private fieldBytes = 0;
  private fieldCount = 0;
  /** The Content-Length, or -1 if absent. */
  private contentLength = -1;
  /** Every Transfer-Encoding value joined with ", ", or null if absent. */
  private transferEncoding: string | null = null;
  private hostCount = 0;
  /** The last Host value found valid: a keep-alive connection sends the same one every time. */
  private validHost = '';
  private connection = 0;
  /** The current request's Upgrade header names `websocket`. */
  private upgradeWebSocket = false;
  /** The request the parser stopped after (UPGRADED), and the bytes that came behind it. */
  private upgrade: HttpRequest | null = null;
  private upgradeData: Buffer[] = [];
  /** The request whose body is being framed; queued once the body ends. */
  private pending: HttpRequest | null = null;
  /** Body bytes still to skip in BODY / CHUNK_DATA. */
  private bodyLeft = 0;
  /** Sum of the chunk sizes so far, for the 413 limit. */
  private bodyTotal = 0;

  constructor(limits?: Partial<HttpLimits>) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** True while a request has begun (any byte of it seen) but is not complete. */
  get midRequest(): boolean {
    return this.begun;
  }

  /** Bytes buffered and not yet consumed. */
  get buffered(): number {
    return this.tailLen;
  }

  // #region push
  /** Bytes from the socket. `data` may be a view of a reused buffer: nothing is kept after return. */
  push(data: Uint8Array): void {
    if (this.state === UPGRADED && data.length > 0) this.upgradeData.push(Buffer.from(data)); // a copy
    if (this.state >= STOPPED || data.length === 0) return;
    if (this.tailLen === 0) {
      // Fast path: parse straight from the caller's bytes, then copy the incomplete rest, if any.
      const src = asBuffer(data);
      const used = this.parse(src);
      if (used < src.length && this.state < STOPPED) {
        this.reserve(src.length - used, false);
        src.copy(this.tail, 0, used);
        this.tailLen = src.length - used;
      }
      return;
    }
    // A line was cut by the previous read: finish it from our own copy.
    this.reserve(this.tailLen + data.length, true);
    this.tail.set(data, this.tailLen);
    this.tailLen += data.length;
    const used = this.parse(this.tail.subarray(0, this.tailLen));
    if (this.state >= STOPPED) {
      this.tailLen = 0;
    } else if (used > 0) {
      this.tail.copyWithin(0, used, this.tailLen);
      this.tailLen -= used;
    }
  }
  // #endregion push

  // #region next
  /**
   * The next complete request; null when more bytes are needed; an HttpParseError once the
   * stream is malformed (after the requests that preceded the error), then always that error.
   */
  next(): HttpRequest | HttpParseError | null {
    return this.queue.shift() ?? this.error;
  }
  // #endregion next

  /** The WebSocket upgrade request the parser stopped after (the last one `next` returns), or null. */
  get upgradeRequest(): HttpRequest | null {
    return this.upgrade;
  }

  /** The session switched protocols: the bytes that came after the upgrade request are its. The parser is done. */
  takeUpgradeData(): Buffer {
    const data = Buffer.concat(this.upgradeData);
    this.upgradeData = [];
    this.upgrade = null;
    this.state = STOPPED;
    return data;
  }

  /** The session served the upgrade request as plain HTTP: parse what followed it as HTTP too. */
  resume(): void {
    if (this.state !== UPGRADED) return;
    const data = this.upgradeData;
    this.state = this.upgrade!.keepAlive ? REQUEST_LINE : STOPPED;
    this.upgradeData = [];
    this.upgrade = null;
    for (const chunk of data) this.push(chunk);
  }

  // ---------------------------------------------------------------------------------------------
  // The state machine
  // ---------------------------------------------------------------------------------------------

  // #region parse-loop
  /** Parses src[0, length) as far as possible; returns how many bytes were consumed. */
  private parse(src: Buffer): number {
    const end = src.length;
    let pos = 0;
    this.textStart = this.textEnd = 0; // the text window belonged to the previous input
    while (pos < end) {
      const state = this.state;
      if (state === BODY || state === CHUNK_DATA) {
        const n = Math.min(this.bodyLeft, end - pos);
        pos += n;
        this.bodyLeft -= n;
        if (this.bodyLeft === 0) {
          if (state === BODY) this.complete(this.pending!);
          else this.state = CHUNK_DATA_END;
        }
        continue;
      }
      if (state === CHUNK_DATA_END) {
        // chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF (RFC 9112 §7.1)
        if (src[pos] !== CR || (pos + 1 < end && src[pos + 1] !== LF)) {
          this.fail(400, 'chunk data not followed by CRLF');
          return end;
        }
        if (pos + 1 === end) return pos; // keep the CR; its LF comes with the next read
        pos += 2;
        this.state = CHUNK_SIZE_LINE;
        continue;
      }
      if (state === UPGRADED) {
        this.upgradeData.push(Buffer.from(src.subarray(pos, end))); // a copy: src may be the model's buffer
        return end;
      }
      if (state >= STOPPED) return end;

      // A line state. If an earlier read ended inside this line, look at the new bytes only:
      // the line is parsed (once) when it is settled.
      if (this.scanFrom > 0) {
        if (settledAt(src, pos + this.scanFrom) < 0) return this.lineIncomplete(src, pos, end);
        this.scanFrom = 0;
      }
      let next: number;
      if (state === REQUEST_LINE) next = this.requestLine(src, pos, end);
      else if (state === CHUNK_SIZE_LINE) next = this.chunkSizeLine(src, pos, end);
      else next = this.fieldLine(src, pos, end);
      if (next === NEED_MORE) return this.lineIncomplete(src, pos, end);
      if (next === FAILURE) return end;
      pos = next;
    }
    return this.state >= STOPPED ? end : pos;
  }
  // #endregion parse-loop

  /**
   * request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3).
   * Returns the position after the line, NEED_MORE or FAILURE.
   */
  private requestLine(src: Buffer, pos: number, end: number): number {
    if (!this.begun) {
      // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request-line
      // (clients sometimes send a CRLF after a POST body). Such lines do not begin a request.
      if (src[pos] === CR) {
        if (pos + 1 === end) return NEED_MORE;
        if (src[pos + 1] === LF) return pos + 2;
      }
      this.begun = true;
    }
    const cls = CHAR_CLASS;
    let p = pos;
    while (p < end && (cls[src[p]!]! & TCHAR) !== 0) p++;
    if (p === end) return NEED_MORE;
    if (p === pos || src[p] !== SP) return this.lineFailure(src, pos, p);
    const methodEnd = p;
    const targetStart = ++p;
    while (p < end && (cls[src[p]!]! & TARGET_CHAR) !== 0) p++;
    if (p === end) return NEED_MORE;
    if (p === targetStart || src[p] !== SP) return this.lineFailure(src, pos, p);
    const targetEnd = p++;
    // "HTTP/1.1" or "HTTP/1.0", then CRLF. Anything else is judged (400 or 505) by lineFailure.
    if (
      end - p < 10 ||
      src[p] !== 0x48 || src[p + 1] !== 0x54 || src[p + 2] !== 0x54 || src[p + 3] !== 0x50 ||
      src[p + 4] !== 0x2f || src[p + 5] !== 0x31 || src[p + 6] !== 0x2e ||
      (src[p + 7] !== 0x31 && src[p + 7] !== 0x30) ||
      src[p + 8] !== CR || src[p + 9] !== LF
    ) {
      return this.lineFailure(src, pos, p);
    }
    if (p + 8 - pos > this.limits.maxRequestLine) return this.fail(414, 'request line too long');

    const method = knownMethod(src, pos, methodEnd) ?? this.str(src, pos, methodEnd);
    const target = this.str(src, targetStart, targetEnd);
    const parts = splitTarget(method, target);
    if (parts === null) return this.fail(400, `request-target not valid for ${method}`);
    this.method = method;
    this.target = target;
    this.path = parts.path;
    this.query = parts.query;
    this.versionMinor = src[p + 7] === 0x31 ? 1 : 0;
    // The header section starts.
    this.state = HEADER_LINE;
    this.fieldBytes = 0;
    this.fieldCount = 0;
    this.contentLength = -1;
    this.transferEncoding = null;
    this.hostCount = 0;
    this.connection = 0;
    this.upgradeWebSocket = false;
    return p + 10;
  }

  /**
   * field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 §5), or the empty line that
   * ends the header section (or the trailer section: same grammar, values discarded).
   */
  private fieldLine(src: Buffer, pos: number, end: number): number {
    if (src[pos] === CR) {
      if (pos + 1 === end) return NEED_MORE;
      if (src[pos + 1] !== LF) return this.lineFailure(src, pos, pos); // bare CR
      if (this.state === HEADER_LINE) return this.headersEnd(pos + 2);
      this.complete(this.pending!); // end of the trailer section: the chunked body is over
      return pos + 2;
    }
    if (src[pos] === SP || src[pos] === HTAB) {
      // obs-fold (a continuation of the previous value), or whitespace before the first field:
      // RFC 9112 §5.2 lets a server reject the former; §2.2 says to reject the latter or ignore
      // the line. We reject both, as soon as the line's first byte shows it.
      return this.fail(400, 'obsolete line folding (obs-fold) or whitespace before a field line');
    }
    const cls = CHAR_CLASS;
    let p = pos;
    let seen = 0; // OR of the classes of the name's bytes: tells whether it has upper case
    while (p < end) {
      const k = cls[src[p]!]!;
      if ((k & TCHAR) === 0) break;
      seen |= k;
      p++;
    }
    if (p === end) return NEED_MORE;
    // A space before the colon, or any other non-token byte in the name, stops here.
    if (p === pos || src[p] !== COLON) return this.lineFailure(src, pos, p);
    const nameEnd = p++;
    while (p < end && (src[p] === SP || src[p] === HTAB)) p++;
    const valueStart = p;
    while (p < end && (cls[src[p]!]! & FIELD_CHAR) !== 0) p++;
    if (p === end) return NEED_MORE;
    if (src[p] !== CR) return this.lineFailure(src, pos, p); // a CTL (NUL, bare LF...) in the value
    if (p + 1 === end) return NEED_MORE;
    if (src[p + 1] !== LF) return this.lineFailure(src, pos, p); // bare CR
    let valueEnd = p;
    while (valueEnd > valueStart && (src[valueEnd - 1] === SP || src[valueEnd - 1] === HTAB)) valueEnd--;

    this.fieldBytes += p - pos + 2;
    if (this.fieldBytes > this.limits.maxHeaderBytes) return this.fail(431, 'header section too large');
    if (++this.fieldCount > this.limits.maxHeaders) return this.fail(431, 'too many header fields');
    if (this.state === HEADER_LINE) {
      let name = knownFieldName(src, pos, nameEnd);
      if (name === undefined) {
        name = this.str(src, pos, nameEnd);
        if ((seen & UPPER) !== 0) name = name.toLowerCase();
      }
      return this.addHeader(name, valueStart === valueEnd ? '' : this.str(src, valueStart, valueEnd), p + 2);
    }
    return p + 2;
  }

  /**
   * Records a header field; returns `next`, or FAILURE if the field alone already condemns the
   * request (the framing fields and Host are judged as soon as they are seen).
   */
  private addHeader(name: string, value: string, next: number): number {
    this.headers.push([name, value]);
    switch (name) {
      case 'host':
        if (++this.hostCount > 1) return this.fail(400, 'more than one Host header');
        if (value !== this.validHost) {
          if (!isValidHost(value)) return this.fail(400, 'invalid Host header');
          this.validHost = value;
        }
        break;
      case 'connection':
        this.connection |= connectionOptions(value);
        break;
      case 'upgrade':
        if (/(?:^|,)[ \t]*websocket[ \t]*(?:,|$)/i.test(value)) this.upgradeWebSocket = true;
        break;
      case 'content-length': {
        // RFC 9112 §6.3 item 5: an invalid Content-Length is an unrecoverable framing error.
        if (this.transferEncoding !== null) return this.fail(400, 'both Transfer-Encoding and Content-Length');
        const length = parseContentLength(value);
        if (length < 0) return this.fail(400, 'invalid Content-Length');
        if (this.contentLength >= 0 && length !== this.contentLength) return this.fail(400, 'differing Content-Length values');
        if (length > this.limits.maxBodyBytes) return this.fail(413, 'body too large');
        this.contentLength = length;
        break;
      }
      case 'transfer-encoding':
        // RFC 9112 §6.1: a server MAY reject TE with CL (we do: it is the classic smuggling
        // ambiguity), and MUST treat TE in an HTTP/1.0 message as faulty framing.
        if (this.contentLength >= 0) return this.fail(400, 'both Transfer-Encoding and Content-Length');
        if (this.versionMinor === 0) return this.fail(400, 'Transfer-Encoding in an HTTP/1.0 request');
        this.transferEncoding = this.transferEncoding === null ? value : `${this.transferEncoding}, ${value}`;
        break;
    }
    return next;
  }

  /**
   * The header section is complete: decide the framing (RFC 9112 §6.3), check that Host is there,
   * build the request. Content-Length and the TE/CL conflicts were judged field by field.
   */
  private headersEnd(next: number): number {
    const version = this.versionMinor;
    let chunked = false;
    // Framing first: when the body cannot be delimited, nothing after this request can be trusted.
    if (this.transferEncoding !== null) {
      switch (checkTransferCoding(this.transferEncoding)) {
        case 'chunked':
          chunked = true;
          break;
        case 'unsupported':
          return this.fail(501, 'transfer coding not implemented (only chunked is)');
        case 'not-final':
          return this.fail(400, 'chunked is not the final transfer coding');
        case 'twice':
          return this.fail(400, 'chunked applied more than once');
        case 'malformed':
          return this.fail(400, 'malformed Transfer-Encoding');
      }
    }
    if (this.hostCount === 0 && version === 1) return this.fail(400, 'missing Host header');
    const length = this.contentLength > 0 ? this.contentLength : 0;

    const connect = this.method === 'CONNECT';
    const options = this.connection;
    const keepAlive =
      !connect && (options & CONNECTION_CLOSE) === 0 && (version === 1 || (options & CONNECTION_KEEP_ALIVE) !== 0);
    const hasBody = !connect && (chunked || length > 0);
    const request: HttpRequest = {
      method: this.method,
      target: this.target,
      path: this.path,
      query: this.query,
      versionMinor: version,
      headers: this.headers,
      keepAlive,
      hasBody,
    };
    this.headers = []; // the request owns the old array
    if (!hasBody) {
      this.complete(request);
    } else {
      this.pending = request;
      if (chunked) {
        this.state = CHUNK_SIZE_LINE;
        this.bodyTotal = 0;
      } else {
        this.state = BODY;
        this.bodyLeft = length;
      }
    }
    return next;
  }

  /**
   * chunk-size [ chunk-ext ] CRLF, where chunk-size = 1*HEXDIG and
   * chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1).
   * Extensions are validated and ignored.
   */
  private chunkSizeLine(src: Buffer, pos: number, end: number): number {
    const cls = CHAR_CLASS;
    const max = this.limits.maxBodyBytes;
    let p = pos;
    let size = 0;
    while (p < end && (cls[src[p]!]! & HEX_DIGIT) !== 0) {
      if (size <= max) size = size * 16 + hexValue(src[p]!); // past the limit the exact value no longer matters
      p++;
    }
    if (p === end) return NEED_MORE;
    if (p === pos) return this.lineFailure(src, pos, p);
    for (;;) {
      let q = p;
      while (q < end && (src[q] === SP || src[q] === HTAB)) q++;
      if (q === end) return NEED_MORE;
      if (src[q] !== SEMICOLON) {
        if (q !== p) return this.lineFailure(src, pos, q); // BWS must lead to a ";"
        break;
      }
      q++;
      while (q < end && (src[q] === SP || src[q] === HTAB)) q++;
      const nameStart = q;
      while (q < end && (cls[src[q]!]! & TCHAR) !== 0) q++;
      if (q === end) return NEED_MORE;
      if (q === nameStart) return this.lineFailure(src, pos, q);
      let r = q;
      while (r < end && (src[r] === SP || src[r] === HTAB)) r++;
      if (r === end) return NEED_MORE;
      if (src[r] !== EQUALS) {
        p = q; // a name without value
        continue;
      }
      r++;
      while (r < end && (src[r] === SP || src[r] === HTAB)) r++;
      if (r === end) return NEED_MORE;
      if (src[r] === DQUOTE) {
        // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4)
        for (r++; ; r++) {
          if (r === end) return NEED_MORE;
          const c = src[r]!;
          if (c === DQUOTE) break;
          if (c === BACKSLASH) {
            if (r + 1 === end) return NEED_MORE;
            if ((cls[src[r + 1]!]! & FIELD_CHAR) === 0) return this.lineFailure(src, pos, r + 1);
            r++;
          } else if ((cls[c]! & QDTEXT) === 0) {
            return this.lineFailure(src, pos, r);
          }
        }
        p = r + 1;
      } else {
        const valueStart = r;
        while (r < end && (cls[src[r]!]! & TCHAR) !== 0) r++;
        if (r === end) return NEED_MORE;
        if (r === valueStart) return this.lineFailure(src, pos, r);
        p = r;
      }
    }
    if (src[p] !== CR) return this.lineFailure(src, pos, p);
    if (p + 1 === end) return NEED_MORE;
    if (src[p + 1] !== LF) return this.lineFailure(src, pos, p); // bare CR
    if (p - pos > MAX_CHUNK_LINE) return this.fail(400, 'chunk-size line too long');
    if (size > max - this.bodyTotal) return this.fail(413, 'body too large');
    if (size === 0) {
      // last-chunk: the trailer section follows, ended by an empty line.
      this.state = TRAILER_LINE;
      this.fieldBytes = 0;
      this.fieldCount = 0;
    } else {
      this.bodyTotal += size;
      this.bodyLeft = size;
      this.state = CHUNK_DATA;
    }
    return p + 2;
  }

  // ---------------------------------------------------------------------------------------------
  // Incomplete and invalid lines
  // ---------------------------------------------------------------------------------------------

  // #region line-incomplete
  /**
   * The line starting at `pos` is not settled yet (see settledAt). Remember how far we looked,
   * and refuse it now if it is already too long to be valid — this keeps the buffer bounded.
   */
  private lineIncomplete(src: Buffer, pos: number, end: number): number {
    const partial = end - pos; // the line's final length (without CRLF) is at least partial - 1
    // An unsettled line holds no LF, and a CR only as its last byte: that CR is looked at again.
    this.scanFrom = src[end - 1] === CR ? partial - 1 : partial;
    const limits = this.limits;
    if (this.state === REQUEST_LINE) {
      if (partial > limits.maxRequestLine + 1) this.fail(414, 'request line too long');
    } else if (this.state === CHUNK_SIZE_LINE) {
      if (partial > MAX_CHUNK_LINE + 1) this.fail(400, 'chunk-size line too long');
    } else if (this.fieldBytes + partial + 1 > limits.maxHeaderBytes && !(partial === 1 && src[pos] === CR)) {
      // (A lone CR may be the empty line that ends the section, which costs nothing.)
      this.fail(431, 'header section too large');
    }
    return this.state === FAILED ? end : pos;
  }
  // #endregion line-incomplete

  /**
   * Scanning the line that starts at `lineStart` stopped at `at` on an unexpected byte. If the
   * line is settled, it is invalid: fail with the right status. Otherwise wait (NEED_MORE), so
   * that the verdict never depends on where the reads were split.
   */
  private lineFailure(src: Buffer, lineStart: number, at: number): number {
    const stop = settledAt(src, at);
    if (stop < 0) return NEED_MORE;
    const length = stop - lineStart; // bytes before the first CR or LF
    const content = latin1(src, lineStart, stop);
    const ending = src[stop] === LF ? ' (bare LF)' : src[stop + 1] === LF ? '' : ' (bare CR)';
    const limits = this.limits;
    switch (this.state) {
      case REQUEST_LINE:
        if (length > limits.maxRequestLine) return this.fail(414, 'request line too long');
        if (ending !== '') return this.fail(400, `invalid request line${ending}`);
        return this.failRequestLine(content);
      case CHUNK_SIZE_LINE:
        if (length > MAX_CHUNK_LINE) return this.fail(400, 'chunk-size line too long');
        return this.fail(400, `invalid chunk-size line${ending}`);
      default:
        if (length > 0 && this.fieldBytes + length + 2 > limits.maxHeaderBytes) return this.fail(431, 'header section too large');
        if (ending !== '') return this.fail(400, `invalid field line${ending}`);
        return this.fail(400, fieldLineProblem(content));
    }
  }

  /** Why a CRLF-terminated request line is invalid: 505 if only its (well-formed) version is unsupported. */
  private failRequestLine(content: string): number {
    const version = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e]+ HTTP\/(\d\.\d)$/.exec(content);
    if (version !== null && version[1] !== '1.0' && version[1] !== '1.1') {
      return this.fail(505, `HTTP/${version[1]} not supported`);
    }
    return this.fail(400, 'malformed request line');
  }

  // ---------------------------------------------------------------------------------------------
  // Outcomes
  // ---------------------------------------------------------------------------------------------

  private complete(request: HttpRequest): void {
    this.queue.push(request);
    this.pending = null;
    this.begun = false;
    if (this.upgradeWebSocket && request.method === 'GET') {
      this.upgradeWebSocket = false;
      this.upgrade = request;
      this.state = UPGRADED;
      return;
    }
    this.state = request.keepAlive ? REQUEST_LINE : STOPPED;
  }

  private fail(status: HttpParseError['status'], reason: string): number {
    this.error = { status, reason };
    this.state = FAILED;
    this.begun = false;
    this.pending = null;
    return FAILURE;
  }

  /**
   * src[start, end) as a latin1 string. Creating a string from bytes is a call into C++ (~40 ns);
   * cutting one from a string is a cheap JavaScript operation. So the bytes are decoded a window
   * at a time (one call for a typical request head) and fields are sliced from that window.
   */
  private str(src: Buffer, start: number, end: number): string {
    if (start < this.textStart || end > this.textEnd) {
      const windowEnd = Math.min(src.length, start + TEXT_WINDOW);
      if (end > windowEnd) return latin1(src, start, end); // longer than a window: decode it alone
      this.text = latin1(src, start, windowEnd);
      this.textStart = start;
      this.textEnd = windowEnd;
    }
    return this.text.slice(start - this.textStart, end - this.textStart);
  }

  /** Grows the tail buffer to hold `size` bytes, keeping its content if `keep`. Growth is bounded by the limits. */
  private reserve(size: number, keep: boolean): void {
    if (this.tail.length >= size) return;
    const grown = Buffer.allocUnsafe(Math.max(size, this.tail.length * 2, 1024));
    if (keep) this.tail.copy(grown, 0, 0, this.tailLen);
    this.tail = grown;
  }
}
// #endregion request-parser

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function latin1(src: Buffer, start: number, end: number): string {
  return (src as Latin1Buffer).latin1Slice(start, end);
}

// #region settled-at
/**
 * Where a line becomes settled: the index of its first LF, or of its first CR once a byte follows
 * that CR (CRLF ends the line; CR + anything else is a bare CR, an error). -1 while neither has
 * arrived. Searching from `from` is enough: the bytes before it hold no CR or LF.
 */
function settledAt(src: Buffer, from: number): number {
  const lf = src.indexOf(LF, from);
  const cr = src.indexOf(CR, from);
  if (cr >= 0 && (lf < 0 || cr < lf)) return cr + 1 < src.length ? cr : -1;
  return lf;
}
// #endregion settled-at

/** Why a CRLF-terminated field line (its content, without CRLF) is invalid, for the error reason. */
function fieldLineProblem(line: string): string {
  const colon = line.indexOf(':');
  if (colon < 0) return 'field line without a colon';
  if (colon === 0) return 'empty field name';
  const name = line.slice(0, colon);
  if (/[ \t]$/.test(name)) return 'whitespace between field name and colon';
  if (/[^!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(name)) return 'invalid character in field name';
  return 'invalid character in field value (a control character other than HTAB)';
}
