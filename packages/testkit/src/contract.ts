/**
 * The CLI contract every model honours (packages/server-kit/src/cli.ts), as one table-driven
 * vitest suite. A model's test file calls `describeModelContract(pkg, modes)` once; the suite runs
 * the compiled server in each mode and checks from the outside what a reader is promised: the
 * banner, the demo site over HTTP/1.1 (GET, HEAD, 404, keep-alive, pipelining, no escape from the
 * root), the echo protocol, what one stalled client does to the next, SIGTERM, bad flags and a
 * port in use. What only one model promises (forks, threads, idle CPU, ...) stays in its package.
 *
 * Import it as `@course/testkit/contract`, from test files only: it imports vitest, which refuses
 * to load outside the vitest runner (the bench imports the rest of testkit).
 *
 * Server starts are kept few: one HTTP and one echo server per mode serve every read-only test;
 * only the tests that end a process start their own.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoRoundTrip, exchange, openAnswered, openSocket, openStalled, request } from './client.js';
import { isRunning, processTree } from './proc.js';
import { packageMain, REPO_ROOT, startServer, type RunningServer } from './server.js';
import { randomPayload, until } from './site.js';

/** One way to run a model (a row of the table). Plain data, read by the suite only. */
export interface ContractMode {
  /** Names the mode in test titles, e.g. 'prefork'. */
  name: string;
  /** The flags that select the mode; the suite adds `--port 0` and, for echo, `--protocol echo`. */
  args: string[];
  /**
   * What the banner says in this mode after `listening on URL <pkg> protocol=P`, e.g.
   * / model=prefork workers=2 /. Checked on the HTTP and the echo banner.
   */
  bannerMatch?: RegExp;
  /**
   * One connection at a time (01): a client stalled mid-request must make the next one wait until
   * it leaves. Every other model must serve the next one meanwhile.
   */
  iterative?: boolean;
  /**
   * Processes the server's tree has at least while it holds a stalled client (02 forks: wrapper,
   * server, children). Default 1. The SIGTERM test checks every one of them ends.
   */
  minProcesses?: number;
}

export interface ContractOptions {
  /** The model's own flags to refuse with exit 2, each with the flag its one error line must name. */
  badFlags?: Array<[args: string[], flag: string]>;
}

/** Bad uses of the flags every model shares, and the flag the error line must name. */
const COMMON_BAD_FLAGS: Array<[args: string[], flag: string]> = [
  [['--bogus', '1'], '--bogus'],
  [['--port', 'abc'], '--port'],
  [['--protocol', 'ftp'], '--protocol'],
  [['--root', '/no/such/dir'], '--root'],
];

const SITE = join(REPO_ROOT, 'site');
/** Per-test time limit: generous, for a loaded 2-core machine; no assertion depends on it. */
const SLOW = { timeout: 60_000 };
const START_TIMEOUT = 30_000;

