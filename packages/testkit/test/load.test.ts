/**
 * The raw load clients and the /proc readers behind the bench: the response counter of the burst
 * client (split at every byte), the burst client itself against small node:net servers in this
 * process that check the load shape from the server's side, and the parsers of /proc text.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError, ResponseCounter, burstRequests, runBurst } from '../src/load.js';
import { parseOpenFilesLimit, parsePortRange, parseProcIo } from '../src/proc.js';

const BURST_DEPTH = 16;

/** A response as 06 sends it for /bench.html: Date and Last-Modified are fixed-width. */
function response(status = '200 OK', body = 'x'.repeat(540), date = 'Sun, 22 Nov 2026 22:18:03 GMT'): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status}\r\nServer: course\r\nDate: ${date}\r\nContent-Type: text/html; charset=utf-8\r\n` +
    `Content-Length: ${body.length}\r\n\r\n${body}`,
    'latin1',
  );
}

/** Feed `stream` to a fresh counter in two pieces split at `at`; the counter's totals. */
function countSplit(stream: Buffer, at: number): { ok: number; notOk: number; returned: number } {
  const c = new ResponseCounter();
  const returned = c.push(stream.subarray(0, at)) + c.push(stream.subarray(at));
  return { ok: c.ok, notOk: c.notOk, returned };
}
describe('/proc text', () => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             63704                63704                processes ',
    'Max open files            20000                40000                files     ',
  ].join('\n');

  it('reads the soft open-files limit and the local port range', () => {
    expect(parseOpenFilesLimit(limits)).toBe(20000);
    expect(parseOpenFilesLimit('Max open files            unlimited            unlimited            files')).toBe(Infinity);
    expect(parseOpenFilesLimit('nothing here')).toBeNull();
    expect(parsePortRange('32768\t60999\n')).toBe(28232);
    expect(parsePortRange('garbage')).toBeNull();
  });

  it('reads the read-like and write-like system call counts of /proc/PID/io', () => {
    const io = 'rchar: 123\nwchar: 456\nsyscr: 179588\nsyscw: 179591\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n';
    expect(parseProcIo(io)).toEqual({ reads: 179588, writes: 179591 });
    expect(parseProcIo('rchar: 1\n')).toBeNull();
  });
});

describe('ResponseCounter', () => {
  it('counts responses split at every possible byte, learning the shape from the first', () => {
    const stream = Buffer.concat([response(), response(), response()]);
    for (let at = 0; at <= stream.length; at++) {
      expect(countSplit(stream, at), `split at ${at}`).toEqual({ ok: 3, notOk: 0, returned: 3 });
    }
  });

  it('sees a 404 among 200s, wherever the chunks end', () => {
    const stream = Buffer.concat([response(), response('404 Not Found', '404 Not Found\n'), response()]);
    for (let at = 0; at <= stream.length; at += 7) {
      expect(countSplit(stream, at), `split at ${at}`).toEqual({ ok: 2, notOk: 1, returned: 3 });
    }
  });

  it('does not trust the shape when the length changes but the head does not', () => {
    // Same head length, same status, a different Content-Length (540 → 541): the shortcut must not frame it.
    const stream = Buffer.concat([response(), response('200 OK', 'y'.repeat(541)), response()]);
    const c = new ResponseCounter();
    expect(c.push(stream)).toBe(3);
    expect(c.ok).toBe(3);
    // And the responses are consumed exactly: one more byte is pending, not a miscounted response.
    expect(c.push(Buffer.from('H'))).toBe(0);
  });

  it('frames a 304 without a body and counts it as not ok', () => {
    const c = new ResponseCounter();
    expect(c.push(Buffer.concat([Buffer.from('HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n'), response()]))).toBe(2);
    expect([c.ok, c.notOk]).toEqual([1, 1]);
  });

  it('throws a ProtocolError on bytes it cannot frame', () => {
    expect(() => new ResponseCounter().push(Buffer.from('hello world\r\n\r\n'))).toThrow(ProtocolError);
    expect(() => new ResponseCounter().push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'))).toThrow(/chunked/);
    expect(() => new ResponseCounter().push(Buffer.from('HTTP/1.1 200 OK\r\nServer: x\r\n\r\n'))).toThrow(/without Content-Length/);
    expect(() => new ResponseCounter().push(Buffer.alloc(70 * 1024, 'a'))).toThrow(/no end of a response head/);
  });
});

describe('burstRequests', () => {
  it('is depth copies of one keep-alive GET in one buffer', () => {
    const one = 'GET /bench.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    expect(burstRequests('/bench.html', '127.0.0.1', 16).toString('latin1')).toBe(one.repeat(16));
    expect(() => burstRequests('/', 'h', 0)).toThrow(RangeError);
  });
});

/**
 * A server that checks the burst shape: it answers only once it holds a whole burst, in two
 * halves a few milliseconds apart, and notes if a client sent anything before the second half —
 * that is, before it had all its answers.
 */
function burstChecker(answer: Buffer): { server: Server; answered: () => number; overSent: () => boolean } {
  let answered = 0;
  let overSent = false;
  const half = Buffer.concat(Array.from({ length: BURST_DEPTH / 2 }, () => answer));
  const server = createServer((sock: Socket) => {
    let pending = 0;
    let answering = false;
    let text = '';
    sock.on('error', () => { /* the client destroys its sockets at the end */ });
    sock.on('data', (d: Buffer) => {
      if (answering) overSent = true;
      text += d.toString('latin1');
      let end: number;
      while ((end = text.indexOf('\r\n\r\n')) !== -1) { pending++; text = text.slice(end + 4); }
      if (pending > BURST_DEPTH) overSent = true;
      if (pending === BURST_DEPTH) {
        pending = 0;
        answering = true;
        sock.write(half);
        answered += BURST_DEPTH / 2;
        setTimeout(() => {
          answering = false;
          if (sock.destroyed) return;
          sock.write(half);
          answered += BURST_DEPTH / 2;
        }, 5);
      }
    });
  });
  return { server, answered: () => answered, overSent: () => overSent };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

describe('runBurst', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => { if (server) server.close(() => r()); else r(); }));

  it('writes 16 requests, waits for all 16 answers, then writes 16 more', async () => {
    const check = burstChecker(response());
    server = check.server;
    const port = await listen(server);
    const r = await runBurst({ port, host: '127.0.0.1', path: '/bench.html', connections: 3, depth: BURST_DEPTH, durationS: 0.4 });
    expect(check.overSent()).toBe(false);
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(r.responses).toBeGreaterThanOrEqual(2 * BURST_DEPTH); // more than one round trip happened
    expect(r.responses).toBeLessThanOrEqual(check.answered());
    expect(r.latency.p50).not.toBeNull();
  });

  it('counts answers that are not 200 as non-2xx', async () => {
    const check = burstChecker(response('404 Not Found', 'no\n'));
    server = check.server;
    const port = await listen(server);
    const r = await runBurst({ port, host: '127.0.0.1', path: '/missing', connections: 1, depth: BURST_DEPTH, durationS: 0.3 });
    expect(r.responses).toBeGreaterThan(0);
    expect(r.non2xx).toBe(r.responses);
  });

  it('counts a server that answers with something other than HTTP as errors, not responses', async () => {
    server = createServer((sock) => {
      sock.on('error', () => {});
      sock.on('data', () => sock.write('SSH-2.0-OpenSSH\r\n\r\n'));
    });
    const port = await listen(server);
    const r = await runBurst({ port, host: '127.0.0.1', path: '/', connections: 2, depth: BURST_DEPTH, durationS: 0.3 });
    expect(r.responses).toBe(0);
    expect(r.errors).toBeGreaterThan(0);
  });
});

const usage = (serverCpuSeconds: number) => ({ serverCpuSeconds, clientCpuSeconds: 1, peakRssKb: 60000 });
const result = (responses: number, fields: Partial<{ errors: number; non2xx: number }> = {}) => ({
  responses, errors: 0, timeouts: 0, non2xx: 0, durationS: 5, latency: { p50: 0.5, p99: 2 }, ...fields,
});
