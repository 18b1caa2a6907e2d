/**
 * Step 07 as a reader runs it: `node dist/main.js ...`, spoken to over real TCP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  cpuSeconds,
  idleSecond,
  makeTempSite,
  openSocket,
  packageMain,
  parseResponses,
  randomPayload,
  request,
  slowGet,
  startServer,
  until,
  waitForClose,
  type RunningServer,
  type TempSite,
} from '@course/testkit';
import { describeModelContract } from '@course/testkit/contract';

const PKG = '07-io-uring';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describeModelContract(PKG, [
  { name: 'default', args: [], bannerMatch: / model=io-uring-proactor entries=1024 buffers=256x16384 / },
  // Few, small buffers: a request takes several receives, and 20 concurrent echoes share 16 buffers.
  { name: 'buffers=16x512', args: ['--buffers', '16', '--buffer-size', '512'], bannerMatch: / buffers=16x512 / },
], {
  badFlags: [
    [['--buffers', '100'], '--buffers'],
    [['--ring-entries', '4'], '--ring-entries'],
    [['--header-timeout-ms', '0'], '--header-timeout-ms'],
  ],
});

describe('07-io-uring where io_uring is unavailable', () => {
  // The test hook of @course/syscalls: uringSetup fails with this errno, as the kernel would.
  it.each([
    ['ENOSYS', /no io_uring.*ENOSYS/],
    ['EPERM', /io_uring_disabled.*seccomp.*EPERM/],
  ])('%s: one line naming the cause, exit 1, never listening', (errno, cause) => {
    const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0'], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, COURSE_URING_SETUP_ERRNO: errno },
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(''); // no banner
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^${PKG}: `));
    expect(lines[0]).toMatch(cause);
  });
});

describe('07-io-uring serving a large file', () => {
  let server: RunningServer;
  let big: TempSite;
  let bigFile: Buffer;
  beforeAll(async () => {
    bigFile = randomPayload(8 * 1024 * 1024);
    big = makeTempSite({ 'index.html': '<h1>big</h1>\n', 'big.bin': bigFile });
    server = await startServer(PKG, { args: ['--root', big.root] });
  });
  afterAll(async () => {
    await server?.stop();
    big?.remove();
  });

  it('sleeps when idle: asleep in io_uring_enter, almost no CPU over one idle second', async () => {
    const idle = await idleSecond(server.pid);
    expect(idle.cpu).toBeLessThanOrEqual(0.05);
    expect(idle.running).toBeLessThanOrEqual(0.25);
  });

  it('sends an 8 MB file byte-exact to 20 concurrent slow readers (file reads, short sends)', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => slowGet(server.port, '/big.bin')));
    for (const raw of answers) {
      const [res] = parseResponses(raw).responses;
      expect(res?.status).toBe(200);
      expect(res!.body.length).toBe(bigFile.length);
      expect(sha256(res!.body)).toBe(sha256(bigFile));
    }
  }, 60_000);

  it('finishes a response in flight on SIGTERM, then exits 0 (graceful drain)', async () => {
    const own = await startServer(PKG, { args: ['--root', big.root] });
    const sock = await openSocket(own.port);
    const chunks: Buffer[] = [];
    const first = new Promise<void>((resolve) => sock.once('data', () => resolve()));
    sock.on('data', (d: Buffer) => chunks.push(d));
    const closed = waitForClose(sock, 30_000);
    sock.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
    await first;
    sock.pause(); // most of the 8 MB is still on the server's side
    const exit = own.stop(30_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(own.proc.exitCode).toBeNull(); // still draining: it waits for this answer
    sock.resume();
    await closed; // the server closes once the answer is out
    const [res] = parseResponses(Buffer.concat(chunks)).responses;
    expect(res?.status).toBe(200);
    expect(sha256(res!.body)).toBe(sha256(bigFile));
    expect(await exit).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('07-io-uring serving echo', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer(PKG, { args: ['--protocol', 'echo'] }); });
  afterAll(async () => { await server?.stop(); });

  it('stops reading from a client that does not read its echo (back-pressure), then catches up', async () => {
    // As in step 05: past the high-water mark (1 MiB of unsent echo) no recv is armed, so the
    // rest stays on the client's side, unsent.
    const data = randomPayload(64 * 1024 * 1024);
    const sock = await openSocket(server.port);
    sock.pause();
    for (let off = 0; off < data.length; off += 1 << 20) sock.write(data.subarray(off, off + (1 << 20)));
    await new Promise((r) => setTimeout(r, 1000));
    expect(sock.writableLength).toBeGreaterThan(16 * 1024 * 1024);
    const back = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let got = 0;
      const timer = setTimeout(() => reject(new Error(`got ${got} of ${data.length} bytes`)), 60_000);
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= data.length) { clearTimeout(timer); resolve(Buffer.concat(chunks)); }
      });
      sock.resume();
    });
    sock.destroy();
    expect(sha256(back)).toBe(sha256(data));
  }, 60_000);
});

describe('07-io-uring timeouts', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer(PKG, { args: ['--header-timeout-ms', '500', '--idle-timeout-ms', '30000'] }); });
  afterAll(async () => { await server?.stop(); });

  it('closes a connection that dribbles its headers, while serving everyone else', async () => {
    const keepAlive = await openSocket(server.port);
    const dribbler = await openSocket(server.port);
    let dribbled = '';
    let closed = false;
    const dribble = setInterval(() => {
      if (closed) return;
      const piece = dribbled.length === 0 ? 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' : 'a';
      dribbled += piece;
      dribbler.write(piece);
    }, 50);
    const gone = waitForClose(dribbler, 10_000).then(() => { closed = true; });
    expect((await request(server.port, '/')).status).toBe(200);
    expect(await sendOn(keepAlive, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
    await gone;
    clearInterval(dribble);
    expect(dribbled.length).toBeGreaterThan(30); // it was mid-request, sending bytes, when closed
    expect(await sendOn(keepAlive, 'GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
    keepAlive.destroy();
  }, 60_000);

  it('closes an idle keep-alive connection after the idle timeout (cancel, then close)', async () => {
    const quick = await startServer(PKG, { args: ['--idle-timeout-ms', '300'] });
    try {
      const sock = await openSocket(quick.port);
      expect(await sendOn(sock, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 200/);
      // A recv is armed on this connection: only cancelling it lets the close reach the peer.
      await waitForClose(sock, 10_000);
    } finally {
      await quick.stop();
    }
  });
});

/** Write `text` on an open socket and resolve with the first chunk of the answer. */
function sendOn(sock: Socket, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
    sock.once('data', (d: Buffer) => { clearTimeout(timer); resolve(d.toString('latin1')); });
    sock.write(text);
  });
}

describe('07-io-uring out of file descriptors (EMFILE)', () => {
  it('sheds connections it cannot hold, without spinning, and recovers', async () => {
    const server = await startServer(PKG, { prefix: ['sh', '-c', 'ulimit -n 64 && exec "$0" "$@"'] });
    try {
      const socks: Socket[] = [];
      let shed = 0;
      for (let i = 0; i < 80; i++) {
        const s = await openSocket(server.port);
        s.on('error', () => {});
        s.on('close', () => shed++);
        s.resume();
        socks.push(s);
      }
      await until(() => shed > 0, 10_000, 'a connection closed for lack of fds');
      const before = cpuSeconds(server.pid);
      await new Promise((r) => setTimeout(r, 1000));
      expect(cpuSeconds(server.pid) - before).toBeLessThan(0.3);
      for (const s of socks) s.destroy();
      await new Promise((r) => setTimeout(r, 300));
      expect((await request(server.port, '/', { timeoutMs: 5000 })).status).toBe(200);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  }, 60_000);
});
