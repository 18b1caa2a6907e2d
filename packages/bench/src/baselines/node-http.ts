/**
 * The baseline: the server a Node user would write instead of following this course. node:http
 * serves the same site with the same CLI contract as the models, keeps file contents in memory
 * after the first request, answers conditional requests, keeps connections alive — a competent
 * server, not a straw man. It also answers /api/fib on its one event loop, which makes it the
 * "CPU work inline on a single reactor" of the cpu-task scenario. With the `ws` package it is the
 * WebSocket peer of the ws scenarios too (ws-bench.ts).
 *
 *   node dist/baselines/node-http.js [--port N] [--host H] [--root DIR] [--protocol http|echo] [--codec line]
 *
 * With `--protocol echo --codec line` it is the framed-echo scenario's peer: what a Node user
 * writes to echo lines (split the stream on \n, write each line back).
 *
 * Everything here runs on the main thread (node:http's event loop).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, isIP, type Socket } from 'node:net';
import { createReadStream, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachWebSocketBench } from './ws-bench.js';

const NAME = 'node-http';

/** dist/baselines/node-http.js → the repository's site/ folder. */
const DEFAULT_ROOT = fileURLToPath(new URL('../../../../site', import.meta.url));

interface Options {
  port: number;
  host: string;
  root: string;
  protocol: 'http' | 'echo';
  /** echo: 'line' echoes whole lines; 'none' pipes bytes back as they come. */
  codec: 'none' | 'line';
}

/** Parse argv the way the models do: one line naming a bad flag, exit code 2. */
function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { port: 8080, host: '127.0.0.1', root: DEFAULT_ROOT, protocol: 'http', codec: 'none' };
  const bad = (msg: string): never => {
    process.stderr.write(`${NAME}: ${msg}\n`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`usage: node dist/baselines/node-http.js [--port N] [--host H] [--root DIR] [--protocol http|echo] [--codec line]\n`);
      process.exit(0);
    }
    if (!arg.startsWith('--')) bad(`unexpected argument "${arg}" (flags look like --port 8080)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const raw = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (!['port', 'host', 'root', 'protocol', 'codec'].includes(name)) bad(`unknown flag --${name}`);
    if (raw === undefined || raw === '') bad(`--${name} needs a value`);
    const value = raw!;
    switch (name) {
      case 'port': {
        const n = /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n >= 0 && n <= 65535)) bad(`--port expects an integer from 0 to 65535, got "${value}"`);
        opts.port = n;
        break;
      }
      case 'host': {
        const host = value === 'localhost' ? '127.0.0.1' : value.replace(/^\[(.*)\]$/, '$1');
        if (isIP(host) === 0) bad(`--host expects an IPv4 or IPv6 address, got "${value}"`);
        opts.host = host;
        break;
      }
      case 'root':
        opts.root = value;
        break;
      case 'protocol':
        if (value !== 'http' && value !== 'echo') bad(`--protocol expects one of http|echo, got "${value}"`);
        opts.protocol = value as 'http' | 'echo';
        break;
      case 'codec':
        if (value !== 'line' && value !== 'none') bad(`--codec expects line or none here (the baseline frames lines only), got "${value}"`);
        opts.codec = value as 'none' | 'line';
        break;
    }
  }
  let isDir = false;
  try { isDir = statSync(opts.root).isDirectory(); } catch { /* reported below */ }
  if (!isDir) bad(`--root: "${opts.root}" is not a directory`);
  if (opts.codec !== 'none' && opts.protocol !== 'echo') bad(`--codec frames TCP: it needs --protocol echo, got ${opts.protocol}`);
  opts.root = resolve(opts.root);
  return opts;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.txt': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp', '.ico': 'image/x-icon',
  '.woff2': 'font/woff2', '.wasm': 'application/wasm', '.xml': 'application/xml', '.pdf': 'application/pdf',
};

/** A file as served: contents in memory, validators computed once. */
interface CachedFile {
  body: Buffer;
  type: string;
  etag: string;
  lastModified: string;
  mtimeS: number;
}

/** Files above this size are streamed from disk on each request instead of cached. */
const CACHE_LIMIT = 8 * 1024 * 1024;

/**
 * Path → file, filled on first request. Entries are never revalidated: the site does not change
 * while a benchmark runs, and a restart picks up edits — what a small production server does.
 * The promise is cached, so concurrent first requests read the file once.
 */
const cache = new Map<string, Promise<CachedFile | 'missing' | 'large'>>();

async function load(file: string): Promise<CachedFile | 'missing' | 'large'> {
  let st;
  try {
    st = await stat(file);
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return 'missing';
  if (st.size > CACHE_LIMIT) return 'large';
  return {
    body: await readFile(file),
    type: TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
    etag: `W/"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
    lastModified: st.mtime.toUTCString(),
    mtimeS: Math.floor(st.mtimeMs / 1000),
  };
}

