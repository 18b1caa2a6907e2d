/**
 * Static files: mapping a request path to a file under a root directory — safely — and serving it
 * fast.
 *
 * Policies (also in the package README):
 * - Paths are percent-decoded ONCE, as strict UTF-8. Invalid escapes, invalid or overlong UTF-8
 *   (`%c0%ae`), control characters (NUL: `%00`), backslashes (`\`, `%5c`) and raw non-ASCII bytes
 *   are 400. `%2f` becomes a `/` like any other: segments are normalised after decoding, and a
 *   path whose `..` would climb above the root is 400. `%252e` decodes to the literal name `%2e`.
 * - Symlinks are followed only if their target stays inside the root: every file is realpath'd
 *   and must lie inside realpath(root), else 404 (we do not reveal what lies outside).
 * - Dotfiles: any path segment starting with `.` is 404 — named in the URL or reached through a
 *   symlink (`.git`, `.env`, `.well-known` alike).
 * - Directories: `/dir` → 301 to `/dir/`; `/dir/` serves `/dir/index.html`, 404 if there is none
 *   (no listings). A file asked for with a trailing slash is 404.
 * - Validators: a strong ETag `"<size hex>-<mtime ms hex>"` and Last-Modified; If-None-Match
 *   (which takes precedence) or If-Modified-Since answer 304.
 * - Files up to 64 KiB are cached in memory (16 MiB in all, least recently used out first) with
 *   their header blocks prebuilt. A cached file is checked against the disk (path resolved and
 *   stat'd again) at most once per `revalidateMs`, 1 s by default: a change is seen within a
 *   second. Larger files are opened per request and sent with `Sink.sendFile` (sendfile(2)).
 *
 * Threading: one StaticSite per thread or process. Its cache is plain JS state, never shared.
 */
import { Buffer } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mime from 'mime-types';
import type { HttpRequest } from './parser.js';
import { clockSecond, headerBlock, completeResponse, textResponse, type ConnectionMode } from './response.js';

/** Tunables of a StaticSite. Fixed at construction. */
export interface StaticSiteOptions {
  /** Files up to this size are cached in memory. Default 64 KiB. */
  maxCachedFileBytes?: number;
  /** Bound on the cache's total size (bodies plus an allowance for header blocks). Default 16 MiB. */
  maxCacheBytes?: number;
  /** A cached file is re-checked against the disk when it was last checked this long ago. Default 1000 ms. */
  revalidateMs?: number;
}

/** What a request path maps to. */
export type Resolution =
  /** A regular file inside the root; `path` is its real path, `stats` from stat(2). */
  | { kind: 'file'; path: string; stats: fs.Stats }
  /** A directory asked for without its trailing slash; `location` is the canonical, encoded path. */
  | { kind: 'redirect'; location: string }
  | { kind: 'not-found' }
  | { kind: 'bad-request'; reason: string };

/** Where a static response goes: a Sink, or a session's queue slot holding it back for ordering. */
export interface ResponseWriter {
  write(bytes: Uint8Array): void;
  /** Takes ownership of `fd`, like Sink.sendFile. */
  sendFile(fd: number, offset: number, length: number): void;
}

const NOT_FOUND: Resolution = { kind: 'not-found' };

/** Header blocks are a few hundred bytes; a cached file may hold one per ConnectionMode. */
const HEADER_ALLOWANCE = 1024;

/** A file held in memory with what its responses need. Owned by one StaticSite. */
class CachedFile {
  /** The second the header blocks below were built for (their Date line); -1: none built. */
  second = -1;
  /** Header block per ConnectionMode for `second`. Never mutated once handed to a sink: replaced. */
  heads: Array<Buffer | undefined> = [undefined, undefined, undefined];

  constructor(
    readonly realPath: string,
    readonly ino: number,
    readonly size: number,
    readonly mtimeMs: number,
    readonly body: Buffer,
    readonly etag: string,
    readonly lastModified: string,
    /** Content-Type, ETag and Last-Modified header lines. */
    readonly fields: string,
    /** Date.now() when the disk was last checked. */
    public checkedAt: number,
  ) {}

  get cost(): number {
    return this.body.length + HEADER_ALLOWANCE;
  }

