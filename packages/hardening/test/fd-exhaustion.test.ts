/**
 * Out of file descriptors: each model whose process can run out of fds because of connections
 * (03 per-connection, 04, 05, 06 — the others hold a fixed few connections at a time, see
 * src/models.ts) is started under `ulimit -n 64` and sent more connections than it can hold.
 *
 * It must refuse politely: stay up; keep serving the connections it has (a file that needs a
 * new fd is a 503, as packages/protocol says); either close the connections it cannot hold at
 * once ('sheds', muduo's spare-fd trick) or leave them queued in the kernel ('queues') — never
 * hang up on them half-way; and a model that sheds must not spin while the listener stays
 * readable. Once connections close, it must recover: queued clients are answered, new ones too,
 * and no fd is left behind.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cpuSeconds, fdCount, openSocket, parseResponses, request, startServer, until, type RunningServer } from '@course/testkit';
import { FD_BOUND, type ModelConfig } from '../src/models.js';
import { makeHostileSite, type HostileSite } from '../src/site.js';
import { pause } from '../src/wire.js';

const FD_LIMIT = 64;
const CLIENTS = 100;

/** One client connection and what became of it. */
interface Client {
  sock: Socket;
  bytes: Buffer;
  answered: boolean;
  closed: boolean;
}

function connectClient(port: number): Promise<Client> {
  return openSocket(port).then((sock) => {
    const c: Client = { sock, bytes: Buffer.alloc(0), answered: false, closed: false };
    sock.on('error', () => {});
    sock.on('close', () => { c.closed = true; });
    sock.on('data', (d: Buffer) => {
      c.bytes = Buffer.concat([c.bytes, d]);
      c.answered = parseResponses(c.bytes).responses.length > 0;
    });
    return c;
  });
}

/** The process's fd count once it has not changed over ten looks, 50 ms apart. */
async function steadyFds(pid: number): Promise<number> {
  let last = -1;
  let same = 0;
  await until(() => {
    const now = fdCount(pid);
    same = now === last ? same + 1 : 0;
    last = now;
    return same >= 10;
  }, 15_000, 'a steady fd count');
  return last;
}

describe.each(FD_BOUND)('$name: out of file descriptors (ulimit -n 64)', (model: ModelConfig) => {
  let server: RunningServer;
  let site: HostileSite;

  beforeAll(async () => {
    site = makeHostileSite();
    server = await startServer(model.pkg, {
      prefix: ['sh', '-c', `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`],
      args: ['--root', site.root, ...model.args],
    });
  });

  afterAll(async () => {
    const exit = await server?.stop();
    site?.remove();
    expect(exit).toEqual({ code: 0, signal: null });
  });

  test(`${CLIENTS} clients: refused politely, existing connections served, recovers when fds free up`, async () => {
    // At rest after one request (a first request may open an fd for good: Node opens /dev/null lazily).
    expect((await request(server.port, '/f0.txt')).status).toBe(200);
    const atStart = await steadyFds(server.pid);
    const keeper = await connectClient(server.port);
    const clients: Client[] = [];
    try {
      // A kept-alive connection, and a file in the cache (served later without opening anything).
      keeper.sock.write('GET /f0.txt HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => keeper.answered, 10_000, 'the keeper answered');

      for (let i = 0; i < CLIENTS; i++) {
        const c = await connectClient(server.port); // the kernel completes the handshake, whatever the server does
        c.sock.write('GET /f1.txt HTTP/1.1\r\nHost: x\r\n\r\n'); // keep-alive: an answered client keeps its fd
        clients.push(c);
      }
      // Saturated and settled: the server holds all the fds it may, and nothing changes any more.
      let last = '';
      let same = 0;
      await until(() => {
        const state = `${fdCount(server.pid)} ${clients.filter((c) => c.answered).length} ${clients.filter((c) => c.closed).length}`;
        same = state === last ? same + 1 : 0;
        last = state;
        return fdCount(server.pid) >= FD_LIMIT - 1 && same >= 10;
      }, 30_000, 'the server saturated');
      const answered = clients.filter((c) => c.answered);
      const closed = clients.filter((c) => c.closed);
      const waiting = clients.filter((c) => !c.answered && !c.closed);

      expect(server.proc.exitCode, `the server exited; stderr: ${server.stderr()}`).toBeNull();
      expect(answered.length).toBeGreaterThan(0);
      expect(closed.filter((c) => c.bytes.length > 0 && !c.answered), 'none hung up on half-way through an answer').toHaveLength(0);
      if (model.fdExhaustion === 'sheds') {
        // Closed at once rather than left hanging: every client knows where it stands.
        expect(closed.length).toBeGreaterThan(0);
        expect(waiting).toHaveLength(0);
      } else {
        // Left in the kernel's accept queue: nobody is refused, the rest simply wait.
        expect(waiting.length).toBeGreaterThan(0);
        expect(closed).toHaveLength(0);
      }

      // The connections it has are still served: from the cache, and a file that needs an fd is 503.
      keeper.bytes = Buffer.alloc(0);
      keeper.answered = false;
      keeper.sock.write('GET /f0.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => parseResponses(keeper.bytes, [false, true]).responses.length === 2, 10_000, 'the keeper answered twice');
      expect(parseResponses(keeper.bytes, [false, true]).responses.map((r) => r.status)).toEqual([200, 503]);

      if (!model.busyPolls) {
        // Not spinning: with clients still queued the listener stays readable, and a loop that
        // just retried accept would burn a core. (04 --poller busy burns one by design, always.)
        const before = cpuSeconds(server.pid);
        await pause(1000);
        expect(cpuSeconds(server.pid) - before, 'CPU seconds over one second while out of fds').toBeLessThan(0.3);
      }

      // Recovery: the answered clients leave; those still queued are answered, new ones too.
      for (const c of answered) c.sock.destroy();
      await until(() => waiting.every((c) => c.answered), 30_000, `the ${waiting.length} queued clients answered`);
      for (const c of waiting) expect(parseResponses(c.bytes).responses[0]!.status).toBe(200);
      const fresh = await connectClient(server.port);
      fresh.sock.write('GET /f2.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      await until(() => fresh.closed, 10_000, 'a new client answered');
      expect(parseResponses(fresh.bytes).responses.map((r) => r.status)).toEqual([200]);
    } finally {
      keeper.sock.destroy();
      for (const c of clients) c.sock.destroy();
    }
    // Nothing left behind.
    await until(() => fdCount(server.pid) <= atStart, 15_000, `fds back to ${atStart} (now ${fdCount(server.pid)})`);
    expect(server.proc.exitCode).toBeNull();
  }, 120_000);
});
