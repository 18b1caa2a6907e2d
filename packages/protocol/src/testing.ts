/**
 * Test helpers: a Sink that records what a session does, and a reader of HTTP responses.
 * For in-process tests only (no sockets). Not thread-safe; one per test connection.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import type { Sink } from './session.js';
import type { HttpRequest } from './http/parser.js';

/** One thing a session did to its sink. */
export type SinkEvent =
  | { type: 'write'; bytes: Uint8Array }
  | { type: 'sendFile'; fd: number; offset: number; length: number }
  | { type: 'end' };

/**
 * Records writes, sendFile calls and end. sendFile reads the file's bytes at once (so tests can
 * compare them) and closes the fd, as a real sink would once it is sent.
 */
export class RecordingSink implements Sink {
  readonly events: SinkEvent[] = [];
  /** Everything sent, files included, in order. */
  private chunks: Buffer[] = [];
  ended = false;
  /** What `pendingBytes` reports; tests may set it to simulate a backlog. */
  pending = 0;

  get pendingBytes(): number {
    return this.pending;
  }

  write(bytes: Uint8Array): void {
    if (this.ended) throw new Error('write after end');
    this.events.push({ type: 'write', bytes });
    this.chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  sendFile(fd: number, offset: number, length: number): void {
    if (this.ended) throw new Error('sendFile after end');
    this.events.push({ type: 'sendFile', fd, offset, length });
    const data = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(fd, data, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    fs.closeSync(fd);
    this.chunks.push(data.subarray(0, got));
  }

  end(): void {
    if (!this.ended) this.events.push({ type: 'end' });
    this.ended = true;
  }

  /** All bytes sent so far, concatenated. */
  output(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Number of write/sendFile calls made so far. */
  get writeCalls(): number {
    return this.events.filter((e) => e.type !== 'end').length;
  }
}

/** A response as read back from the wire. Header names are lower-cased. */
export interface ParsedResponse {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Split `bytes` into consecutive HTTP responses, framed by Content-Length. `headRequests[i]`
 * true means the i-th response answers a HEAD (headers only, whatever Content-Length says).
 * Throws on anything malformed or left over.
 */
export function parseResponses(bytes: Buffer, headRequests: boolean[] = []): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', at, 'latin1');
    if (end < 0) throw new Error(`incomplete header block at byte ${at}`);
    const lines = bytes.toString('latin1', at, end).split('\r\n');
    const match = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0] ?? '');
    if (!match) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
      const name = line.slice(0, colon).toLowerCase();
      if (name in headers) throw new Error(`duplicate header ${name}`);
      headers[name] = line.slice(colon + 1).trim();
    }
    const status = Number(match[1]);
    const isHead = headRequests[out.length] ?? false;
    const length = isHead || status === 304 || status === 204 ? 0 : Number(headers['content-length'] ?? 'NaN');
    if (!Number.isInteger(length)) throw new Error(`response ${out.length} has no Content-Length`);
    const bodyStart = end + 4;
    if (bodyStart + length > bytes.length) throw new Error(`response ${out.length} body is truncated`);
    out.push({ status, reason: match[2]!, headers, body: bytes.subarray(bodyStart, bodyStart + length) });
    at = bodyStart + length;
  }
  return out;
}

/**
 * An HttpRequest as the parser would produce it, for tests that call StaticSite directly.
 * `target` may carry a query; header names are lower-cased here.
 */
export function fakeRequest(method: string, target: string, headers: Record<string, string> = {}, versionMinor: 0 | 1 = 1): HttpRequest {
  const q = target.indexOf('?');
  const list: Array<[string, string]> = Object.entries(headers).map(([n, v]) => [n.toLowerCase(), v]);
  const connection = (headers['connection'] ?? headers['Connection'] ?? '').toLowerCase();
  return {
    method,
    target,
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    versionMinor,
    headers: list,
    keepAlive: versionMinor === 1 ? connection !== 'close' : connection === 'keep-alive',
    hasBody: false,
  };
}
