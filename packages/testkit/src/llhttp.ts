/**
 * Loader for llhttp's request test vectors (packages/testkit/vectors/llhttp, MIT, llhttp 9.4.2).
 *
 * Each case in the markdown files is a heading, a `<!-- meta={...} -->` comment, an `http` fenced
 * block with the raw bytes and a `log` fenced block with what llhttp reported. This module turns
 * them into bytes and into a per-message summary of the log; it knows nothing about our parser.
 * Used by the protocol's parser conformance tests and by the hardening package, which sends the
 * same bytes to every running model. Test-only code; pure functions, any thread.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './server.js';

/** The vectors ship with this package (vectors/llhttp, MIT), so a fresh clone can run every test. */
export const LLHTTP_DIR: string = resolve(REPO_ROOT, 'packages', 'testkit', 'vectors', 'llhttp');

/** A byte range of the raw input, as llhttp reported it (`off=N len=L span[kind]=...`). */
export interface Span {
  off: number;
  len: number;
  /** The log's rendering of the bytes (quotes removed; escapes and non-ASCII not normalised). */
  shown: string;
}

/** One message of a case, as far as llhttp's log got with it. */
export interface LogMessage {
  begin: number;
  method?: Span;
  url?: Span;
  /** From `headers complete ... v=1/1`; absent if llhttp never finished the header section. */
  version?: { major: number; minor: number };
  /** Offset of `headers complete`. */
  headersAt?: number;
  flags?: number;
  contentLength?: number;
  /** Header fields of the header section (trailers excluded); a value may come in several spans. */
  headers: Array<{ name: Span; value: Span[] }>;
  /** Offset of `message complete`, if llhttp completed the message. */
  completeAt?: number;
}

/** How llhttp's log ends: an error, or simply the end of the input. */
export type LogEnd = { kind: 'error'; off: number; code: number; reason: string } | { kind: 'eof' };

export interface LlhttpCase {
  /** `file.md › heading`, made unique with `#2`, `#3` when a file repeats a heading. */
  id: string;
  file: string;
  name: string;
  /** `request`, `request-lenient-*` or `request-finish` (other types are not request tests). */
  type: string;
  meta: Record<string, unknown>;
  raw: Buffer;
  messages: LogMessage[];
  end: LogEnd;
  /** `off=NULL finish=N` of request-finish cases: 0 when it is safe to finish. */
  finish?: number;
}

/** Every case of every file, in file order. */
export function loadLlhttpCases(dir = LLHTTP_DIR): LlhttpCase[] {
  const cases: LlhttpCase[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.md')).sort()) {
    cases.push(...parseFile(file, readFileSync(join(dir, file), 'utf8')));
  }
  return cases;
}

/** Number of `<!-- meta=` comments in the files: every one of them must become a case. */
export function countMetaComments(dir = LLHTTP_DIR): number {
  let n = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.md'))) {
    n += readFileSync(join(dir, file), 'utf8').split('<!-- meta=').length - 1;
  }
  return n;
}

function parseFile(file: string, text: string): LlhttpCase[] {
  const lines = text.split('\n');
  const cases: LlhttpCase[] = [];
  const seen = new Map<string, number>();
  let heading = '';
  let current: { name: string; meta: Record<string, unknown>; http?: string[]; log?: string[] } | null = null;

  const readFence = (start: number): { body: string[]; next: number } => {
    const body: string[] = [];
    let i = start;
    while (i < lines.length && lines[i] !== '```') body.push(lines[i++]!);
    if (i === lines.length) throw new Error(`${file}: unterminated fence at line ${start}`);
    return { body, next: i + 1 };
  };
  const finish = (): void => {
    if (current === null) return;
    if (current.http === undefined || current.log === undefined) {
      throw new Error(`${file} › ${current.name}: missing http or log block`);
    }
    const count = (seen.get(current.name) ?? 0) + 1;
    seen.set(current.name, count);
    const summary = summariseLog(current.log, `${file} › ${current.name}`);
    cases.push({
      id: `${file} › ${current.name}${count > 1 ? ` #${count}` : ''}`,
      file,
      name: current.name,
      type: String(current.meta['type']),
      meta: current.meta,
      raw: decodeHttpBlock(current.http),
      ...summary,
    });
    current = null;
  };

  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    const headingMatch = /^#{2,}\s+(.*)$/.exec(line);
    const metaMatch = /^<!--\s*meta=(\{.*\})\s*-->\s*$/.exec(line);
    if (headingMatch) {
      finish();
      heading = headingMatch[1]!.trim();
      i++;
    } else if (metaMatch) {
      finish();
      current = { name: heading, meta: JSON.parse(metaMatch[1]!) as Record<string, unknown> };
      i++;
    } else if (line === '```http' && current !== null && current.http === undefined) {
      const { body, next } = readFence(i + 1);
      current.http = body;
      i = next;
    } else if (line === '```log' && current !== null && current.log === undefined) {
      const { body, next } = readFence(i + 1);
      current.log = body;
      i = next;
    } else {
      i++;
    }
  }
  finish();
  return cases;
}

