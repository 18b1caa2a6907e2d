/**
 * Raw TCP clients for tests: they send exact bytes and read exact bytes, so a test sees what a
 * browser or an attacker would, with no HTTP library smoothing anything over.
 */
import { connect, type Socket } from 'node:net';

/** Open a TCP connection to 127.0.0.1:port (or host) and resolve once connected. */
export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host });
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

export interface ParsedResponse {
  status: number;
  reason: string;
  /** Lower-cased names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
  /** The raw header block, for tests that check exact bytes. */
  head: string;
}

/**
 * Parse every complete response in `buf`. `headRequests[i]` says whether the i-th response
 * answers a HEAD (no body despite Content-Length). Returns the responses and leftover bytes.
 */
export function parseResponses(buf: Buffer, headRequests: boolean[] = []): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (end === -1) break;
    const head = buf.subarray(off, end).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      const name = line.slice(0, c).trim().toLowerCase();
      const value = line.slice(c + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const status = Number(m[1]);
    const isHead = headRequests[responses.length] ?? false;
    const noBody = isHead || status === 304 || status === 204 || (status >= 100 && status < 200);
    let bodyLen = 0;
    if (!noBody) {
      if (headers['content-length'] !== undefined) bodyLen = Number(headers['content-length']);
      else if (headers['transfer-encoding']) throw new Error('chunked responses are not expected from these servers');
      else bodyLen = buf.length - (end + 4); // read until close
    }
    if (buf.length < end + 4 + bodyLen) break;
    responses.push({ status, reason: m[2]!, headers, body: Buffer.from(buf.subarray(end + 4, end + 4 + bodyLen)), head });
    off = end + 4 + bodyLen;
  }
  return { responses, rest: buf.subarray(off) };
}

export interface ExchangeOptions {
  /** Resolve once this many complete responses arrived (default: wait for the server to close). */
  responses?: number;
  /** Which requests are HEAD requests, by index. */
  headRequests?: boolean[];
  timeoutMs?: number;
  host?: string;
}

export interface ExchangeResult {
  responses: ParsedResponse[];
  /** Every byte received. */
  raw: Buffer;
  /** True if the server closed the connection. */
  closed: boolean;
}

/**
 * Send `request` (all at once, or as the given pieces with a pause between) on a fresh
 * connection and collect responses until `responses` arrived or the server closed.
 */
export async function exchange(port: number, request: string | Buffer | Array<string | Buffer>, opts: ExchangeOptions = {}): Promise<ExchangeResult> {
  const sock = await openSocket(port, opts.host);
  const chunks: Buffer[] = [];
  let closed = false;
  const want = opts.responses;
  return new Promise<ExchangeResult>((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      let parsed: ParsedResponse[];
      try { parsed = parseResponses(raw, opts.headRequests).responses; } catch (e) { sock.destroy(); reject(e); return; }
      sock.destroy();
      resolve({ responses: parsed, raw, closed });
    };
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out after ${opts.timeoutMs ?? 10000} ms; got ${Buffer.concat(chunks).length} bytes: ${Buffer.concat(chunks).subarray(0, 300).toString('latin1')}`));
    }, opts.timeoutMs ?? 10000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      if (want !== undefined) {
        try {
          if (parseResponses(Buffer.concat(chunks), opts.headRequests).responses.length >= want) finish();
        } catch { /* incomplete garbage: wait for more or close */ }
      }
    });
    sock.on('end', () => { closed = true; finish(); });
    sock.on('close', () => { closed = true; finish(); });
    sock.on('error', () => { closed = true; }); // a reset is an answer too; 'close' follows
    const pieces = Array.isArray(request) ? request : [request];
    void (async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (sock.destroyed) return;
        sock.write(pieces[i]!);
        if (i < pieces.length - 1) await new Promise((r) => setTimeout(r, 5));
      }
    })();
  });
}

/** One GET (or other method) on a fresh connection; resolves with the parsed response. */
export async function request(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; host?: string; timeoutMs?: number } = {}): Promise<ParsedResponse> {
  const method = opts.method ?? 'GET';
  const headers = { host: 'localhost', connection: 'close', ...(opts.headers ?? {}) };
  const text = `${method} ${path} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const r = await exchange(port, text, { responses: 1, headRequests: [method === 'HEAD'], timeoutMs: opts.timeoutMs, host: opts.host });
  if (r.responses.length === 0) throw new Error(`no response to ${method} ${path}; raw: ${r.raw.toString('latin1').slice(0, 200)}`);
  return r.responses[0]!;
}

/**
 * Send `data` over one echo connection while reading concurrently; resolve with what came back
 * once as many bytes as were sent arrived.
 */
export async function echoRoundTrip(port: number, data: Buffer, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  const sock = await openSocket(port, opts.host);
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`echo: got ${got} of ${data.length} bytes before timeout`)); }, opts.timeoutMs ?? 30000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= data.length) { clearTimeout(timer); sock.end(); resolve(Buffer.concat(chunks)); }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.on('close', () => { if (got < data.length) { clearTimeout(timer); reject(new Error(`echo: connection closed after ${got} of ${data.length} bytes`)); } });
    sock.write(data);
  });
}

