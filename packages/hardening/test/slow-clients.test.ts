/**
 * Slow clients against the models that have timeouts (05 and 06; 01-04 have none — see
 * docs/security.md): slowloris (hundreds of connections dribbling their headers), a keep-alive
 * connection left idle, and a client that stops reading its answers. Each must be closed by the
 * server on its own, while everybody else is served normally.
 *
 * The timeouts are set short on the command line so that the suite is quick; nothing here
 * measures how long anything took — only that the server closed what it had to, and served what
 * it had to.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openSocket, parseResponses, request, startServer, until, waitForClose, type RunningServer } from '@course/testkit';
import { WITH_TIMEOUTS, type ModelConfig } from '../src/models.js';
import { BIG_FILE_BYTES, makeHostileSite, type HostileSite } from '../src/site.js';
import { steadyTreeFds, tcpQueues, treeFds } from '../src/wire.js';

const HEADER_TIMEOUT_MS = 2_000;
const IDLE_TIMEOUT_MS = 2_000;
const DRIBBLERS = 250;

describe.each(WITH_TIMEOUTS)('$name: slow clients', (model: ModelConfig) => {
  let server: RunningServer;
  let site: HostileSite;
  let restFds: number;

  beforeAll(async () => {
    site = makeHostileSite();
    server = await startServer(model.pkg, {
      args: ['--root', site.root, '--header-timeout-ms', String(HEADER_TIMEOUT_MS), '--idle-timeout-ms', String(IDLE_TIMEOUT_MS), ...model.args],
    });
    restFds = await steadyTreeFds(server.pid);
  });

  afterAll(async () => {
    const exit = await server?.stop();
    site?.remove();
    expect(exit).toEqual({ code: 0, signal: null });
  });

  test(`slowloris: ${DRIBBLERS} connections dribbling their headers are closed by the header timeout, while others are served`, async () => {
    const dribblers: Socket[] = [];
    let open = 0;
    const closed: Array<Promise<void>> = [];
    for (let i = 0; i < DRIBBLERS; i++) {
      const s = await openSocket(server.port);
      s.on('error', () => {});
      s.write('GET /f0.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      open++;
      closed.push(waitForClose(s, 60_000).then(() => { open--; }));
      dribblers.push(s);
    }
    // One more header byte from each, every 200 ms: progress that must not extend the deadline.
    const drip = setInterval(() => { for (const s of dribblers) if (!s.destroyed) s.write('a'); }, 200);
    try {
      // Meanwhile, normal clients: fresh connections and one kept alive, all answered correctly.
      let openWhenServed = -1;
      for (let i = 0; i < 20; i++) {
        const r = await request(server.port, `/f${i % site.smallFiles}.txt`);
        if (openWhenServed < 0) openWhenServed = open;
        expect(r.status).toBe(200);
        expect(r.body.equals(site.files.get(`/f${i % site.smallFiles}.txt`)!)).toBe(true);
      }
      expect(openWhenServed, 'the normal clients were served while the dribblers were connected').toBeGreaterThan(0);
      const keep = await openSocket(server.port);
      try {
        for (let i = 0; i < 5; i++) {
          const got = await ask(keep, 'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
          expect(got.status).toBe(200);
        }
      } finally {
        keep.destroy();
      }
      // Every dribbler is closed by the server (the client never gives up by itself here).
      await Promise.all(closed);
    } finally {
      clearInterval(drip);
      for (const s of dribblers) s.destroy();
    }
    expect(server.proc.exitCode).toBeNull();
    await until(() => treeFds(server.pid) <= restFds, 15_000, `fds back to ${restFds} (now ${treeFds(server.pid)})`);
  }, 120_000);

  test('a keep-alive connection left idle is closed by the idle timeout', async () => {
    const sock = await openSocket(server.port);
    try {
      expect((await ask(sock, 'GET /f1.txt HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(200);
      await waitForClose(sock, 30_000);
    } finally {
      sock.destroy();
    }
    await until(() => treeFds(server.pid) <= restFds, 15_000, `fds back to ${restFds}`);
  });

  test('a client that stops reading its answers is closed by the server, which lets go of everything it held', async () => {
    const stalled = await openSocket(server.port);
    stalled.on('error', () => {});
    try {
      stalled.pause(); // never read
      stalled.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'.repeat((64 * 1024 * 1024) / BIG_FILE_BYTES));
      await until(() => (tcpQueues(server.port, stalled.localPort!)?.tx ?? 0) > 0, 15_000, 'the connection stalled');
      // The server gives up on it by itself: its socket (and any file it was sending) is closed
      // while the client still holds its end, unread.
      await until(() => treeFds(server.pid) <= restFds, 30_000, `the server closed the stalled connection (fds ${treeFds(server.pid)}, at rest ${restFds})`);
      expect(stalled.destroyed).toBe(false);
      expect((await request(server.port, '/f2.txt')).status).toBe(200);
    } finally {
      stalled.destroy();
    }
  });
});

/** Write `text` on a kept-alive socket and resolve with the one response it gets. */
async function ask(sock: Socket, text: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.off('data', onData); reject(new Error('no answer within 10 s')); }, 10_000);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const { responses } = parseResponses(buf);
      if (responses.length > 0) {
        clearTimeout(timer);
        sock.off('data', onData);
        resolve(responses[0]!);
      }
    };
    sock.on('data', onData);
    sock.write(text);
  });
}
