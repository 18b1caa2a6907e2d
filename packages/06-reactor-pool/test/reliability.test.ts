/**
 * What happens when things go wrong or the server is told to stop: a WorkerPool thread dies, a
 * SubReactor dies, SIGTERM arrives in the middle of a large download.
 */
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { makeTempSite, openSocket, parseResponses, randomPayload, request, startServer, waitForClose } from '@course/testkit';
import { KeepAlive, PKG } from './helpers.js';

const crashEnv = { ...process.env, COURSE_ALLOW_CRASH: '1' };

describe('a WorkerPool thread that dies', () => {
  it('is replaced, and the client of its task gets a 500', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1'], env: crashEnv });
    try {
      const crashed = await request(server.port, '/api/crash?thread=worker');
      expect(crashed.status).toBe(500);
      expect(crashed.body.toString()).toMatch(/worker thread died/);
      // The only worker died: this task can only succeed on its replacement.
      const after = await request(server.port, '/api/fib?n=20');
      expect(after.status).toBe(200);
      expect(after.body.toString()).toBe('6765\n');
      const stats = await (await KeepAlive.open(server.port)).stats();
      expect(stats.workers).toMatchObject({ threads: 1, restarts: 1, failed: 1, done: 1 });
      expect(server.stderr()).toMatch(/worker 0 died/);
      expect(server.proc.exitCode).toBeNull();
    } finally {
      await server.stop();
    }
  });
});

describe('a SubReactor that dies', () => {
  it('is reported, and the process exits 1 instead of running on without it', async () => {
    const server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1'], env: crashEnv });
    const idle = await KeepAlive.open(server.port); // a connection on reactor 0 ...
    expect((await idle.get('/')).status).toBe(200);
    // ... and the crash request goes to reactor 1, which dies while serving it.
    await request(server.port, '/api/crash?thread=reactor').catch(() => undefined);
    const exit = await server.exited;
    expect(exit.code).toBe(1);
    expect(server.stderr()).toMatch(/reactor 1 died \(exit code 1\)/);
    idle.close();
  });
});

describe('SIGTERM', () => {
  it('lets an in-flight 8 MB download finish byte-exact, closes idle connections, and exits 0', async () => {
    const big = randomPayload(8 * 1024 * 1024);
    const site = makeTempSite({ 'big.bin': big, 'index.html': '<p>hi</p>' });
    const server = await startServer(PKG, { args: ['--root', site.root, '--reactors', '2', '--workers', '1'] });
    try {
      const idle = await KeepAlive.open(server.port);
      expect((await idle.get('/index.html')).status).toBe(200);
      const idleClosed = waitForClose(idle.sock, 20000);

      // Start the download, take the first bytes, then stop reading: the rest waits in the server.
      const sock: Socket = await openSocket(server.port);
      const chunks: Buffer[] = [];
      const firstBytes = new Promise<void>((resolve) => sock.once('data', () => resolve()));
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.write('GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n');
      await firstBytes;
      sock.pause();
      const ended = new Promise<void>((resolve) => sock.on('close', () => resolve()));

      server.proc.kill('SIGTERM');
      await idleClosed; // the idle keep-alive connection is closed at once...
      expect(server.proc.exitCode).toBeNull(); // ...while the download still holds the server
      sock.resume();
      await ended;
      const { responses } = parseResponses(Buffer.concat(chunks));
      expect(responses).toHaveLength(1);
      expect(responses[0]!.status).toBe(200);
      expect(responses[0]!.body.equals(big)).toBe(true);
      expect(await server.exited).toEqual({ code: 0, signal: null });
    } finally {
      await server.stop();
      site.remove();
    }
  });
});
