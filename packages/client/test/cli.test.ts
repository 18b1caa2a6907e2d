/**
 * The command line's contract: a bad flag is one line naming it and exit 2; a target that never
 * answers is exit 1 with the errno name; a run prints the report with its ceiling header.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sys from '@course/syscalls';
import { startCommand } from '@course/testkit';
import { CANNED_SERVER } from '../src/index.js';

const { C } = sys;
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('course-load CLI', () => {
  it('rejects a bad flag with one line naming it, exit 2', () => {
    const r = run('--depth', '0');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['@course/client: --depth expects an integer from 1 to 1024, got "0"']);
    expect(run('--mode', 'churn', '--depth', '4').stderr).toContain('--depth: churn sends one request per connection');
  });

  it('names the errno when nothing answers, exit 1', () => {
    const fd = sys.check(sys.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_CLOEXEC, 0), 'socket');
    try {
      sys.check(sys.bind(fd, '127.0.0.1', 0), 'bind');
      const { port } = sys.check(sys.getsockname(fd), 'getsockname');
      const r = run('--port', String(port), '--duration', '1', '--ceiling', '0', '--connections', '2');
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('engine ceiling: not measured (--ceiling 0)');
      expect(r.stderr).toMatch(new RegExp(`no response from 127.0.0.1:${port}: ECONNREFUSED \\d+`));
    } finally {
      sys.close(fd);
    }
  });

  it('prints the ceiling header, then the report', async () => {
    const server = await startCommand([process.execPath, CANNED_SERVER, '--port', '0']);
    try {
      const r = run('--port', String(server.port), '--duration', '1', '--ceiling', '1', '--connections', '4', '--depth', '4');
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toContain('4 connections × depth 4, closed loop, keepalive, 1 s');
      expect(lines[1]).toMatch(/^engine ceiling: [\d,]+ req\/s against the canned server .* req per engine-CPU-s$/);
      expect(r.stdout).toMatch(/requests +[\d,]+ in [\d.]+ s = [\d,]+ req\/s/);
      expect(r.stdout).toMatch(/errors +0;/);
      expect(r.stdout).toMatch(/latency µs +p50 [\d,]+/);
    } finally {
      await server.stop();
    }
  });
});