/** A request line and Host header; the last request of a burst asks the server to close. */
function get(path: string, close = false): string {
  return `GET ${path} HTTP/1.1\r\nHost: x\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Run `node dist/main.js --port 0 ...args` to completion, for start-ups that must fail (status null: killed after 20 s). */
function runToExit(pkg: string, args: string[]) {
  return spawnSync(process.execPath, [packageMain(pkg), '--port', '0', ...args], { encoding: 'utf8', timeout: 20_000 });
}

/** Register the contract tests for `packages/<pkg>` in each of its `modes`. */
export function describeModelContract(pkg: string, modes: ContractMode[], options: ContractOptions = {}): void {
  const index = readFileSync(join(SITE, 'index.html'));
  const logo = readFileSync(join(SITE, 'logo.svg'));

  /** The banner: the URL the server really listens on, the package, its protocol and its model. */
  function expectBanner(server: RunningServer, mode: ContractMode, scheme: 'http' | 'tcp', protocol: 'http' | 'echo'): void {
    const shape = new RegExp(`^listening on ${scheme}://127\\.0\\.0\\.1:${server.port} ${escapeRegExp(pkg)} protocol=${protocol} model=\\S+`);
    expect(server.banner).toMatch(shape);
    if (mode.bannerMatch) expect(server.banner).toMatch(mode.bannerMatch);
  }

  describe.each(modes)(`${pkg} contract, mode $name`, (mode) => {
    describe('over HTTP', () => {
      let server: RunningServer;
      beforeAll(async () => { server = await startServer(pkg, { args: mode.args }); }, START_TIMEOUT);
      afterAll(async () => { await server?.stop(); });

      it('prints the banner the CLI contract promises', () => {
        expectBanner(server, mode, 'http', 'http');
      });

      it('serves the demo site: index.html byte-exact as text/html, style.css as text/css', SLOW, async () => {
        const res = await request(server.port, '/');
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(res.body.equals(index)).toBe(true);
        const css = await request(server.port, '/style.css');
        expect(css.status).toBe(200);
        expect(css.headers['content-type']).toMatch(/^text\/css/);
      });

      it('answers 404 for a missing file and keeps serving', SLOW, async () => {
        expect((await request(server.port, '/no-such-file.html')).status).toBe(404);
        expect((await request(server.port, '/')).status).toBe(200);
      });

      it('answers HEAD with the headers of GET and not one byte of body', SLOW, async () => {
        // Read until the server closes: any body bytes would show up after the header block.
        const r = await exchange(server.port, `HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { headRequests: [true] });
        expect(r.responses).toHaveLength(1);
        const res = r.responses[0]!;
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^text\/html/);
        expect(Number(res.headers['content-length'])).toBe(index.length);
        expect(r.raw.length).toBe(r.raw.indexOf('\r\n\r\n') + 4);
      });

      it('keeps a connection alive across requests that arrive in pieces', SLOW, async () => {
        const r = await exchange(server.port, ['GET / HT', 'TP/1.1\r\nHost: x\r\n\r\n', get('/style.css', true)]);
        expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
        expect(r.responses[0]!.body.equals(index)).toBe(true);
        expect(r.responses[1]!.headers['content-type']).toMatch(/^text\/css/);
        expect(r.closed).toBe(true);
      });

      it('answers pipelined requests in order', SLOW, async () => {
        const paths = ['/', '/style.css', '/missing', '/', '/logo.svg'];
        const r = await exchange(server.port, paths.map((p, i) => get(p, i === paths.length - 1)).join(''));
        expect(r.responses.map((x) => x.status)).toEqual([200, 200, 404, 200, 200]);
        expect(r.responses[0]!.body.equals(index)).toBe(true);
        expect(r.responses[1]!.headers['content-type']).toMatch(/^text\/css/);
        expect(r.responses[3]!.body.equals(index)).toBe(true);
        expect(r.responses[4]!.body.equals(logo)).toBe(true);
      });

      it('never serves a file outside the root', SLOW, async () => {
        for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%252e%252e/etc/passwd', '/..\\..\\etc\\passwd', '/%c0%ae%c0%ae/etc/passwd']) {
          const r = await exchange(server.port, get(path, true));
          const res = r.responses[0];
          expect(res, path).toBeDefined();
          expect(res!.status, path).toBeGreaterThanOrEqual(400);
          expect(res!.body.toString('latin1'), path).not.toMatch(/root:.*:0:0:/);
        }
      });

      if (mode.iterative) {
        it('is iterative: a second client waits until the first, stalled mid-request, leaves', SLOW, async () => {
          const first = await openStalled(server.port); // the server now sits in read() on it
          try {
            let secondAnswered = false;
            const second = request(server.port, '/style.css', { timeoutMs: 30_000 }).then((res) => { secondAnswered = true; return res; });
            // Proof by ordering, not timing: the second can only be answered after the first leaves.
            await new Promise((r) => setTimeout(r, 300));
            expect(secondAnswered).toBe(false);
            first.end();
            expect((await second).status).toBe(200);
          } finally {
            first.destroy();
          }
        });
      } else {
        it('serves a second client while the first stalls mid-request', SLOW, async () => {
          const stalled = await openStalled(server.port);
          try {
            // The stalled request never completes, so an answer here cannot come from waiting it out.
            expect((await request(server.port, '/style.css')).status).toBe(200);
          } finally {
            stalled.destroy();
          }
        });
      }

      it('refuses a port in use: exit 1, one line naming EADDRINUSE, no stack trace', SLOW, () => {
        const r = runToExit(pkg, [...mode.args, '--port', String(server.port)]);
        expect(r.status).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toContain('EADDRINUSE');
        expect(r.stderr).not.toMatch(/\n\s+at /);
      });

      // Last: it ends the shared server (afterAll's stop is then a no-op).
      it('exits 0 on SIGTERM when idle (waiting in accept)', SLOW, async () => {
        expect(await server.stop()).toEqual({ code: 0, signal: null });
      });
    });

    describe('over echo', () => {
      let server: RunningServer;
      beforeAll(async () => { server = await startServer(pkg, { args: [...mode.args, '--protocol', 'echo'] }); }, START_TIMEOUT);
      afterAll(async () => { await server?.stop(); });

      it('announces a tcp:// URL', () => {
        expectBanner(server, mode, 'tcp', 'echo');
      });

      it('echoes 1 MB byte-exact on each of 20 connections at once', SLOW, async () => {
        const payloads = Array.from({ length: 20 }, () => randomPayload(1024 * 1024));
        const backs = await Promise.all(payloads.map((p) => echoRoundTrip(server.port, p, { timeoutMs: 50_000 })));
        backs.forEach((b, i) => expect(b.equals(payloads[i]!), `connection ${i}`).toBe(true));
      });
    });
  });

  // Concurrent across modes: each test runs its own server, and a model may give a stalled client
  // a grace period before it leaves (05 waits up to 2 s for the request to complete).
  describe.concurrent(`${pkg} contract, SIGTERM`, () => {
    // (it.for hands each test its own `expect`, as concurrent tests need.)
    it.for(modes)('mode $name: exits 0 while one client stalls mid-request and another sits idle, leaving no process behind', SLOW, async (mode, { expect }) => {
      const server = await startServer(pkg, { args: mode.args });
      const open: Socket[] = [];
      try {
        open.push(await openStalled(server.port)); // first: an iterative server would never get past it
        // The idle one: answered once, so the server surely holds it. An iterative server cannot
        // answer it: it waits in the listen backlog instead.
        const idle = mode.iterative ? await openSocket(server.port) : await openAnswered(server.port);
        idle.on('error', () => { /* reset by the dying server: expected */ });
        open.push(idle);
        // No event says "back in read()": a moment for the blocking models to get there. (A SIGTERM
        // landing between two reads is a race in the serve loop, not this test's subject; 02 then
        // SIGKILLs the child after a 2 s grace.)
        await new Promise((r) => setTimeout(r, 100));
        const tree = processTree(server.pid);
        expect(tree.length).toBeGreaterThanOrEqual(mode.minProcesses ?? 1);
        expect(await server.stop()).toEqual({ code: 0, signal: null });
        await until(() => tree.every((p) => !isRunning(p)), 10_000, 'every process of the tree to end');
      } finally {
        for (const s of open) s.destroy();
        await server.stop();
      }
    });
  });

  describe(`${pkg} contract, command line`, () => {
    it.each([...COMMON_BAD_FLAGS, ...(options.badFlags ?? [])])('refuses %j with exit 2 and one line naming %s', (args, flag) => {
      const r = runToExit(pkg, args);
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(flag);
    }, 30_000);
  });
}
