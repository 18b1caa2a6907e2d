/**
 * Step 07 as a reader runs it: `node dist/main.js ...`, spoken to over real TCP on 127.0.0.1.
 *
 * Header and idle timeouts (slowloris, an idle keep-alive connection: closing one means cancelling
 * its armed recv first), clients that stop reading, and running out of fds are checked by
 * packages/hardening, whose suites run against 07 too (its src/models.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  echoPastStalledReader,
  idleSecond,
  makeTempSite,
  openSocket,
  packageMain,
  parseResponses,
  randomPayload,
  slowGet,
  startServer,
  waitForClose,
  type RunningServer,
  type TempSite,
} from '@course/testkit';
import { describeModelContract } from '@course/testkit/contract';
import { describeFaultContainment } from '@course/testkit/faults';
import * as sys from '@course/syscalls';
import { uringSupport } from '../src/proactor.js';

const PKG = '07-io-uring';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** 0 where io_uring works here; else the -errno the server will name (ENOSYS, EPERM, EINVAL). */
const SUPPORT = uringSupport();

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

// Everything below needs io_uring. Where the kernel refuses it, the server must say so and exit 1,
// and that is what is checked instead: the suite asserts what the server really does here.
if (SUPPORT === 0) {
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

  // A session that throws ends its own connection, not the proactor (server-kit's session guard),
  // and an error answer survives a client still sending (lingering close).
  describeFaultContainment(PKG, [{ name: 'default', args: [] }]);

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
      const { queuedWhileStalled, back } = await echoPastStalledReader(server.port, data);
      expect(queuedWhileStalled).toBeGreaterThan(16 * 1024 * 1024);
      // Reading resumes the flow, and every byte comes back in order.
      expect(sha256(back)).toBe(sha256(data));
    }, 60_000);
  });
} else {
  describe('07-io-uring on a machine without io_uring', () => {
    it(`names the cause (${sys.errnoName(SUPPORT)}) in one line and exits 1`, () => {
      const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0'], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([`${PKG}: ${sys.uringUnavailableReason(SUPPORT)}`]);
    });
  });
}
