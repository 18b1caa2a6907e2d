/**
 * What a model promises when one connection goes wrong, as one vitest suite shared by the
 * event-driven models (04, 05; 06 runs 05's Reactor):
 *
 *  - a session that throws ends that connection only: a 500 if no answer had begun, the bytes
 *    already queued and nothing more if one had, one log line naming the connection (fd and
 *    peer), and every other connection — a keep-alive one opened before, new ones after — is
 *    served as before (server-kit/src/session-guard.ts);
 *  - an error answer sent while the client is still sending (a 4 MB upload refused with 413)
 *    reaches the client whole, followed by a FIN, not lost to an RST (the lingering close of
 *    server-kit/src/nonblocking-sink.ts).
 *
 * The faults are injected black-box: the model runs unchanged under `node --import`
 * fixtures/faulty-protocol/register.mjs, which swaps in a @course/protocol whose sessions throw
 * on `GET /fault/before-answer` and `GET /fault/mid-answer`.
 *
 * Import it as `@course/testkit/faults`, from test files only (it imports vitest).
 */
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, openSocket, parseResponses } from './client.js';
import { REPO_ROOT, startServer, type RunningServer } from './server.js';
import { until } from './site.js';

/** The `--import` preload that injects the faults. */
export const FAULTY_PROTOCOL = join(REPO_ROOT, 'packages', 'testkit', 'fixtures', 'faulty-protocol', 'register.mjs');

/** What /fault/mid-answer queues before it throws (fixtures/faulty-protocol/protocol.mjs). */
const MID_ANSWER_BYTES = 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nthe start of an answer';

/** One way to run a model: a name for the titles and the model's flags. */
export interface FaultMode {
  name: string;
  args: string[];
}

/**
 * Send `data` on a fresh connection (all of it, however long the server takes to read it) and
 * collect what comes back until the server closes. `reset` tells a clean FIN from an RST.
 */
export async function sendAndRead(port: number, data: Buffer, timeoutMs = 20_000): Promise<{ raw: Buffer; reset: boolean }> {
  const sock: Socket = await openSocket(port);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    let reset = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).length} bytes`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') reset = true;
      else reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks), reset });
    });
    sock.write(data);
  });
}

const get = (path: string, connection = 'close') => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: ${connection}\r\n\r\n`, 'latin1');

/** The suite, once per mode. Starts one server per mode, with the faulty protocol preloaded. */
export function describeFaultContainment(pkg: string, modes: readonly FaultMode[]): void {
  describe.each(modes.map((m) => [m.name, m] as const))(`${pkg} (%s): a fault stays with its connection`, (_name, mode) => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(pkg, { args: mode.args, nodeArgs: ['--import', FAULTY_PROTOCOL] });
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('answers 500 to the request whose session threw, logs it once, and serves everyone else', async () => {
      // A keep-alive connection opened before the fault, answered once...
      const keeper = await openSocket(server.port);
      const keeperIn: Buffer[] = [];
      keeper.on('data', (d: Buffer) => keeperIn.push(d));
      const answers = (n: number) => parseResponses(Buffer.concat(keeperIn)).responses.length >= n;
      keeper.write(get('/', 'keep-alive'));
      await until(() => answers(1));

      const failed = await exchange(server.port, get('/fault/before-answer'));
      expect(failed.closed).toBe(true);
      expect(failed.responses.map((r) => r.status)).toEqual([500]);
      expect(failed.responses[0]!.headers['connection']).toBe('close');

      // ...is still served after it, on the same connection, and so is a new one.
      keeper.write(get('/', 'keep-alive'));
      await until(() => answers(2));
      expect(parseResponses(Buffer.concat(keeperIn)).responses.map((r) => r.status)).toEqual([200, 200]);
      keeper.destroy();
      expect((await exchange(server.port, get('/'))).responses.map((r) => r.status)).toEqual([200]);

      const lines = server.stderr().split('\n').filter((l) => l.includes('injected fault before the answer'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^connection fd \d+ \(127\.0\.0\.1:\d+\): session\.receive threw Error: injected fault before the answer .*fault response/);
      expect(server.proc.exitCode).toBeNull();
    });

    it('appends nothing to an answer that had begun: the client gets those bytes, then the close', async () => {
      const failed = await exchange(server.port, get('/fault/mid-answer'));
      expect(failed.closed).toBe(true);
      expect(failed.raw.toString('latin1')).toBe(MID_ANSWER_BYTES);
      expect(server.stderr()).toMatch(/session\.receive threw Error: injected fault in the middle of an answer .*an answer had begun/);
      expect((await exchange(server.port, get('/'))).responses.map((r) => r.status)).toEqual([200]);
    });

    it('delivers a 413 whole to a client still sending its 4 MB body: FIN, not RST (lingering close)', async () => {
      const body = Buffer.alloc(4 * 1024 * 1024, 'x');
      const head = Buffer.from(`POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1');
      // Several times over: without the lingering close most runs end in ECONNRESET.
      for (let i = 0; i < 5; i++) {
        const { raw, reset } = await sendAndRead(server.port, Buffer.concat([head, body, get('/')]));
        expect(reset).toBe(false);
        const { responses } = parseResponses(raw);
        expect(responses.map((r) => r.status)).toEqual([413]);
      }
      expect((await exchange(server.port, get('/'))).responses.map((r) => r.status)).toEqual([200]);
    });
  });
}
