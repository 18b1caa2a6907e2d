/**
 * Step 06 as a library that can be stopped: close() ends every thread and closes every fd, the
 * same port can be served again in the same process, and a host that calls process.exit() while a
 * server runs ends at once (SubReactor threads blocked in epoll_wait must not hold it).
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fdCount, request, threadCount } from '@course/testkit';
import { createServer } from '../dist/index.js';

const host = fileURLToPath(new URL('./fixtures/host.mjs', import.meta.url));

/** One create → serve → request → close round in this process; returns the port it used. */
async function round(port: number): Promise<number> {
  const server = await createServer({ port, reactors: 2, workers: 2 });
  const serving = server.serve();
  const res = await request(server.listener.port, '/api/fib?n=20');
  expect(res.status).toBe(200);
  expect(res.body.toString()).toBe('6765\n');
  await server.close();
  expect(await serving).toBe(true);
  return server.listener.port;
}

describe('server.close()', () => {
  it('ends every thread and closes every fd it opened; the same port serves again', async () => {
    // The first round also lets Node start what it starts once per process (its own threads).
    const port = await round(0);
    const fds = fdCount(process.pid);
    const threads = threadCount(process.pid);
    await round(port); // the same port: the listener really was closed
    await round(port);
    expect(fdCount(process.pid)).toBe(fds);
    expect(threadCount(process.pid)).toBe(threads);
  });

  it('works without serve(): the threads started by createServer end too', async () => {
    const threads = threadCount(process.pid);
    const server = await createServer({ port: 0, reactors: 2, workers: 1 });
    expect(threadCount(process.pid)).toBeGreaterThanOrEqual(threads + 3);
    await server.close();
    expect(threadCount(process.pid)).toBe(threads);
    await expect(server.serve()).rejects.toThrow(/already serving or closed/);
  });
});

/** Run host.mjs in `mode`; resolve with its exit and the ms from its `marker` line to its exit. */
function runHost(mode: string, marker: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; afterMarkerMs: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [host, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let markedAt = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (markedAt === 0 && stdout.split('\n').includes(marker)) markedAt = Date.now();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const killer = setTimeout(() => child.kill('SIGKILL'), 50_000); // a hang ends as a failure, not a stuck run
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, afterMarkerMs: markedAt === 0 ? Infinity : Date.now() - markedAt, stdout, stderr });
    });
  });
}

describe('a host process', () => {
  // Generous bounds: the point is "ends" against "hangs for ever", not a speed.
  it('ends at once when it calls process.exit() while the server serves', async () => {
    const r = await runHost('exit-serving', 'exiting');
    expect(r.stdout).toContain('200 6765');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 3, signal: null });
    expect(r.afterMarkerMs).toBeLessThan(10_000);
  });

  it('ends at once when it calls process.exit() after createServer, before serve()', async () => {
    const r = await runHost('exit-created', 'exiting');
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 4, signal: null });
    expect(r.afterMarkerMs).toBeLessThan(10_000);
  });

  it('ends by itself after close(): nothing of the server keeps it alive', async () => {
    const r = await runHost('close', 'closed');
    expect(r.stdout).toContain('200 6765\ndrained true\n200 10946\ndrained true\nclosed\n');
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(r.afterMarkerMs).toBeLessThan(10_000);
  });
});
