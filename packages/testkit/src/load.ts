/**
 * The raw load clients of the bench — the sockets no load-generator library opens the way the
 * scenarios need — and the response counter they frame responses with. They run on the calling
 * process's main thread (the bench's, pinned to the client core) and only ever target 127.0.0.1:
 *
 * - `runChurn`: a new connection per request: connect, ask, read to close, repeat.
 * - `runBurst`: pipelining as wrk's pipeline.lua does it: write N requests at once, read all N.
 * - `holdStalledRequest`, `openIdleConnections`, `startFibClients`, `probe`: the sockets the
 *   slow-client, idle and cpu-task scenarios hold.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseResponses } from './client.js';
import { LatencyRecorder } from './latency.js';

/** What one load phase measured. */
export interface LoadResult {
  /** Responses received before the end of the phase, any status. */
  responses: number;
  /** Connection errors, timeouts included. */
  errors: number;
  timeouts: number;
  non2xx: number;
  durationS: number;
  latency: { p50: number | null; p99: number | null };
  /** Distinct connections that got at least one response (the autocannon engine only). */
  connectionsServed?: number;
}

/** What a scenario asks of the load generator. Plain data. */
export interface LoadShape {
  /** Connections open at once (churn: clients looping connect → ask → read to close). */
  connections: number;
  /** Requests each connection has in flight: 1 for plain keep-alive. */
  depth: number;
  /**
   * How a depth above 1 is kept: `in-flight` sends a new request each time a response arrives
   * (autocannon's pipelining); `burst` writes `depth` requests at once and the next burst only
   * when all are answered (wrk's pipeline.lua, TechEmpower's plaintext test).
   */
  pipelining: 'in-flight' | 'burst';
  /** A new connection per request (`Connection: close`) instead of keep-alive. */
  churn: boolean;
  durationS: number;
  /**
   * Open loop: requests per second over all connections, scheduled at that rate and timed from
   * when each should have been sent (wrk2's rule against coordinated omission); null for a
   * closed loop.
   */
  rateRps: number | null;
}

/** What one load phase measured, plus what it cost the engine. */
export interface EngineResult extends LoadResult {
  /** User+system CPU seconds the load generator used during the phase (its process, or its own thread). */
  engineCpuSeconds: number;
}

/**
 * A request that does not complete within this many seconds counts as a timeout, in the raw
 * clients and in every engine of the bench (which then replaces the connection). Short, so that
 * a stuck server shows as timeouts within a 5-second run.
 */
export const REQUEST_TIMEOUT_S = 2;

export interface ChurnLoad {
  port: number;
  host: string;
  path: string;
  /** Clients looping at once. */
  concurrency: number;
  durationS: number;
}

/**
 * `concurrency` clients each loop: connect, send one request with `Connection: close`, read until
 * the server closes, record the time from connect() to close. Requests still in flight at the end
 * are abandoned and not counted, as autocannon does.
 */
export async function runChurn(load: ChurnLoad): Promise<LoadResult> {
  const request = `GET ${load.path} HTTP/1.1\r\nHost: ${load.host}\r\nConnection: close\r\n\r\n`;
  const latencies = new LatencyRecorder();
  const stats = { responses: 0, errors: 0, timeouts: 0, non2xx: 0 };
  const inFlight = new Set<Socket>();
  const started = performance.now();
  const deadline = started + load.durationS * 1000;
  let over = false;

  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const sock = connect({ port: load.port, host: load.host });
      inFlight.add(sock);
      let head = '';
      let failed = false;
      const timer = setTimeout(() => { if (!over) { stats.timeouts++; stats.errors++; } failed = true; sock.destroy(); }, REQUEST_TIMEOUT_S * 1000);
      sock.setNoDelay(true);
      sock.on('connect', () => sock.write(request));
      sock.on('data', (d: Buffer) => { if (head.length < 16) head += d.toString('latin1', 0, 16); });
      sock.on('error', () => { if (!failed && !over) stats.errors++; failed = true; });
      sock.on('close', () => {
        clearTimeout(timer);
        inFlight.delete(sock);
        if (!failed && !over) {
          if (head.startsWith('HTTP/1.1 200') || head.startsWith('HTTP/1.0 200')) {
            stats.responses++;
            latencies.record(performance.now() - t0);
          } else if (head.startsWith('HTTP/')) {
            stats.responses++;
            stats.non2xx++;
          } else {
            stats.errors++; // closed without a response
          }
        }
        resolve();
      });
    });

  const loop = async () => { while (!over) await once(); };
  const loops = Array.from({ length: load.concurrency }, loop);
  await new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())));
  over = true;
  for (const s of inFlight) s.destroy();
  await Promise.all(loops);
  return { ...stats, durationS: load.durationS, latency: latencies.summary() };
}

