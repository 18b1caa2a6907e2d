/**
 * Building HTTP/1.1 response bytes: status line, the headers every response carries, the
 * `Connection` decision, and the once-per-second `Date`.
 *
 * Everything here is per thread: the Date cache is module state, and module state is per thread
 * in worker_threads and per process after fork. Nothing here touches a socket.
 */
import { Buffer } from 'node:buffer';
import type { HttpRequest } from './parser.js';

/**
 * How the connection continues after a response, which decides its `Connection` header.
 * A number so that it can index small arrays of prebuilt responses (see static.ts).
 */
export type ConnectionMode = 0 | 1 | 2;
/** HTTP/1.1 keeps the connection by default: no header needed. */
export const KEEP_ALIVE: ConnectionMode = 0;
/** HTTP/1.0 closes by default: a client that asked for keep-alive must see it confirmed. */
export const KEEP_ALIVE_10: ConnectionMode = 1;
/** The server closes after this response, and says so. */
export const CLOSE: ConnectionMode = 2;

const CONNECTION_LINE: readonly string[] = ['', 'Connection: keep-alive\r\n', 'Connection: close\r\n'];

/** The mode for answering `req`: close if the client asked for it (or HTTP/1.0 did not ask to keep). */
export function connectionMode(req: HttpRequest): ConnectionMode {
  if (!req.keepAlive) return CLOSE;
  return req.versionMinor === 0 ? KEEP_ALIVE_10 : KEEP_ALIVE;
}

/** Reason phrases for the statuses this server sends (RFC 9110 names). */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

// ---------------------------------------------------------------------------------------------
// The Date header. Formatting a date costs about a microsecond, a large share of the budget of a
// small response, and its value only changes once per second: format it once per second.

let currentSecond = -1;
let currentDate = '';

// #region clock-second
/**
 * The current time (or `nowMs`, a Date.now() the caller already has) in whole seconds since the
 * epoch. Refreshes the cached `Date` text when the
 * second changed; callers holding buffers built for an older second rebuild them.
 */
export function clockSecond(nowMs: number = Date.now()): number {
  const second = Math.floor(nowMs / 1000);
  if (second !== currentSecond) {
    currentSecond = second;
    currentDate = new Date(second * 1000).toUTCString(); // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  }
  return second;
}
// #endregion clock-second

/** The `Date` header value for now, cached for the current second. */
export function httpDate(): string {
  clockSecond();
  return currentDate;
}

// ---------------------------------------------------------------------------------------------
// Header blocks.

/**
 * The header block of a response, blank line included. `fields` are extra header lines, each
 * already formatted as `Name: value\r\n`; `contentLength` null leaves Content-Length out
 * (statuses that must not carry one: 204, 304).
 */
export function headerBlock(status: number, fields: string, contentLength: number | null, mode: ConnectionMode): string {
  const reason = STATUS_TEXT[status] ?? 'Unknown';
  const length = contentLength === null ? '' : `Content-Length: ${contentLength}\r\n`;
  return `HTTP/1.1 ${status} ${reason}\r\nServer: course\r\nDate: ${httpDate()}\r\n${fields}${length}${CONNECTION_LINE[mode]}\r\n`;
}

/**
 * A complete response in one new Buffer. `head` (a HEAD request) keeps the Content-Length of the
 * body but sends no body.
 */
export function completeResponse(
  status: number,
  fields: string,
  body: string | Uint8Array,
  mode: ConnectionMode,
  head: boolean,
): Buffer {
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const noBody = status === 204 || status === 304;
  const header = headerBlock(status, fields, noBody ? null : bodyBytes.length, mode);
  if (head || noBody || bodyBytes.length === 0) return Buffer.from(header, 'latin1');
  const headerLength = Buffer.byteLength(header, 'latin1');
  const out = Buffer.allocUnsafe(headerLength + bodyBytes.length);
  out.write(header, 0, 'latin1');
  out.set(bodyBytes, headerLength);
  return out;
}

/** A short text/plain error or status page, e.g. `404 Not Found`. */
export function textResponse(status: number, mode: ConnectionMode, head: boolean, fields = ''): Buffer {
  const body = `${status} ${STATUS_TEXT[status] ?? 'Unknown'}\n`;
  return completeResponse(status, `Content-Type: text/plain; charset=utf-8\r\n${fields}`, body, mode, head);
}

/** Header names the server sets itself; an application may not set them (see HttpResponder). */
const RESERVED = new Set(['content-length', 'connection', 'date', 'transfer-encoding', 'keep-alive']);

/**
 * A name is an RFC 9110 token; a value has no CR, LF or NUL (no header injection) and fits in
 * Latin-1, the encoding header blocks are written in.
 */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[\r\n\0\u0100-\uffff]/;

/**
 * Format application headers as header lines, refusing what would break the framing: invalid
 * names, values with CR/LF/NUL, and the headers the server owns. Throws TypeError.
 */
export function formatFields(headers: Readonly<Record<string, string>>): string {
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
    if (RESERVED.has(name.toLowerCase())) throw new TypeError(`header ${name} is set by the server`);
    if (typeof value !== 'string' || BAD_VALUE.test(value)) {
      throw new TypeError(`invalid value for header ${name}: ${JSON.stringify(value)}`);
    }
    out += `${name}: ${value}\r\n`;
  }
  return out;
}
