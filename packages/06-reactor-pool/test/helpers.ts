/** Small helpers shared by this package's tests. */
import type { Socket } from 'node:net';
import { exchange, openSocket, parseResponses, type ParsedResponse } from '@course/testkit';

export const PKG = '06-reactor-pool';

/** The shape /api/stats answers (see src/stats.ts). */
export interface Stats {
  reactors: Array<{
    index: number; connections: number; accepted: number; requests: number; bytesIn: number; bytesOut: number; tasks: number;
    refused: number; timedOut: number; websockets: number; messagesIn: number; messagesOut: number; dropped: number; slowClosed: number;
    listenerWakeups: number; emptyWakeups: number; acceptEagain: number; refusedConnections: number;
  }>;
  main: { listenerWakeups: number; emptyWakeups: number; acceptEagain: number; refusedConnections: number };
  reloads: number;
  workers: { threads: number; queued: number; running: number; done: number; failed: number; restarts: number; recycled: number; refused: number; timedOut: number };
  totals: {
    connections: number; accepted: number; requests: number; bytesIn: number; bytesOut: number; refusedConnections: number;
    websockets: number; messagesIn: number; messagesOut: number; dropped: number; slowClosed: number;
  };
}

/**
 * One keep-alive HTTP connection, asked one request at a time. Lets a test hold a connection
 * open (it counts as open on its reactor) and keep using it.
 */
export class KeepAlive {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;

  private constructor(readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    sock.on('error', () => { /* a close follows */ });
  }

  static async open(port: number, localAddress?: string): Promise<KeepAlive> {
    if (localAddress === undefined) return new KeepAlive(await openSocket(port));
    const { connect } = await import('node:net');
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', localAddress });
      s.once('connect', () => resolve(new KeepAlive(s)));
      s.once('error', reject);
    });
  }

  async get(path: string, timeoutMs = 20000): Promise<ParsedResponse> {
    this.sock.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { responses, rest } = parseResponses(this.buf);
      if (responses.length > 0) {
        this.buf = Buffer.from(rest);
        return responses[0]!;
      }
      if (Date.now() > deadline || this.sock.destroyed) throw new Error(`no answer to GET ${path}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100);
      });
    }
  }

  async stats(): Promise<Stats> {
    const res = await this.get('/api/stats');
    if (res.status !== 200) throw new Error(`/api/stats answered ${res.status}`);
    return JSON.parse(res.body.toString('utf8')) as Stats;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Read lines from a socket, one at a time. */
export class LineReader {
  private buf = '';
  private lines: string[] = [];
  private waiter: (() => void) | null = null;
  closed = false;

  constructor(readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      const parts = this.buf.split('\n');
      this.buf = parts.pop()!;
      this.lines.push(...parts);
      this.waiter?.();
    });
    sock.on('close', () => { this.closed = true; this.waiter?.(); });
    sock.on('error', () => { /* close follows */ });
  }

  async next(timeoutMs = 20000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no line in time');
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 100);
      });
    }
    return this.lines.shift()!;
  }

  /** Send one line and read the next line back. */
  async ask(line: string): Promise<string> {
    this.sock.write(line + '\n');
    return this.next();
  }
}

/**
 * For `--max-connections 2`: hold two keep-alive connections (each served once, so both are open
 * on their reactors) and send a request on a third. Returns the two held and the third's answers.
 */
export async function pastTwoConnections(port: number): Promise<{ held: [KeepAlive, KeepAlive]; over: ParsedResponse[] }> {
  const a = await KeepAlive.open(port);
  const b = await KeepAlive.open(port);
  for (const k of [a, b]) {
    const res = await k.get('/bench.html');
    if (res.status !== 200) throw new Error(`a held connection was answered ${res.status}`);
  }
  const over = await exchange(port, 'GET /bench.html HTTP/1.1\r\nHost: test\r\n\r\n', { responses: 1, timeoutMs: 20_000 });
  return { held: [a, b], over: over.responses };
}