/** Resolve when `sock` is closed by the peer (or reject after timeoutMs). */
export function waitForClose(sock: Socket, timeoutMs = 10000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (sock.destroyed) { resolve(); return; }
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    sock.on('close', () => { clearTimeout(timer); resolve(); });
    sock.on('end', () => { clearTimeout(timer); resolve(); });
    sock.on('error', () => { /* close follows */ });
    sock.resume();
  });
}

/**
 * An idle keep-alive client the server surely holds: it sends one whole request, reads the whole
 * answer, and goes silent. A blocking server now sits in read() on it (an iterative one serves
 * nobody else meanwhile). The caller owns the socket and destroys it.
 */
export async function openAnswered(port: number, host?: string): Promise<Socket> {
  const sock = await openSocket(port, host);
  sock.on('error', () => { /* a server stopped under it may reset it; the test decides what matters */ });
  await new Promise<void>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (parseResponses(got).responses.length === 0) return;
      clearTimeout(timer);
      sock.off('data', onData);
      resolve();
    };
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no answer to the first request')); }, 20000);
    sock.on('data', onData);
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  });
  return sock;
}

/**
 * A client that stalls mid-request: `openAnswered`, then half of a second request (no blank
 * line), then silence. The server has taken the connection and waits for the rest in vain.
 */
export async function openStalled(port: number, host?: string): Promise<Socket> {
  const sock = await openAnswered(port, host);
  sock.write('GET / HTTP/1.1\r\nHost: x\r\n');
  return sock;
}

/**
 * GET `path` and read the answer slowly: pause for a moment after every 256 KB, so the server's
 * socket buffer fills and its writes come up short (EAGAIN, then a wait for writability).
 * Resolves with every byte received once the server closes.
 */
export async function slowGet(port: number, path: string, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  const sock = await openSocket(port, opts.host);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sincePause = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`slow GET ${path}: timed out`)); }, opts.timeoutMs ?? 60000);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      sincePause += d.length;
      if (sincePause >= 256 * 1024) {
        sincePause = 0;
        sock.pause();
        setTimeout(() => sock.resume(), 10);
      }
    });
    sock.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

/** What `echoPastStalledReader` saw: the bytes still queued in this process while not reading, and the echo. */
export interface StalledEcho {
  /** Bytes the client's socket still held in this process after a second of not reading. */
  queuedWhileStalled: number;
  /** Everything echoed back once the client read again, in order. */
  back: Buffer;
}

/**
 * An echo server's back-pressure: write `data` (1 MiB at a time) without reading any echo, wait
 * a second, then read everything back. A server that stops reading past its high-water mark
 * leaves most of `data` on the client's side meanwhile (`queuedWhileStalled`); one that does
 * not buffers it all itself. Rejects if the echo is not complete within `timeoutMs`.
 */
export async function echoPastStalledReader(port: number, data: Buffer, timeoutMs = 60_000): Promise<StalledEcho> {
  const sock = await openSocket(port);
  try {
    sock.pause();
    for (let off = 0; off < data.length; off += 1 << 20) sock.write(data.subarray(off, off + (1 << 20)));
    await new Promise((r) => setTimeout(r, 1000));
    const queuedWhileStalled = sock.writableLength; // not yet taken by the kernel
    const back = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let got = 0;
      const timer = setTimeout(() => reject(new Error(`got ${got} of ${data.length} bytes`)), timeoutMs);
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= data.length) { clearTimeout(timer); resolve(Buffer.concat(chunks)); }
      });
      sock.resume();
    });
    return { queuedWhileStalled, back };
  } finally {
    sock.destroy();
  }
}