  /** The 200 header block for `mode` at time `nowMs`, built at most once per second. */
  head(mode: ConnectionMode, nowMs: number): Buffer {
    const second = clockSecond(nowMs);
    if (second !== this.second) {
      // New buffers, not rewritten ones: the old ones may still sit in some sink's queue.
      this.heads = [undefined, undefined, undefined];
      this.second = second;
    }
    let head = this.heads[mode];
    if (head === undefined) {
      head = Buffer.from(headerBlock(200, this.fields, this.size, mode), 'latin1');
      this.heads[mode] = head;
    }
    return head;
  }
}

export class StaticSite {
  /** realpath(root), without a trailing slash unless it is `/`. */
  readonly root: string;
  /** `root` with exactly one trailing slash: a real path is inside iff it starts with this. */
  private readonly rootPrefix: string;
  private readonly maxCachedFileBytes: number;
  private readonly maxCacheBytes: number;
  private readonly revalidateMs: number;
  /** Raw request path → cached file. A Map iterates in insertion order: the first key is the least recently used. */
  private readonly cache = new Map<string, CachedFile>();
  private cacheBytes = 0;

  /** Throws if `root` is not an existing directory. */
  constructor(root: string, options: StaticSiteOptions = {}) {
    let real: string;
    try {
      real = fs.realpathSync.native(root);
    } catch (err) {
      throw new Error(`static root ${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (!fs.statSync(real).isDirectory()) throw new Error(`static root ${root} is not a directory`);
    this.root = real;
    this.rootPrefix = real.endsWith('/') ? real : real + '/';
    this.maxCachedFileBytes = options.maxCachedFileBytes ?? 64 * 1024;
    this.maxCacheBytes = options.maxCacheBytes ?? 16 * 1024 * 1024;
    this.revalidateMs = options.revalidateMs ?? 1000;
  }

  /** Number of files in the cache and their total cost in bytes (for tests and stats). */
  get cacheSize(): { files: number; bytes: number } {
    return { files: this.cache.size, bytes: this.cacheBytes };
  }

  /**
   * Map a raw (still percent-encoded) request path to what to serve. Touches the disk (realpath,
   * stat) but opens nothing.
   */
  resolve(rawPath: string): Resolution {
    const decoded = decodePath(rawPath);
    if (typeof decoded === 'string') return { kind: 'bad-request', reason: decoded };
    const { segments, trailingSlash } = decoded;
    for (const segment of segments) if (segment.startsWith('.')) return NOT_FOUND;

    let found = this.locate(path.join(this.root, ...segments));
    if (found === null) return NOT_FOUND;
    if (found.stats.isDirectory()) {
      if (!trailingSlash) {
        // Built from the normalised segments, never echoed from the request: `//evil.example`
        // must not become a protocol-relative Location.
        const location = segments.length === 0 ? '/' : '/' + segments.map(encodeURIComponent).join('/') + '/';
        return { kind: 'redirect', location };
      }
      found = this.locate(path.join(found.real, 'index.html'));
      if (found === null) return NOT_FOUND;
    } else if (trailingSlash) {
      return NOT_FOUND;
    }
    if (!found.stats.isFile()) return NOT_FOUND; // directories named index.html, fifos, devices
    return { kind: 'file', path: found.real, stats: found.stats };
  }

  // #region serve
  /**
   * Answer a GET or HEAD for a static file into `out`: 200, 304, 301, 400 or 404. A cached file
   * costs two writes of prebuilt buffers (header block, body); a large one a header block and a
   * sendFile.
   */
  serve(req: HttpRequest, mode: ConnectionMode, out: ResponseWriter): void {
    const head = req.method === 'HEAD';
    const now = Date.now();
    const cached = this.cache.get(req.path);
    if (cached !== undefined && now - cached.checkedAt < this.revalidateMs) {
      this.sendCached(cached, req, mode, head, now, out);
      return;
    }

    const found = this.resolve(req.path);
    if (cached !== undefined) {
      this.forget(req.path, cached);
      if (found.kind === 'file' && sameFile(cached, found.path, found.stats)) {
        cached.checkedAt = now;
        this.remember(req.path, cached); // re-inserted last: most recently used
        this.sendCached(cached, req, mode, head, now, out);
        return;
      }
    }

    switch (found.kind) {
      case 'bad-request':
        out.write(textResponse(400, mode, head));
        return;
      case 'not-found':
        out.write(textResponse(404, mode, head));
        return;
      case 'redirect': {
        const location = found.location + (req.query && SAFE_QUERY.test(req.query) ? '?' + req.query : '');
        out.write(textResponse(301, mode, head, `Location: ${location}\r\n`));
        return;
      }
      case 'file':
        this.serveFile(req, found.path, mode, head, now, out);
        return;
    }
  }
  // #endregion serve