/** Connect to 127.0.0.1:port; reject after timeoutMs. */
function connectWithin(port: number, host: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ port, host });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connect timed out after ${timeoutMs} ms`)); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(timer); sock.off('error', reject); resolve(sock); });
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

/**
 * Send `request` on `sock` and resolve with the status of the one response it answers (parsed
 * with Content-Length framing). Rejects on timeout, error, or close before a full response.
 */
function askOnce(sock: Socket, request: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, status?: number) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('error', onError);
      if (err) reject(err);
      else resolve(status!);
    };
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let parsed;
      try { parsed = parseResponses(buf); } catch (e) { done(e as Error); return; }
      if (parsed.responses.length > 0) done(null, parsed.responses[0]!.status);
    };
    const onClose = () => done(new Error('closed before a full response'));
    const onError = (e: Error) => done(e);
    const timer = setTimeout(() => done(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    sock.on('data', onData);
    sock.on('close', onClose);
    sock.on('error', onError);
    sock.write(request);
  });
}

/**
 * One GET on a fresh connection (keep-alive, or `Connection: close` when asked): 'ok' for a 200,
 * else what went wrong. The socket is closed after.
 */
export async function probe(port: number, host: string, path: string, timeoutMs: number, connection: 'keep-alive' | 'close' = 'keep-alive'): Promise<'ok' | 'timed out' | 'failed'> {
  let sock: Socket | undefined;
  const close = connection === 'close' ? 'Connection: close\r\n' : '';
  try {
    sock = await connectWithin(port, host, timeoutMs);
    const status = await askOnce(sock, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${close}\r\n`, timeoutMs);
    return status === 200 ? 'ok' : 'failed';
  } catch (e) {
    return /timed out|within/.test((e as Error).message) ? 'timed out' : 'failed';
  } finally {
    sock?.destroy();
  }
}

/** A client that sent half a request and went quiet. Owned by the scenario that opened it. */
export interface StalledClient {
  /** Seconds after the stall began when the server closed the connection, or null if it never did. */
  closedAfterS(): number | null;
  release(): void;
}

