/**
 * Graceful reload (swoole's reload): SIGHUP on the command line, server.reload() in the library.
 * Every thread imports the app module afresh — WorkerPool threads replaced one at a time, each
 * SubReactor between two turns — while connections stay open, keep their context, and no
 * request fails. The app is a tiny module written to a temp dir, so the test can change it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, startServer, until } from '@course/testkit';
import { createServer } from '../dist/index.js';
import { KeepAlive, PKG } from './helpers.js';

/**
 * The app: /answer is answered on the SubReactor, /task by the WorkerPool (onTask), both with
 * ANSWER; each connection counts its /answer requests in its context; /reloads tells how many
 * reloads the server has completed.
 */
function appSource(answer: string): string {
  return `
const ANSWER = ${JSON.stringify(answer)};
const TEXT = { 'Content-Type': 'text/plain' };
export function onConnect(conn) { conn.context = { served: 0 }; }
export function onRequest(req, res, conn) {
  if (req.path === '/answer') {
    conn.context.served++;
    res.send(200, TEXT, ANSWER + ' ' + conn.context.served + '\\n');
    return true;
  }
  if (req.path === '/task') {
    if (conn.server.task({}, conn, res) === null) res.send(503, TEXT, 'busy\\n');
    return true;
  }
  if (req.path === '/reloads') {
    res.send(200, TEXT, conn.server.stats().reloads + '\\n');
    return true;
  }
  return false;
}
export function onTask() { return ANSWER; }
export function onFinish(conn, value, res) { res.send(200, TEXT, value + '\\n'); }
`;
}

let dir: string;
let appFile: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'reload-06-'));
  appFile = join(dir, 'app.mjs');
  writeFileSync(appFile, appSource('one'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Keep-alive connections asking /answer and /task in a loop until stopped; every failure is recorded. */
function keepLoading(port: number, connections: number) {
  const failures: string[] = [];
  const answers = new Set<string>();
  let stopping = false;
  const loops = Array.from({ length: connections }, async () => {
    const conn = await KeepAlive.open(port);
    let asked = 0;
    try {
      while (!stopping) {
        const a = await conn.get('/answer');
        asked++;
        const [word, count] = a.body.toString().trim().split(' ');
        if (a.status !== 200) failures.push(`/answer: ${a.status}`);
        // The connection's context survives the reload: its count goes on, it does not restart.
        else if (Number(count) !== asked) failures.push(`/answer count ${count}, expected ${asked}`);
        answers.add(word!);
        const t = await conn.get('/task');
        if (t.status !== 200) failures.push(`/task: ${t.status}`);
      }
    } catch (err) {
      failures.push(`connection failed: ${String(err)}`);
    } finally {
      conn.close();
    }
    return asked;
  });
  return {
    failures,
    answers,
    async stop(): Promise<number[]> {
      stopping = true;
      return Promise.all(loops);
    },
  };
}

async function body(port: number, path: string): Promise<string> {
  const res = await request(port, path, { timeoutMs: 20_000 });
  return `${res.status} ${res.body.toString().trim()}`;
}

// main: the MainReactor accepts; reuseport: each SubReactor accepts on its own listener, and
// stops accepting for the moment its import takes.
describe.each(['main', 'reuseport'])('SIGHUP with --accept %s', (accept) => {
  it('reloads the app under load: no failed request, connections keep their context, new requests get the new answer', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '2', '--accept', accept, '--app', appFile] });
    try {
      expect(await body(server.port, '/task')).toBe('200 one');
      const load = keepLoading(server.port, 4);
      await until(async () => load.answers.has('one'), 20_000, 'the load to start');
      writeFileSync(appFile, appSource('two'));
      server.proc.kill('SIGHUP');
      // Generous deadlines for a busy machine: the reload takes milliseconds.
      await until(async () => (await body(server.port, '/answer')).startsWith('200 two'), 20_000, 'the SubReactors to answer with the new module');
      await until(async () => (await body(server.port, '/task')) === '200 two', 20_000, 'the WorkerPool to answer with the new module');
      await until(async () => (await body(server.port, '/reloads')) === '200 1', 20_000, 'the reload to complete');
      const asked = await load.stop();
      expect(load.failures).toEqual([]);
      expect(load.answers).toEqual(new Set(['one', 'two'])); // the same connections saw both modules
      expect(asked.every((n) => n > 0)).toBe(true);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      expect(await server.stop()).toEqual({ code: 0, signal: null });
    }
  }, 120_000);
});

describe('server.reload()', () => {
  it('resolves once every thread runs the new module; a module that does not load changes nothing', async () => {
    const server = await createServer({ port: 0, reactors: 2, workers: 2, app: appFile });
    const serving = server.serve();
    try {
      const port = server.listener.port;
      const held = await KeepAlive.open(port);
      expect((await held.get('/answer')).body.toString()).toBe('one 1\n');
      writeFileSync(appFile, appSource('two'));
      await server.reload();
      // Resolved: every SubReactor and every pool thread already runs "two".
      for (let i = 0; i < 4; i++) {
        expect(await body(port, '/answer')).toBe('200 two 1');
        expect(await body(port, '/task')).toBe('200 two');
      }
      expect((await held.get('/answer')).body.toString()).toBe('two 2\n'); // same connection, same context
      expect(server.stats().reloads).toBe(1);
      expect(server.stats().workers.threads).toBe(2);

      writeFileSync(appFile, 'export function onRequest( {\n'); // a syntax error
      await expect(server.reload()).rejects.toThrow(); // the module's own error (a SyntaxError)
      expect(await body(port, '/answer')).toBe('200 two 1'); // still the last module that loaded
      expect(await body(port, '/task')).toBe('200 two');
      expect(server.stats().reloads).toBe(1);

      writeFileSync(appFile, `${appSource('three')}\nexport function onReceive() {}\n`);
      await expect(server.reload()).rejects.toThrow(/fixed at start/); // the protocol was built without onReceive
      expect(await body(port, '/answer')).toBe('200 two 1');
      held.close();
    } finally {
      await server.close();
    }
    expect(await serving).toBe(true);
  }, 120_000);
});