  /** A file found on disk and not cached: open it, then cache it if small or send it with sendfile. */
  private serveFile(
    req: HttpRequest,
    realPath: string,
    mode: ConnectionMode,
    head: boolean,
    now: number,
    out: ResponseWriter,
  ): void {
    let fd: number;
    try {
      // libuv opens with O_CLOEXEC: a child forked later (step 02) does not inherit it.
      fd = fs.openSync(realPath, 'r');
    } catch (err) {
      // Out of descriptors is the server's trouble, not the file's: say so. Otherwise the file
      // vanished since resolve() or is unreadable, which is the same answer as missing.
      const code = (err as NodeJS.ErrnoException).code;
      out.write(textResponse(code === 'EMFILE' || code === 'ENFILE' ? 503 : 404, mode, head));
      return;
    }
    // fstat the open file: its size is what sendfile will find, whatever the path now points to.
    let stats: fs.Stats;
    let entry: CachedFile | null = null;
    try {
      stats = fs.fstatSync(fd);
      if (stats.size <= this.maxCachedFileBytes) entry = this.load(fd, realPath, stats, now);
    } catch {
      fs.closeSync(fd);
      out.write(textResponse(500, mode, head)); // EIO and the like, on a file that exists
      return;
    }
    if (entry !== null) {
      fs.closeSync(fd);
      this.remember(req.path, entry);
      this.sendCached(entry, req, mode, head, now, out);
      return;
    }

    const etag = makeEtag(stats.size, stats.mtimeMs);
    const lastModified = new Date(stats.mtimeMs).toUTCString();
    if (notModified(req, etag, stats.mtimeMs)) {
      fs.closeSync(fd);
      out.write(completeResponse(304, validatorFields(etag, lastModified), '', mode, true));
      return;
    }
    const fields = fileFields(realPath, etag, lastModified);
    out.write(Buffer.from(headerBlock(200, fields, stats.size, mode), 'latin1'));
    if (head) fs.closeSync(fd);
    else out.sendFile(fd, 0, stats.size); // the writer owns fd from here
  }

  private sendCached(
    entry: CachedFile,
    req: HttpRequest,
    mode: ConnectionMode,
    head: boolean,
    now: number,
    out: ResponseWriter,
  ): void {
    if (notModified(req, entry.etag, entry.mtimeMs)) {
      out.write(completeResponse(304, validatorFields(entry.etag, entry.lastModified), '', mode, true));
      return;
    }
    out.write(entry.head(mode, now));
    if (!head && entry.body.length > 0) out.write(entry.body);
  }

  /** Read a small open file into a new cache entry. */
  private load(fd: number, realPath: string, stats: fs.Stats, now: number): CachedFile {
    // allocUnsafeSlow: a long-lived buffer of its own, not a slice pinning Node's shared pool.
    const body = Buffer.allocUnsafeSlow(stats.size);
    let got = 0;
    while (got < body.length) {
      const n = fs.readSync(fd, body, got, body.length - got, got);
      if (n === 0) break; // shrank since fstat: keep what is there
      got += n;
    }
    const bytes = got === body.length ? body : body.subarray(0, got);
    const etag = makeEtag(bytes.length, stats.mtimeMs);
    const lastModified = new Date(stats.mtimeMs).toUTCString();
    const fields = fileFields(realPath, etag, lastModified);
    return new CachedFile(realPath, stats.ino, bytes.length, stats.mtimeMs, bytes, etag, lastModified, fields, now);
  }

  private remember(key: string, entry: CachedFile): void {
    this.cache.set(key, entry);
    this.cacheBytes += entry.cost;
    // Evict least recently used entries until the budget holds (never the one just added).
    for (const [oldKey, old] of this.cache) {
      if (this.cacheBytes <= this.maxCacheBytes || old === entry) break;
      this.forget(oldKey, old);
    }
  }

  private forget(key: string, entry: CachedFile): void {
    if (this.cache.delete(key)) this.cacheBytes -= entry.cost;
  }