/** Connect and send a request line and one header, without the blank line that ends the head. */
export async function holdStalledRequest(port: number, host: string, path: string): Promise<StalledClient> {
  const sock = await connectWithin(port, host, 5000);
  const t0 = performance.now();
  let closedAt: number | null = null;
  sock.on('close', () => { closedAt = performance.now(); });
  sock.on('error', () => { /* close follows */ });
  sock.on('data', () => { /* a timeout response, perhaps; keep reading */ });
  sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n`);
  return {
    closedAfterS: () => (closedAt === null ? null : (closedAt - t0) / 1000),
    release: () => sock.destroy(),
  };
}

/** Idle keep-alive connections held by the idle-1k scenario. */
export interface IdleConnections {
  /** Connections that were opened and served one request. */
  held: number;
  failures: number;
  firstError?: string;
  /** Why opening stopped before the target, if it did. */
  stoppedEarly?: string;
  /** How many held connections the server has closed since. */
  closedByServer(): number;
  release(): void;
}

/**
 * Open up to `target` connections, `batch` at a time; each sends one GET and waits for its
 * response — so the server has really accepted and served it — then stays open and idle.
 * Stops early after 10 consecutive failures or when `stop()` says so (memory running low).
 */
export async function openIdleConnections(
  port: number, host: string, path: string, target: number,
  opts: { batch: number; timeoutMs: number; stop: () => string | null },
): Promise<IdleConnections> {
  const sockets: Socket[] = [];
  let failures = 0;
  let consecutive = 0;
  let firstError: string | undefined;
  let stoppedEarly: string | undefined;
  let closed = 0;
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

  const openOne = async () => {
    let sock: Socket | undefined;
    try {
      sock = await connectWithin(port, host, opts.timeoutMs);
      const status = await askOnce(sock, request, opts.timeoutMs);
      if (status !== 200) throw new Error(`HTTP ${status}`);
      sock.on('close', () => { closed++; });
      sock.on('error', () => { /* close follows */ });
      sock.resume();
      sockets.push(sock);
      consecutive = 0;
    } catch (e) {
      sock?.destroy();
      failures++;
      consecutive++;
      firstError ??= (e as Error).message;
    }
  };

  while (sockets.length + failures < target) {
    const why = opts.stop() ?? (consecutive >= 10 ? `10 connections in a row failed (${firstError})` : null);
    if (why) { stoppedEarly = why; break; }
    const n = Math.min(opts.batch, target - sockets.length - failures);
    await Promise.all(Array.from({ length: n }, openOne));
  }
  return {
    held: sockets.length,
    failures,
    ...(firstError !== undefined ? { firstError } : {}),
    ...(stoppedEarly !== undefined ? { stoppedEarly } : {}),
    closedByServer: () => closed,
    release: () => { for (const s of sockets) { s.removeAllListeners('close'); s.destroy(); } },
  };
}

/** Background clients of the cpu-task scenario, each looping on one keep-alive connection. */
export interface FibClients {
  /** Stop the loops (abandoning requests in flight) and report what they got. */
  stop(): Promise<{ responses: number; errors: number }>;
}

export function startFibClients(port: number, host: string, path: string, clients: number, timeoutMs: number): FibClients {
  const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  let running = true;
  let responses = 0;
  let errors = 0;
  const open = new Set<Socket>();
  const loop = async () => {
    while (running) {
      let sock: Socket | undefined;
      try {
        sock = await connectWithin(port, host, timeoutMs);
        open.add(sock);
        while (running) {
          const status = await askOnce(sock, request, timeoutMs);
          if (!running) break;
          if (status === 200) responses++;
          else errors++;
        }
      } catch {
        if (running) errors++;
        await new Promise((r) => setTimeout(r, 100)); // a refused or broken connection: do not spin
      } finally {
        if (sock) { open.delete(sock); sock.destroy(); }
      }
    }
  };
  const loops = Array.from({ length: clients }, loop);
  return {
    stop: async () => {
      running = false;
      for (const s of open) s.destroy();
      await Promise.all(loops);
      return { responses, errors };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Counting responses in a byte stream
// ---------------------------------------------------------------------------------------------

/** The bytes are not the HTTP/1.1 responses the burst client expects. */
export class ProtocolError extends Error {}

const EMPTY = Buffer.alloc(0);
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_200 = Buffer.from('HTTP/1.1 200 ', 'latin1');
/** A response head longer than this is not what a static server sends: stop rather than buffer forever. */
const MAX_HEAD = 64 * 1024;

/** Where a 200 response's framing lies, relative to its first byte: learnt from one, checked on the next. */
interface Shape {
  headLength: number;
  totalLength: number;
  /** Offset and bytes of its `\r\nContent-Length: 540\r\n` line. */
  lengthLineAt: number;
  lengthLine: Buffer;
}

/**
 * Counts complete HTTP/1.1 responses in a byte stream fed chunk by chunk, framed by Content-Length.
 * Owned by one connection of the burst client.
 *
 * Every response to GET /bench.html has the same shape: the same head length (Date, ETag and
 * Last-Modified are fixed-width) and the same Content-Length. So after one full parse the counter
 * recognises the next response with a few native comparisons — the status line starts
 * `HTTP/1.1 200 `, the first CRLFCRLF (found with Buffer.indexOf) ends the head where it ended
 * before, and the Content-Length line is the same bytes at the same place. Anything else is parsed
 * in full, so a 404, a different length or a malformed head is still seen. The client shares its
 * core with nothing, but a client that spent it building strings would measure itself.
 */
export class ResponseCounter {
  /** Complete responses with status 200 so far. */
  ok = 0;
  /** Complete responses with any other status so far. */
  notOk = 0;
  /** Bytes of a response not complete yet. */
  private pending: Buffer = EMPTY;
  private shape: Shape | null = null;

  /** Feed the next bytes; returns how many responses they completed. Throws ProtocolError. */
  push(chunk: Buffer): number {
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    let n = 0;
    while (off < buf.length) {
      const length = this.sameShape(buf, off) ?? this.parse(buf, off);
      if (length === null) break; // incomplete: wait for more bytes
      off += length;
      n++;
    }
    // Copy the leftover: a view would keep the whole chunk alive.
    this.pending = off === buf.length ? EMPTY : Buffer.from(buf.subarray(off));
    return n;
  }

  /** The length of the response at `off` if it is complete and has the remembered shape; else null. */
  private sameShape(buf: Buffer, off: number): number | null {
    const s = this.shape;
    if (s === null || buf.length - off < s.totalLength) return null;
    if (buf.compare(STATUS_200, 0, STATUS_200.length, off, off + STATUS_200.length) !== 0) return null;
    if (buf.indexOf(CRLFCRLF, off) !== off + s.headLength - 4) return null;
    const at = off + s.lengthLineAt;
    if (buf.compare(s.lengthLine, 0, s.lengthLine.length, at, at + s.lengthLine.length) !== 0) return null;
    this.ok++;
    return s.totalLength;
  }

  /** Parse the response at `off` in full: its length if complete, null if more bytes are needed. */
  private parse(buf: Buffer, off: number): number | null {
    const end = buf.indexOf(CRLFCRLF, off);
    if (end === -1) {
      if (buf.length - off > MAX_HEAD) throw new ProtocolError(`no end of a response head within ${MAX_HEAD} bytes`);
      return null;
    }
    const head = buf.toString('latin1', off, end + 2); // keep the last CRLF: every header line ends with one
    const status = /^HTTP\/1\.[01] (\d{3})[ \r]/.exec(head);
    if (!status) throw new ProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(head.slice(0, 40))}`);
    if (/\r\ntransfer-encoding:/i.test(head)) throw new ProtocolError('a chunked response: the burst client frames by Content-Length only');
    const code = Number(status[1]);
    const length = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i.exec(head);
    const noBody = code === 204 || code === 304;
    if (!length && !noBody) throw new ProtocolError(`a ${code} response without Content-Length cannot be framed on a kept-alive connection`);
    const headLength = end + 4 - off;
    const totalLength = headLength + (noBody ? 0 : Number(length![1]));
    if (buf.length - off < totalLength) return null;
    if (code === 200) {
      this.ok++;
      if (length) {
        this.shape = {
          headLength,
          totalLength,
          lengthLineAt: length.index,
          lengthLine: Buffer.from(length[0], 'latin1'),
        };
      }
    } else {
      this.notOk++;
    }
    return totalLength;
  }
}

