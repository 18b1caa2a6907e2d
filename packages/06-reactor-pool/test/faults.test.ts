/**
 * A fault stays with its connection: an app hook that throws for one request closes that one
 * connection — with a 500, since the app owed the answer — logs one line naming it, and the
 * SubReactor and every other connection go on serving.
 */
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { exchange, startServer } from '@course/testkit';
import { KeepAlive, PKG } from './helpers.js';

const app = fileURLToPath(new URL('./fixtures/faulty-app.mjs', import.meta.url));

describe('an app hook that throws for one request', () => {
  it('gets that connection a 500 and a close, one log line, and leaves the others served', async () => {
    // One SubReactor: every connection shares the loop that meets the faults.
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--app', app] });
    try {
      const bystander = await KeepAlive.open(server.port);
      expect((await bystander.get('/')).status).toBe(200);

      for (const [path, hook] of [['/boom', 'onRequest'], ['/boom-later', 'onFinish']] as const) {
        // A request pipelined behind the faulty one: the connection still ends, whatever it answers.
        const r = await exchange(server.port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 20_000 });
        expect(r.responses[0]?.status, path).toBe(500);
        expect(r.closed, path).toBe(true); // the server closed it
        const lines = server.stderr().split('\n').filter((l) => l.includes(`${hook} threw`));
        expect(lines, hook).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^reactor 0: ${hook} threw for connection \\d+ \\(127\\.0\\.0\\.1\\): Error: ${hook} failed on purpose; closing it$`));

        // The bystander, and a new connection, are served as before.
        expect((await bystander.get('/')).status).toBe(200);
        expect((await bystander.get('/ok-later')).body.toString()).toBe('later\n');
      }
      expect(server.proc.exitCode).toBeNull();
      bystander.close();
    } finally {
      await server.stop();
    }
  });
});
