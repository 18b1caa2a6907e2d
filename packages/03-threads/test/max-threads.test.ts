/**
 * The cap on concurrent threads in per-connection mode: past it, clients wait in the accept queue
 * (they are served later) instead of the server failing to start threads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { openSocket, request, startServer, threadCount, until, type RunningServer } from '@course/testkit';

let server: RunningServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.stop();
  server = undefined;
});

describe('03-threads --mode per-connection --max-threads', () => {
  it('defaults the cap from the fd limit and says so in the banner', async () => {
    server = await startServer('03-threads', { prefix: ['sh', '-c', 'ulimit -n 96 && exec "$0" "$@"'] });
    expect(server.banner).toContain('max-threads=4'); // (96 - 32) / 16 fds per thread
  });

  it('serves at most N connections at once; the next waits in the accept queue, then is served', { timeout: 30_000 }, async () => {
    server = await startServer('03-threads', { args: ['--max-threads', '2'] });
    const base = threadCount(server.pid);
    for (let i = 0; i < 2; i++) {
      const s = await openSocket(server.port);
      s.write('GET / HTTP/1.1\r\nHost: x\r\n'); // half a request: its thread stays in read()
      sockets.push(s);
    }
    await until(() => threadCount(server!.pid) >= base + 2, 10_000, 'two connection threads');
    let answered = false;
    const third = request(server.port, '/', { timeoutMs: 20_000 }).then((r) => { answered = true; return r; });
    await new Promise((r) => setTimeout(r, 500));
    expect(answered).toBe(false); // at the cap: not accepted yet
    expect(threadCount(server.pid)).toBeLessThanOrEqual(base + 2);
    sockets.shift()!.destroy(); // one thread finishes and is joined
    expect((await third).status).toBe(200);
  });
});
