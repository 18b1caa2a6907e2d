/**
 * The targets script's own parts: its flags, the fd and port checks, the response counter of the
 * burst client, the burst client itself (against small node:net servers in this process, which
 * check the load shape from the server's side), the verdicts and the tables.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Chalk } from 'chalk';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../src/options.js';
import type { Machine } from '../src/types.js';
import {
  BURST_DEPTH, FD_HEADROOM, ProtocolError, ResponseCounter, TARGETS,
  burstRequests, comparisonLine, freshRequestVerdict, idleCapacityProblem, idleMemoryVerdict, judge, measuredRun, parseOpenFilesLimit,
  parsePortRange, parseProcIo, parseTargetsOptions, perCall, perConnectionKb, ratioVerdict, renderMarkdown, renderTerminal, runBurst,
  runsTable, unstartedRun, verdictTable,
  type IdleRun, type LoadRun, type TargetsReport,
} from '../src/targets.js';

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

describe('parseTargetsOptions', () => {
  const parse = (...argv: string[]) => parseTargetsOptions(argv, { out: '/tmp/t.json' });

  it('defaults to 5 s and the given --out', () => {
    expect(parse()).toEqual({ durationS: 5, out: '/tmp/t.json', help: false });
  });

  it('reads --duration and --out with a space or an equals sign, skipping pnpm\'s --', () => {
    expect(parse('--', '--duration', '2.5', '--out=x.json')).toEqual({ durationS: 2.5, out: 'x.json', help: false });
    expect(parse('-h').help).toBe(true);
  });

  it('rejects unknown flags, missing values and durations out of range', () => {
    expect(() => parse('--models', '06')).toThrow(new UsageError('unknown flag --models'));
    expect(() => parse('--duration')).toThrow(/--duration needs a value/);
    expect(() => parse('--duration', '0.1')).toThrow(/from 0.5 to 600, got "0.1"/);
    expect(() => parse('--duration', '5s')).toThrow(UsageError);
    expect(() => parse('five')).toThrow(/unexpected argument "five"/);
  });
});

describe('can this machine hold the idle connections?', () => {
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

  it('asks for ulimit -n when the fd limit is too low, and for ports when the range is too small', () => {
    expect(idleCapacityProblem(10000, 20000, 28232)).toBeNull();
    expect(idleCapacityProblem(10000, 10000 + FD_HEADROOM, 28232)).toBeNull();
    expect(idleCapacityProblem(10000, 1024, 28232)).toMatch(/the limit here is 1,024: raise it first \(ulimit -n 20000\)/);
    expect(idleCapacityProblem(10000, 20000, 5000)).toMatch(/offers 5,000/);
    expect(idleCapacityProblem(10000, null, null)).toBeNull(); // not readable: the connections will tell
  });
});

describe('parseProcIo', () => {
  it('reads the read-like and write-like system call counts of /proc/PID/io', () => {
    const io = 'rchar: 123\nwchar: 456\nsyscr: 179588\nsyscw: 179591\nread_bytes: 0\nwrite_bytes: 0\ncancelled_write_bytes: 0\n';
    expect(parseProcIo(io)).toEqual({ reads: 179588, writes: 179591 });
    expect(parseProcIo('rchar: 1\n')).toBeNull();
  });

  it('perCall divides responses by calls, with no figure when nothing was counted', () => {
    expect(perCall(160, 10)).toBe(16);
    expect(perCall(160, 0)).toBeNull();
    expect(perCall(160, null)).toBeNull();
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

describe('measuredRun', () => {
  it('derives req/s and req per server-CPU-second, and counts non-2xx as errors', () => {
    const r = measuredRun('keep-alive', 'node-http', [], 50, 1, result(300000, { non2xx: 2 }), usage(4), null, null);
    expect(r).toMatchObject({ status: 'ok', requestsPerSec: 60000, requestsPerServerCpuSec: 75000, errors: 2 });
  });

  it('marks a server that died, or answered nothing, as collapsed', () => {
    expect(measuredRun('burst-16', '06-reactor-pool', [], 10, 16, result(10), usage(1), null, 'server exited (SIGSEGV)'))
      .toMatchObject({ status: 'collapsed', reason: 'server exited (SIGSEGV) during the run' });
    expect(measuredRun('burst-16', '06-reactor-pool', [], 10, 16, result(0), usage(1), null, null).status).toBe('collapsed');
  });
});

describe('verdicts', () => {
  const base = measuredRun('keep-alive', 'node-http', [], 50, 1, result(300000), usage(5), null, null); // 60,000 req/CPU-s
  const run06 = (responses: number, extra: Partial<{ errors: number }> = {}) =>
    measuredRun('keep-alive', '06-reactor-pool', [], 50, 1, result(responses, extra), usage(5), null, null);

  it('passes a ratio at or above the threshold and fails one below', () => {
    expect(ratioVerdict('t', base, run06(450000), 1.5)).toMatchObject({ verdict: 'PASS', value: 1.5, measured: '×1.50 (90,000 vs 60,000 req/CPU-s)', required: '≥ ×1.50' });
    expect(ratioVerdict('t', base, run06(440000), 1.5)).toMatchObject({ verdict: 'FAIL' });
  });

  it('fails 06 for errors or a collapse, but leaves the ratio unmeasured when the baseline or the start failed', () => {
    expect(ratioVerdict('t', base, run06(900000, { errors: 3 }), 1.5)).toMatchObject({ verdict: 'FAIL', why: '06 had 3 errors' });
    const notStarted = unstartedRun('keep-alive', '06-reactor-pool', [], 50, 1, 'not built: no dist/main.js');
    expect(ratioVerdict('t', base, notStarted, 1.5).verdict).toBe('UNMEASURED');
    const badBase = measuredRun('keep-alive', 'node-http', [], 50, 1, result(300000, { errors: 9 }), usage(5), null, null);
    expect(ratioVerdict('t', badBase, run06(900000), 1.5)).toMatchObject({ verdict: 'UNMEASURED', why: 'node-http had 9 errors' });
  });

  const idle = (fields: Partial<IdleRun> = {}): IdleRun => ({
    args: [], status: 'ok', target: TARGETS.idleConnections, held: TARGETS.idleConnections, failures: 0, closedByServer: 0, openS: 2,
    rssBeforeKb: 80000, rssAfterKb: 100000, pssBeforeKb: 50000, pssAfterKb: 69000,
    rssPerConnectionKb: 2, pssPerConnectionKb: 1.9, fresh: { outcome: 'ok', ms: 1.5 }, ...fields,
  });

  it('judges idle memory per connection only when every connection was held', () => {
    expect(idleMemoryVerdict(idle())).toMatchObject({ verdict: 'PASS', measured: '2.0 KiB (PSS 1.9), 10,000 held' });
    expect(idleMemoryVerdict(idle({ rssPerConnectionKb: 4.5 })).verdict).toBe('FAIL');
    expect(idleMemoryVerdict(idle({ held: 9000, failures: 1000, firstError: 'ECONNRESET' })))
      .toMatchObject({ verdict: 'FAIL', why: 'held 9,000 of 10,000 (ECONNRESET)' });
    expect(idleMemoryVerdict(idle({ closedByServer: 12 })).verdict).toBe('FAIL');
    expect(idleMemoryVerdict(null).verdict).toBe('UNMEASURED');
  });

  it('wants the fresh request answered, within a second', () => {
    expect(freshRequestVerdict(idle())).toMatchObject({ verdict: 'PASS', measured: 'answered in 1.50 ms' });
    expect(freshRequestVerdict(idle({ fresh: { outcome: 'ok', ms: 1800 } })).verdict).toBe('FAIL');
    expect(freshRequestVerdict(idle({ fresh: { outcome: 'timed out', ms: 5000 } }))).toMatchObject({ verdict: 'FAIL', measured: 'timed out after 5,000 ms' });
  });

  it('perConnectionKb divides growth by connections held, never below zero', () => {
    expect(perConnectionKb(1000, 21000, 10000)).toBe(2);
    expect(perConnectionKb(1000, 900, 10)).toBe(0);
    expect(perConnectionKb(1000, 2000, 0)).toBeNull();
  });

  it('judge gives the four targets in the order of the issue', () => {
    const burstBase = measuredRun('burst-16', 'node-http', [], 10, 16, result(300000), usage(5), null, null);
    const burst06 = measuredRun('burst-16', '06-reactor-pool', [], 10, 16, result(600000), usage(5), null, null);
    const v = judge([base, run06(450000), burstBase, burst06], idle());
    expect(v.map((x) => x.verdict)).toEqual(['PASS', 'FAIL', 'PASS', 'PASS']); // ×2 pipelined < ×3
    expect(v[1]!.target).toMatch(/^pipelined 16 deep/);
  });
});

describe('tables', () => {
  const machine: Machine = { cores: 2, cpuModel: 'Test CPU', node: 'v20.0.0', platform: 'linux x64', pinning: { server: 0, client: 1, tool: 'taskset' } };
  const runs: LoadRun[] = [
    measuredRun('keep-alive', 'node-http', [], 50, 1, result(300000), usage(5), { reads: 20000, writes: 300000 }, null),
    unstartedRun('keep-alive', '06-reactor-pool', ['--reactors', '1'], 50, 1, 'not built: no dist/main.js'),
  ];
  const report: TargetsReport = {
    date: '2026-01-01T00:00:00.000Z', command: 'pnpm --filter bench exec node dist/targets-cli.js', machine,
    settings: { durationS: 5, warmupS: 0.5, benchFile: '/bench.html', benchFileBytes: 540, keepaliveConnections: 50, burst: { connections: 10, depth: 16 }, idleConnections: 10000 },
    runs, idle: null, verdicts: judge(runs, null),
  };

  it('lists every run, with dashes where nothing was measured', () => {
    const t = runsTable(runs);
    expect(t.rows[0]).toEqual(['keep-alive', 'node-http', '50 × 1', '300,000', '60,000', '5.00', '60,000', '15.0', '1.0', '0.50', '2.00', '0', '1.00']);
    expect(t.rows[1]!.slice(3, 9)).toEqual(['failed', '—', '—', '—', '—', '—']);
  });

  it('shows autocannon\'s pipelined ratio as a comparison, never as a verdict', () => {
    expect(comparisonLine(runs)).toBeNull();
    const shaped = [
      measuredRun('autocannon-16', 'node-http', [], 10, 16, result(300000), usage(5), null, null),
      measuredRun('autocannon-16', '06-reactor-pool', [], 10, 16, result(720000), usage(5), null, null),
    ];
    expect(comparisonLine(shaped)).toMatch(/not a verdict: .* the same ratio is ×2\.40 \(144,000 vs 60,000 req\/CPU-s\)$/);
    expect(judge(shaped, null).map((v) => v.verdict)).toEqual(['UNMEASURED', 'UNMEASURED', 'UNMEASURED', 'UNMEASURED']);
  });

  it('writes the same verdict cells to the terminal and to Markdown', () => {
    const cells = verdictTable(report.verdicts).rows;
    expect(cells.map((r) => r[3])).toEqual(['UNMEASURED', 'UNMEASURED', 'UNMEASURED', 'UNMEASURED']);
    const md = renderMarkdown(report);
    expect(md).toContain('| target | measured | required | verdict |');
    expect(md).toContain(`| ${cells[0]!.join(' | ')} |`);
    expect(md).toContain('server pinned to core 0, load generator (this process) to core 1 (taskset)');
    expect(md).toContain('- keep-alive 06-reactor-pool: failed — not built: no dist/main.js');
    const plain = renderTerminal(report, new Chalk({ level: 0 }));
    expect(plain).toMatch(/^keep-alive: req per server-CPU-s vs node:http\s+—\s+≥ ×1\.50\s+UNMEASURED/m);
  });
});