  /** realpath + stat of `candidate`, or null if missing or outside the root (or a dotfile inside it). */
  private locate(candidate: string): { real: string; stats: fs.Stats } | null {
    let real: string;
    try {
      real = fs.realpathSync.native(candidate);
    } catch {
      return null; // ENOENT, ENOTDIR, ELOOP, EACCES, ENAMETOOLONG: all "not found"
    }
    if (real !== this.root) {
      if (!real.startsWith(this.rootPrefix)) return null; // a symlink leading out of the root
      // The dotfile rule holds for where a symlink leads too.
      const relative = real.slice(this.rootPrefix.length);
      if (relative.startsWith('.') || relative.includes('/.')) return null;
    }
    const stats = fs.statSync(real, { throwIfNoEntry: false });
    return stats === undefined ? null : { real, stats };
  }
}

// ---------------------------------------------------------------------------------------------
// Path decoding.

/** Fatal: invalid sequences (overlong forms, surrogates, truncated) throw instead of becoming U+FFFD. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A query string safe to copy into a Location header (visible ASCII only). */
const SAFE_QUERY = /^[\x21-\x7e]*$/;

/**
 * Decode a raw request path into normalised segments, or return why it is a bad request.
 * Exported for tests.
 */
export function decodePath(raw: string): { segments: string[]; trailingSlash: boolean } | string {
  if (raw.charCodeAt(0) !== 0x2f) return 'the path must start with "/"';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    // RFC 3986: a request target is visible ASCII; anything else must arrive percent-encoded.
    if (c < 0x21 || c > 0x7e) return 'raw control, space or non-ASCII character in the path';
  }

  let text = raw;
  if (raw.includes('%')) {
    const bytes = new Uint8Array(raw.length);
    let n = 0;
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c !== 0x25) {
        bytes[n++] = c;
        continue;
      }
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return 'bad percent-encoding';
      bytes[n++] = hi * 16 + lo;
      i += 2;
    }
    try {
      text = STRICT_UTF8.decode(bytes.subarray(0, n));
    } catch {
      return 'the path is not valid UTF-8';
    }
  }

  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return 'control character (NUL included) in the path';
    if (c === 0x5c) return 'backslash in the path';
  }

  const segments: string[] = [];
  for (const segment of text.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return 'the path climbs above the root';
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return { segments, trailingSlash: text.endsWith('/') };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30; // 0-9
  if (c >= 0x41 && c <= 0x46) return c - 0x37; // A-F
  if (c >= 0x61 && c <= 0x66) return c - 0x57; // a-f
  return -1; // includes NaN past the end of the string
}

// ---------------------------------------------------------------------------------------------
// Validators and headers.

function makeEtag(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.trunc(mtimeMs).toString(16)}"`;
}

function validatorFields(etag: string, lastModified: string): string {
  return `ETag: ${etag}\r\nLast-Modified: ${lastModified}\r\n`;
}

function fileFields(realPath: string, etag: string, lastModified: string): string {
  // mime-types adds `; charset=utf-8` to text types; unknown extensions are opaque bytes.
  const type = mime.contentType(path.basename(realPath)) || 'application/octet-stream';
  return `Content-Type: ${type}\r\n${validatorFields(etag, lastModified)}`;
}

function sameFile(entry: CachedFile, realPath: string, stats: fs.Stats): boolean {
  return entry.realPath === realPath && entry.ino === stats.ino && entry.size === stats.size && entry.mtimeMs === stats.mtimeMs;
}

/**
 * RFC 9110 §13.1: If-None-Match, when present, decides alone (weak comparison, `*` matches any
 * file); otherwise If-Modified-Since compares whole seconds, the precision of Last-Modified.
 */
function notModified(req: HttpRequest, etag: string, mtimeMs: number): boolean {
  let ifNoneMatch: string | undefined;
  let ifModifiedSince: string | undefined;
  const headers = req.headers;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name === 'if-none-match') ifNoneMatch = ifNoneMatch === undefined ? value : `${ifNoneMatch}, ${value}`;
    else if (name === 'if-modified-since') ifModifiedSince = value;
  }
  if (ifNoneMatch !== undefined) return etagListMatches(ifNoneMatch, etag);
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  if (Number.isNaN(since)) return false; // an invalid date is ignored (RFC 9110 §13.1.3)
  return Math.floor(mtimeMs / 1000) * 1000 <= since;
}

function etagListMatches(list: string, etag: string): boolean {
  if (list.trim() === '*') return true;
  for (let tag of list.split(',')) {
    tag = tag.trim();
    if (tag.startsWith('W/')) tag = tag.slice(2);
    if (tag === etag) return true;
  }
  return false;
}
