/**
 * Faulty clients against every model: a client that resets mid-response or mid-request, one that
 * half-closes, one that never reads what it asked for. For each: no crash, no fd left behind
 * (counted in /proc before and after), no process or thread left behind, no stuck loop — the
 * server answers the next client correctly.
 *
 * "Before" is the server at rest after one warm-up request; "after" is awaited (until) rather
 * than slept for: a forked child or a Worker thread takes a moment to be reaped or joined.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { openSocket, parseResponses, processTree, request, startServer, threadCount, until, zombieChildren, type RunningServer } from '@course/testkit';
import { MODEL_CONFIGS, type ModelConfig } from '../src/models.js';
import { BIG_FILE_BYTES, makeHostileSite, type HostileSite } from '../src/site.js';
import { converse, receivedAtLeast, tcpQueues, treeFds } from '../src/wire.js';

interface AtRest {
  fds: number;
  processes: number;
  threads: number;
}

function measure(pid: number): AtRest {
  const tree = processTree(pid);
  return { fds: treeFds(pid), processes: tree.length, threads: tree.reduce((n, p) => n + threadCount(p), 0) };
}

/**
 * The tree's measure once it has stopped changing (the same over five looks, 50 ms apart) and
 * has no more processes or threads than `started`.
 */
async function settled(pid: number, started: AtRest): Promise<AtRest> {
  let last = measure(pid);
  let same = 0;
  await until(() => {
    const now = measure(pid);
    same = now.fds === last.fds && now.processes === last.processes && now.threads === last.threads ? same + 1 : 0;
    last = now;
    return same >= 5 && now.processes <= started.processes && now.threads <= started.threads;
  }, 15_000, 'the server at rest');
  return last;
}

describe.each(MODEL_CONFIGS)('$name: faulty clients', (model: ModelConfig) => {
  let server: RunningServer;
  let site: HostileSite;
  let rest: AtRest;

  beforeAll(async () => {
    site = makeHostileSite();
    server = await startServer(model.pkg, { args: ['--root', site.root, ...model.args] });
    const started = measure(server.pid);
    expect((await request(server.port, '/f0.txt')).status).toBe(200);
    // At rest again: the warm-up's connection closed, its child process (02) or thread (03) gone.
    // (A first request may open an fd for good — Node opens /dev/null lazily — so "at rest" is
    // measured, not assumed to be the count at start.)
    rest = await settled(server.pid, started);
  });

  afterAll(async () => {
    const exit = await server?.stop();
    site?.remove();
    expect(exit).toEqual({ code: 0, signal: null });
  });

  /** The server process is still there (a crash is named, with its signal and stderr). */
  function expectAlive(): void {
    const { exitCode, signalCode } = server.proc;
    expect({ exitCode, signalCode }, `the server died; stderr: ${server.stderr()}`).toEqual({ exitCode: null, signalCode: null });
  }

  beforeEach(() => expectAlive());

  /** Serving correctly, and back at rest: no fd, process, thread or zombie left behind. */
  async function expectWholeAndAtRest(): Promise<void> {
    expectAlive();
    const ok = await request(server.port, '/f1.txt');
    expect(ok.status).toBe(200);
    expect(ok.body.equals(site.files.get('/f1.txt')!)).toBe(true);
    await until(() => {
      const now = measure(server.pid);
      return now.fds <= rest.fds && now.processes <= rest.processes && now.threads <= rest.threads;
    }, 15_000, `back at rest ${JSON.stringify(rest)} (now ${JSON.stringify(measure(server.pid))})`);
    for (const p of processTree(server.pid)) expect(zombieChildren(p), `zombies of ${p}`).toEqual([]);
  }

  test('a client that resets in the middle of an 8 MiB response', async () => {
    for (let i = 0; i < 3; i++) {
      expectAlive();
      const sock = await openSocket(server.port);
      sock.on('error', () => {});
      try {
        sock.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
        await receivedAtLeast(sock, 64 * 1024).catch((err: Error) => { expectAlive(); throw err; });
      } finally {
        sock.resetAndDestroy(); // RST, not FIN: the server's next write fails with ECONNRESET or EPIPE
      }
    }
    await expectWholeAndAtRest();
  });

  test('a client that resets in the middle of a request', async () => {
    for (let i = 0; i < 3; i++) {
      expectAlive();
      const sock = await openSocket(server.port);
      sock.on('error', () => {});
      try {
        sock.write('GET /f2.txt HTTP/1.1\r\nHost: x\r\nX-Half: ');
        // Reset once the server holds the connection (an fd more than at rest), not before.
        await until(() => treeFds(server.pid) > rest.fds, 10_000, 'the connection accepted');
      } finally {
        sock.resetAndDestroy();
      }
    }
    await expectWholeAndAtRest();
  });

  test('a client that connects, sends nothing, and resets', async () => {
    const sock = await openSocket(server.port);
    sock.on('error', () => {});
    try {
      await until(() => treeFds(server.pid) > rest.fds, 10_000, 'the connection accepted');
    } finally {
      sock.resetAndDestroy();
    }
    await expectWholeAndAtRest();
  });

  test('a half-closed client gets the answers to what it sent, then a close', async () => {
    const conv = await converse(server.port, 'GET /f2.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /f3.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(conv.ended).toBe('closed');
    const { responses, rest: after } = parseResponses(conv.raw, [false, true]);
    expect(after.length).toBe(0);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    expect(responses[0]!.body.equals(site.files.get('/f2.txt')!)).toBe(true);
    expect(Number(responses[1]!.headers['content-length'])).toBe(site.files.get('/f3.txt')!.length);
    await expectWholeAndAtRest();
  });

  test('a client that half-closes in the middle of a request is closed without an answer', async () => {
    const conv = await converse(server.port, 'GET /f2.txt HTTP/1.1\r\nHost: x\r\nX-Half: ');
    expect(conv.ended).toBe('closed');
    expect(conv.raw.length).toBe(0);
    await expectWholeAndAtRest();
  });

  test('a client that never reads its 128 MiB of answers stalls only itself, and is released when it leaves', async () => {
    const stalled: Socket = await openSocket(server.port);
    stalled.on('error', () => {});
    try {
      stalled.pause(); // never read: the kernel buffers fill, then the server's writes can go no further
      stalled.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'.repeat((128 * 1024 * 1024) / BIG_FILE_BYTES));
      // Stalled for sure: the server's side of the connection holds bytes the client will not take.
      await until(() => (tcpQueues(server.port, stalled.localPort!)?.tx ?? 0) > 0, 15_000, 'the server blocked on the full connection');
      if (model.concurrent) {
        // Every model but 01 serves others meanwhile: no stuck loop, no stuck pool.
        const other = await request(server.port, '/f4.txt');
        expect(other.status).toBe(200);
        expect(other.body.equals(site.files.get('/f4.txt')!)).toBe(true);
      }
    } finally {
      stalled.destroy(); // unread data: the kernel resets the connection
    }
    await expectWholeAndAtRest();
  });
});
