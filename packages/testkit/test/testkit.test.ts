import { describe, expect, it } from 'vitest';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import {
  exchange, fdCount, isRunning, makeTempSite, openStalled, parseResponses, processTree, rssKb, sampleDuring, slowGet, startCommand,
  threadCount, threadState, treeCpuNs, treeCpuSplit, treeUsage, until,
} from '../src/index.js';

describe('parseResponses', () => {
  it('splits pipelined responses, honouring HEAD and 304 (no body)', () => {
    const raw = Buffer.from(
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' +
        'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' + // HEAD: no body follows
        'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n' +
        'HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\nno!' +
        'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart',
      'latin1',
    );
    const { responses, rest } = parseResponses(raw, [false, true]);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 304, 404]);
    expect(responses[0]!.body.toString()).toBe('hello');
    expect(responses[1]!.body.length).toBe(0);
    expect(responses[3]!.headers['set-cookie']).toBe('a, b');
    expect(rest.toString()).toBe('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\npart'); // incomplete: left over
  });

  it('rejects something that is not HTTP', () => {
    expect(() => parseResponses(Buffer.from('SSH-2.0-x\r\n\r\n'))).toThrow(/bad status line/);
  });
});

describe('exchange', () => {
  it('collects responses until the server closes', async () => {
    const server = createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const r = await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    server.close();
    expect(r.closed).toBe(true);
    expect(r.responses).toHaveLength(1);
    expect(r.responses[0]!.body.toString()).toBe('ok');
  });
});

describe('startCommand', () => {
  it('resolves with the address from the banner line', async () => {
    // The handler first: the banner is what the test waits for before it sends SIGTERM.
    const script = "process.on('SIGTERM', () => process.exit(0)); setInterval(() => {}, 1000); process.stdout.write('starting\\nlistening on http://127.0.0.1:4321 demo\\n');";
    const s = await startCommand([process.execPath, '-e', script]);
    expect(s.port).toBe(4321);
    expect(s.url).toBe('http://127.0.0.1:4321');
    expect(s.banner).toBe('listening on http://127.0.0.1:4321 demo');
    expect(await s.stop()).toEqual({ code: 0, signal: null });
  });

  it('rejects with the output when the process exits before its banner', async () => {
    const err = await startCommand([process.execPath, '-e', "console.error('nope: bad flag'); process.exit(2)"]).catch((e: Error) => e.message);
    expect(err).toMatch(/exited \(code 2/);
    expect(err).toContain('nope: bad flag');
  });
});

describe('/proc helpers', () => {
  it('see this process: threads, memory, fds, and itself in its tree', () => {
    expect(threadCount(process.pid)).toBeGreaterThan(1); // node always has helper threads
    expect(rssKb(process.pid)).toBeGreaterThan(10_000);
    expect(fdCount(process.pid)).toBeGreaterThan(2);
    expect(processTree(process.pid)[0]).toBe(process.pid);
    const u = treeUsage(process.pid);
    expect(u.cpuSeconds).toBeGreaterThan(0);
    expect(u.processes).toBeGreaterThanOrEqual(1);
  });

  it('treeCpuNs counts CPU finer than a clock tick, and agrees with the tick count', () => {
    const t0 = treeCpuNs(process.pid);
    const ticks0 = treeUsage(process.pid).cpuSeconds;
    const until = performance.now() + 100;
    while (performance.now() < until) { /* 100 ms of this thread's CPU */ }
    const spent = treeCpuNs(process.pid) - t0;
    const ticks = treeUsage(process.pid).cpuSeconds - ticks0;
    expect(spent).toBeGreaterThanOrEqual(90e6);
    expect(spent % 10e6).not.toBe(0); // nanoseconds, not whole ticks
    // The same work in /proc/PID/stat's ticks: within a few 10 ms ticks.
    expect(Math.abs(spent / 1e9 - ticks)).toBeLessThan(0.04);
  });

  it('treeCpuSplit tells user time from kernel time', () => {
    const spin = (f: () => void) => {
      const s0 = treeCpuSplit(process.pid);
      const until = performance.now() + 200;
      while (performance.now() < until) f();
      const s1 = treeCpuSplit(process.pid);
      return { user: s1.userS - s0.userS, system: s1.systemS - s0.systemS };
    };
    const user = spin(() => {}); // a JS loop: user time (performance.now is a vDSO read)
    expect(user.user).toBeGreaterThan(user.system);
    const buf = Buffer.alloc(64 * 1024);
    const zeroFd = openSync('/dev/zero', 'r');
    const kernel = spin(() => readSync(zeroFd, buf, 0, buf.length, null)); // syscalls that copy 64 KiB each: kernel time
    closeSync(zeroFd);
    expect(kernel.system).toBeGreaterThan(0);
    expect(kernel.system / (kernel.user + kernel.system)).toBeGreaterThan(user.system / (user.user + user.system));
  });
});

describe('makeTempSite', () => {
  it('writes nested files and removes them', () => {
    const site = makeTempSite({ 'a/b.txt': 'hi', 'big.bin': Buffer.alloc(10, 7) });
    expect(readFileSync(join(site.root, 'a/b.txt'), 'utf8')).toBe('hi');
    expect(readFileSync(join(site.root, 'big.bin')).length).toBe(10);
    site.remove();
    expect(() => readFileSync(join(site.root, 'a/b.txt'))).toThrow();
  });
});

/** A tiny HTTP responder on 127.0.0.1: answers every complete request with `body`; records what arrived. */
async function miniHttp(body: Buffer): Promise<{ server: Server; port: number; received: () => string }> {
  let received = '';
  const server = createServer((s: Socket) => {
    let pending = '';
    s.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      pending += d.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end !== -1; end = pending.indexOf('\r\n\r\n')) {
        const close = /connection: close/i.test(pending.slice(0, end));
        pending = pending.slice(end + 4);
        s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
        s.write(body);
        if (close) s.end();
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, received: () => received };
}

describe('client helpers', () => {
  it('openStalled: one request answered, then half of another, then silence', async () => {
    const http = await miniHttp(Buffer.from('ok'));
    const sock = await openStalled(http.port);
    const expected = 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n';
    await until(() => http.received().length >= expected.length, 5000, 'the half request');
    expect(http.received()).toBe(expected);
    sock.destroy();
    http.server.close();
  });

  it('slowGet: every byte of a large answer, read with pauses, until the server closes', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024, 'x');
    const http = await miniHttp(body);
    const raw = await slowGet(http.port, '/big');
    http.server.close();
    const [res] = parseResponses(raw).responses;
    expect(res!.body.equals(body)).toBe(true);
  });
});

describe('sampleDuring', () => {
  it('collects each distinct value seen while the work runs, and the work\'s result', async () => {
    let n = 0;
    const work = new Promise<string>((r) => setTimeout(() => r('done'), 100));
    const { seen, result } = await sampleDuring(() => (n++ < 3 ? 'a' : 'b'), work);
    expect(result).toBe('done');
    expect(seen).toEqual(['a', 'b']);
  });
});

describe('process state helpers', () => {
  it('tell a sleeping process from a gone one', async () => {
    const child = spawn('sleep', ['30']);
    const exited = new Promise((r) => child.on('exit', r));
    await new Promise((r) => child.on('spawn', r));
    await until(() => threadState(child.pid!) === 'S', 5000, 'sleep(1) to be asleep');
    expect(isRunning(child.pid!)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    expect(isRunning(child.pid!)).toBe(false);
    expect(threadState(child.pid!)).toBeUndefined();
  });
});
