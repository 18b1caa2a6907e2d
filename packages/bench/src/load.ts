/**
 * The load generators. All run inside the bench process (pinned to the client core), on its main
 * thread, and only ever target 127.0.0.1:
 *
 * - `runAutocannon`: keep-alive and pipelined load (autocannon's programmatic API).
 * - `runChurn`: a new connection per request — autocannon cannot do that well, so a small node:net
 *   client connects, asks, reads to close, and repeats.
 * - `holdStalledRequest`, `openIdleConnections`, `startFibClients`, `probe`: the raw sockets the
 *   slow-client, idle-1k and cpu-task scenarios need.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { parseResponses } from '@course/testkit';
import { LatencyRecorder } from './stats.js';

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
  /** Distinct connections that got at least one response (autocannon only). */
  connectionsServed?: number;
}

/**
 * A request that does not complete within this many seconds counts as a timeout, and autocannon
 * replaces the connection. Short, so that a stuck server shows as timeouts within a 5-second run.
 */
export const REQUEST_TIMEOUT_S = 2;

export interface AutocannonLoad {
  url: string;
  connections: number;
  pipelining: number;
  durationS: number;
}

/** Run autocannon once; latencies are recorded here at full resolution, not from autocannon's whole-millisecond histogram. */
export async function runAutocannon(load: AutocannonLoad): Promise<LoadResult> {
  const latencies = new LatencyRecorder();
  const served = new Set<unknown>();
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url: load.url, connections: load.connections, pipelining: load.pipelining, duration: load.durationS, timeout: REQUEST_TIMEOUT_S },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (client: unknown, _status: number, _bytes: number, ms: number) => {
      latencies.record(ms);
      served.add(client);
    });
  });
  const measured = (performance.now() - started) / 1000;
  return {
    responses: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    durationS: result.duration > 0 ? result.duration : measured,
    latency: latencies.summary(),
    connectionsServed: served.size,
  };
}

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

/** One keep-alive GET on a fresh connection: 'ok' for a 200, else what went wrong. The socket is closed after. */
export async function probe(port: number, host: string, path: string, timeoutMs: number): Promise<'ok' | 'timed out' | 'failed'> {
  let sock: Socket | undefined;
  try {
    sock = await connectWithin(port, host, timeoutMs);
    const status = await askOnce(sock, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, timeoutMs);
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