/**
 * The bytes of an `http` block: line breaks are CRLF, a line ending in `\` is joined to the next
 * without a break, and `\r \n \t \f \xHH` and octal escapes are decoded. Any other backslash is
 * literal (the chunk-extension cases rely on `\"` and `\\` staying two bytes). Like llhttp's own
 * harness, the decoded text is then encoded as UTF-8: `\xff` becomes the two bytes C3 BF (the
 * log's `len=8` for "ÿValue2" shows it).
 */
export function decodeHttpBlock(lines: string[]): Buffer {
  let text = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.endsWith('\\') && !line.endsWith('\\\\')) text += line.slice(0, -1);
    else text += line + (i < lines.length - 1 ? '\r\n' : '');
  }
  const simple: Record<string, string> = { r: '\r', n: '\n', t: '\t', f: '\f' };
  const decoded = text.replace(/\\(?:([rntf])|x([0-9a-fA-F]{2})|([0-7]{1,3}))/g, (_all, letter?: string, hex?: string, octal?: string) => {
    if (letter !== undefined) return simple[letter]!;
    return String.fromCharCode(hex !== undefined ? parseInt(hex, 16) : parseInt(octal!, 8) & 0xff);
  });
  return Buffer.from(decoded, 'utf8');
}

/** Groups the log's events by message (`message begin` starts one). */
function summariseLog(log: string[], where: string): { messages: LogMessage[]; end: LogEnd; finish?: number } {
  const messages: LogMessage[] = [];
  let end: LogEnd = { kind: 'eof' };
  let finish: number | undefined;
  let inHeaders = false;
  const current = (): LogMessage => {
    const m = messages[messages.length - 1];
    if (m === undefined) throw new Error(`${where}: event before message begin`);
    return m;
  };
  for (const line of log) {
    if (line.trim() === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^off=(\d+) message begin$/.exec(line))) {
      messages.push({ begin: Number(m[1]), headers: [] });
      inHeaders = true;
    } else if ((m = /^off=(\d+) len=(\d+) span\[(\w+)\]=(.*)$/.exec(line))) {
      const shown = m[4]!;
      const span = { off: Number(m[1]), len: Number(m[2]), shown: shown.startsWith('"') ? shown.slice(1, -1) : shown };
      const kind = m[3]!;
      const msg = current();
      if (kind === 'method') msg.method = span;
      else if (kind === 'url') msg.url = span;
      else if (kind === 'header_field' && inHeaders) msg.headers.push({ name: span, value: [] });
      else if (kind === 'header_value' && inHeaders) msg.headers[msg.headers.length - 1]!.value.push(span);
    } else if ((m = /^off=(\d+) headers complete method=\d+ v=(\d+)\/(\d+) flags=([0-9a-f]+) content_length=(\d+)$/.exec(line))) {
      const msg = current();
      msg.version = { major: Number(m[2]), minor: Number(m[3]) };
      msg.headersAt = Number(m[1]);
      msg.flags = parseInt(m[4]!, 16);
      msg.contentLength = Number(m[5]);
      inHeaders = false;
    } else if ((m = /^off=(\d+) message complete$/.exec(line))) {
      current().completeAt = Number(m[1]);
    } else if ((m = /^off=(\d+) error code=(\d+) reason="(.*)"$/.exec(line))) {
      end = { kind: 'error', off: Number(m[1]), code: Number(m[2]), reason: m[3]! };
    } else if ((m = /^off=NULL finish=(\d+)$/.exec(line))) {
      finish = Number(m[1]);
    } else if (!/^off=\d+ /.test(line)) {
      throw new Error(`${where}: unknown log line ${JSON.stringify(line)}`);
    }
  }
  return finish === undefined ? { messages, end } : { messages, end, finish };
}

/** The Host value `injectHost` adds. */
export const INJECTED_HOST = 'conformance.test';

/**
 * The case's bytes with `Host: conformance.test` added after the request line of every message
 * that is HTTP/1.1 and has no Host field; null if there is none. Most vectors omit Host, which
 * RFC 9112 §3.2 makes a 400 for HTTP/1.1: this variant lets a test check everything else about
 * them. Returns the indexes of the messages that got one (their parsed headers start with it).
 */
export function injectHost(c: LlhttpCase): { bytes: Buffer; injected: Set<number> } | null {
  const raw = c.raw;
  const pieces: Buffer[] = [];
  const injected = new Set<number>();
  let from = 0;
  c.messages.forEach((m, index) => {
    const lineEnd = raw.indexOf('\r\n', m.begin);
    if (lineEnd < 0 || !raw.toString('latin1', m.begin, lineEnd).endsWith(' HTTP/1.1')) return;
    const headEnd = raw.indexOf('\r\n\r\n', lineEnd);
    const head = raw.toString('latin1', lineEnd, headEnd < 0 ? raw.length : headEnd + 2);
    if (/\r\nhost[ \t]*:/i.test(head)) return;
    pieces.push(raw.subarray(from, lineEnd + 2), Buffer.from(`Host: ${INJECTED_HOST}\r\n`));
    from = lineEnd + 2;
    injected.add(index);
  });
  if (injected.size === 0) return null;
  pieces.push(raw.subarray(from));
  return { bytes: Buffer.concat(pieces), injected };
}