// ---------------------------------------------------------------------------------------------
// The burst client
// ---------------------------------------------------------------------------------------------

/** `depth` copies of one keep-alive GET, concatenated: the bytes one burst writes. Pure. */
export function burstRequests(path: string, host: string, depth: number): Buffer {
  if (!(Number.isInteger(depth) && depth >= 1)) throw new RangeError(`depth must be a positive integer, got ${depth}`);
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`.repeat(depth), 'latin1');
}

export interface BurstLoad {
  port: number;
  host: string;
  path: string;
  connections: number;
  /** Requests per burst: 16 in the bench's burst scenario. */
  depth: number;
  durationS: number;
}

/** One open connection of the burst client, as the timeout check sees it. */
interface BurstConnection {
  /** When the burst still unanswered was written (performance.now()), or null if none is. */
  waitingSince(): number | null;
  timeOut(): void;
  destroy(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Pipelining in bursts: `connections` clients each write `depth` requests in ONE
 * write, read until all `depth` responses have arrived, and only then write the next burst. The
 * server thus finds `depth` requests in one read, and can answer them all with one write.
 *
 * This is the load shape of wrk's pipeline script (pipeline.lua concatenates N requests into one
 * and wrk sends it again once all N responses are in) and of TechEmpower's plaintext test, which
 * uses it with 16 requests. autocannon's `pipelining: 16` is different: it keeps 16 requests in
 * flight and sends a new one each time a response arrives, so after the first round the server
 * mostly reads one or two requests at a time.
 *
 * Responses are counted while the run lasts; bursts in flight at the end are abandoned, as
 * autocannon does. Latency is per burst: from its write to its 16th response. A burst unanswered
 * after REQUEST_TIMEOUT_S counts as a timeout, and its connection is replaced.
 */
export async function runBurst(load: BurstLoad): Promise<LoadResult> {
  const burst = burstRequests(load.path, load.host, load.depth); // built once, written by every connection
  const latencies = new LatencyRecorder();
  const stats = { responses: 0, errors: 0, timeouts: 0, non2xx: 0 };
  const open = new Set<BurstConnection>();
  let over = false;

  /** One connection, from connect to close; resolves true if it ended because the run did. */
  const connection = () => new Promise<boolean>((resolve) => {
    const sock: Socket = connect({ port: load.port, host: load.host });
    const counter = new ResponseCounter();
    let outstanding = 0;
    let sentAt = 0;
    let failed = false;

    const fail = (timeout: boolean) => {
      if (!failed && !over) {
        stats.errors++;
        if (timeout) stats.timeouts++;
      }
      failed = true;
      sock.destroy();
    };
    const send = () => {
      outstanding = load.depth;
      sentAt = performance.now();
      sock.write(burst);
    };
    const self: BurstConnection = {
      waitingSince: () => (outstanding > 0 ? sentAt : null),
      timeOut: () => fail(true),
      destroy: () => sock.destroy(),
    };
    open.add(self);

    sock.setNoDelay(true);
    sock.on('connect', send);
    sock.on('data', (chunk: Buffer) => {
      if (over || failed) return;
      const notOkBefore = counter.notOk;
      let n: number;
      try {
        n = counter.push(chunk);
      } catch {
        fail(false); // not HTTP, or not framed: this connection's count can no longer be trusted
        return;
      }
      stats.responses += n;
      stats.non2xx += counter.notOk - notOkBefore;
      outstanding -= n;
      if (outstanding < 0) { fail(false); return; } // more answers than questions
      if (outstanding === 0) {
        latencies.record(performance.now() - sentAt);
        send();
      }
    });
    sock.on('error', () => fail(false));
    sock.on('close', () => {
      open.delete(self);
      if (!failed && !over) stats.errors++; // the server closed a connection it was asked to keep alive
      resolve(over);
    });
  });

  const loop = async () => {
    while (!over) {
      const ended = await connection();
      if (!ended && !over) await sleep(100); // a refused or broken connection: do not spin
    }
  };

  const started = performance.now();
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const c of open) {
      const since = c.waitingSince();
      if (since !== null && now - since > REQUEST_TIMEOUT_S * 1000) c.timeOut();
    }
  }, 250);
  const loops = Array.from({ length: load.connections }, loop);
  await sleep(load.durationS * 1000);
  over = true;
  const durationS = (performance.now() - started) / 1000;
  clearInterval(watchdog);
  for (const c of open) c.destroy();
  await Promise.all(loops);
  return { ...stats, durationS, latency: latencies.summary() };
}
