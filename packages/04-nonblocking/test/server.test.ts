/**
 * Step 04 as a reader runs it: `node dist/main.js [--poller busy|poll] [--sleep-ms N]`, spoken to
 * over real TCP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cpuSeconds,
  echoRoundTrip,
  exchange,
  makeTempSite,
  openSocket,
  parseResponses,
  randomPayload,
  REPO_ROOT,
  request,
  startServer,
  type RunningServer,
  type TempSite,
} from '@course/testkit';

const PKG = '04-nonblocking';
const SITE = join(REPO_ROOT, 'site');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Watch the server for one second in which nobody talks to it: the CPU seconds it used, and the
 * share of 20 samples in which its main thread was running or runnable (state R) rather than
 * asleep (S). The state is the robust signal on a loaded machine: a busy loop is always R, even
 * while it waits for a core; the CPU figure also depends on how many cores it was given.
 */
async function idleSecond(pid: number): Promise<{ cpu: number; running: number }> {
  await new Promise((r) => setTimeout(r, 200)); // let earlier connections finish
  const before = cpuSeconds(pid);
  let running = 0;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (threadState(pid) === 'R') running++;
  }
  return { cpu: cpuSeconds(pid) - before, running: running / 20 };
}

/** The scheduler state of a process's main thread: R running or runnable, S sleeping, ... */
function threadState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

/**
 * GET `path` and read the answer slowly (a pause after every 256 KB), so the server's writes
 * come up short and it must keep the rest for a later pass. Resolves once the server closes.
 */
async function slowGet(port: number, path: string): Promise<Buffer> {
  const sock = await openSocket(port);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let sincePause = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`slow GET ${path}: timed out`)); }, 60_000);
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

describe.each(['busy', 'poll'] as const)('04-nonblocking --poller %s', (poller) => {
  let server: RunningServer;
  let echo: RunningServer;
  let big: TempSite;
  let bigFile: Buffer;
  beforeAll(async () => {
    bigFile = randomPayload(8 * 1024 * 1024);
    big = makeTempSite({ 'big.bin': bigFile });
    server = await startServer(PKG, { args: ['--poller', poller] });
  });
  afterAll(async () => {
    await server?.stop();
    await echo?.stop();
    big?.remove();
  });

  it('prints the banner with its poller', () => {
    expect(server.banner).toMatch(new RegExp(`^listening on http://127\\.0\\.0\\.1:\\d+ ${PKG} .*poller=${poller}`));
  });

  it('serves the demo site', async () => {
    const res = await request(server.port, '/');
    expect(res.status).toBe(200);
    expect(res.body.equals(readFileSync(join(SITE, 'index.html')))).toBe(true);
    expect((await request(server.port, '/style.css')).headers['content-type']).toMatch(/^text\/css/);
    expect((await request(server.port, '/no-such-file')).status).toBe(404);
  });

  it('keeps a connection alive across requests that arrive in pieces', async () => {
    const r = await exchange(server.port, ['GET / HT', 'TP/1.1\r\nHost: x\r\n\r\n', 'GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(r.closed).toBe(true);
  });

  it('answers pipelined requests in order', async () => {
    const paths = ['/', '/style.css', '/missing', '/logo.svg'];
    const burst = paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: x\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
    const r = await exchange(server.port, burst);
    expect(r.responses.map((x) => x.status)).toEqual([200, 200, 404, 200]);
    expect(r.responses[3]!.body.equals(readFileSync(join(SITE, 'logo.svg')))).toBe(true);
  });

  it('serves others while a client sits on half a request', async () => {
    const stalled = await openSocket(server.port);
    stalled.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never completed: step 01 would stop here
    const res = await request(server.port, '/style.css', { timeoutMs: 5000 });
    expect(res.status).toBe(200);
    stalled.destroy();
  });

  if (poller === 'busy') {
    it('burns a core while idle: that is busy polling', async () => {
      const idle = await idleSecond(server.pid);
      expect(idle.running).toBeGreaterThanOrEqual(0.75); // never asleep
      expect(idle.cpu).toBeGreaterThanOrEqual(0.1); // and really computing (most of a core when one is free)
    });
  } else {
    it('sleeps in poll(2) while idle', async () => {
      const idle = await idleSecond(server.pid);
      expect(idle.running).toBeLessThanOrEqual(0.25);
      expect(idle.cpu).toBeLessThanOrEqual(0.05);
    });
  }

  // (Stopped before the heavy tests: a busy server would take a core from them.)
  it('exits 0 on SIGTERM', async () => {
    const { code, signal } = await server.stop();
    expect(signal).toBeNull();
    expect(code).toBe(0);
  });

  it('sends an 8 MB file byte-exact to 20 concurrent slow readers (short writes)', async () => {
    const site = await startServer(PKG, { args: ['--poller', poller, '--root', big.root] });
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => slowGet(site.port, '/big.bin')));
      for (const raw of answers) {
        const [res] = parseResponses(raw).responses;
        expect(res?.status).toBe(200);
        expect(sha256(res!.body)).toBe(sha256(bigFile));
      }
    } finally {
      await site.stop();
    }
  }, 60_000);

  it('echoes 1 MB byte-exact on each of 20 connections at once', async () => {
    echo = await startServer(PKG, { args: ['--poller', poller, '--protocol', 'echo'] });
    const payloads = Array.from({ length: 20 }, () => randomPayload(1024 * 1024));
    const backs = await Promise.all(payloads.map((p) => echoRoundTrip(echo.port, p)));
    backs.forEach((b, i) => expect(b.equals(payloads[i]!)).toBe(true));
  }, 60_000);

});

describe('04-nonblocking --sleep-ms', () => {
  it('trades latency for CPU: sleeping after idle passes, it no longer burns a core', async () => {
    const server = await startServer(PKG, { args: ['--sleep-ms', '20'] });
    try {
      expect(server.banner).toMatch(/sleep-ms=20/);
      expect((await request(server.port, '/')).status).toBe(200); // still serves
      expect((await idleSecond(server.pid)).cpu).toBeLessThanOrEqual(0.15);
    } finally {
      await server.stop();
    }
  });
});

describe('04-nonblocking process contract', () => {
  it('rejects a bad flag with one line and exit code 2', async () => {
    for (const args of [['--poller', 'epoll'], ['--sleep-ms', '-1'], ['--bogus', '1'], ['--poller', 'poll', '--sleep-ms', '5']]) {
      const err = await startServer(PKG, { args }).then(() => 'started', (e: Error) => e.message);
      expect(err).toMatch(/exited \(code 2/);
      expect(err).toContain(args[args.length - 2]!);
    }
  });
});