function lookup(file: string): Promise<CachedFile | 'missing' | 'large'> {
  let hit = cache.get(file);
  if (!hit) {
    hit = load(file);
    cache.set(file, hit);
  }
  return hit;
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Recursive on purpose: the cpu-task scenario wants CPU work proportional to 1.6^n. */
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** Map a URL path to a file under root, or null if it escapes root or is malformed. */
function resolvePath(root: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = normalize(join(root, decoded));
  if (full !== root && !full.startsWith(root + sep)) return null;
  return decoded.endsWith('/') ? join(full, 'index.html') : full;
}

function isFresh(req: IncomingMessage, f: CachedFile): boolean {
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return inm.split(',').some((t) => t.trim() === f.etag || t.trim() === '*');
  const ims = req.headers['if-modified-since'];
  if (ims !== undefined) {
    const t = Date.parse(ims);
    return !Number.isNaN(t) && f.mtimeS <= Math.floor(t / 1000);
  }
  return false;
}

async function handle(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });

  if (url.pathname === '/api/fib') {
    const raw = url.searchParams.get('n') ?? '';
    const n = /^\d{1,2}$/.test(raw) ? Number(raw) : NaN;
    if (!(n <= 45)) return plain(res, 400, 'n must be an integer from 0 to 45\n');
    const body = JSON.stringify({ n, fib: fib(n) }) + '\n';
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }

  const file = resolvePath(root, url.pathname);
  if (file === null) return plain(res, 400, 'bad path\n');
  const f = await lookup(file);
  if (f === 'missing') return plain(res, 404, 'not found\n');
  if (f === 'large') {
    const st = await stat(file);
    res.writeHead(200, { 'Content-Type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': st.size });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
    return;
  }
  const validators = { ETag: f.etag, 'Last-Modified': f.lastModified };
  if (isFresh(req, f)) {
    res.writeHead(304, validators);
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': f.type, 'Content-Length': f.body.length, ...validators });
  res.end(req.method === 'HEAD' ? undefined : f.body);
}

/** Echo each complete line (\n-terminated) back as one write; a partial line waits for its end. */
function echoLines(sock: Socket): void {
  let pending = '';
  sock.setEncoding('latin1');
  sock.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop()!;
    for (const line of lines) sock.write(line + '\n', 'latin1');
  });
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const sockets = new Set<Socket>();
  const server = opts.protocol === 'http'
    ? createServer((req, res) => {
        handle(opts.root, req, res).catch(() => { if (!res.headersSent) plain(res, 500, 'internal error\n'); else res.destroy(); });
      })
    : createTcpServer((sock) => {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => { /* the peer reset: close follows */ });
        if (opts.codec === 'line') echoLines(sock);
        else sock.pipe(sock);
      });

  if (opts.protocol === 'http') attachWebSocketBench(server as ReturnType<typeof createServer>); // the ws scenarios' peer

  server.on('error', (err: NodeJS.ErrnoException) => {
    process.stderr.write(`${NAME}: ${err.syscall ?? 'listen'}: ${err.code ?? err.message}\n`);
    process.exit(1);
  });
  server.listen(opts.port, opts.host, () => {
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('listening on a pipe?');
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    const scheme = opts.protocol === 'http' ? 'http' : 'tcp';
    process.stdout.write(`listening on ${scheme}://${host}:${addr.port} ${NAME} protocol=${opts.protocol} root=${opts.root} pid=${process.pid}\n`);
  });

  const stop = () => {
    server.close();
    if ('closeAllConnections' in server) server.closeAllConnections();
    for (const s of sockets) s.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
