/**
 * The library's app API from a user's side: a TCP app (test/fixtures/shout-app.mjs) that uses
 * every connection hook, tasks and onTick; the plain echo protocol when an app has no onReceive;
 * and a broken app module.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { echoRoundTrip, openSocket, packageMain, randomPayload, startServer } from '@course/testkit';
import { LineReader, PKG } from './helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('a TCP app (--protocol echo --app shout-app.mjs)', () => {
  it('gets onConnect, onReceive, tasks, onTick and onClose on its reactor', async () => {
    const server = await startServer(PKG, { args: ['--protocol', 'echo', '--app', fixture('shout-app.mjs'), '--reactors', '1', '--workers', '2'] });
    try {
      expect(server.banner).toMatch(/^listening on tcp:\/\//);
      const lines = new LineReader(await openSocket(server.port));
      expect(await lines.next()).toBe('hello from reactor 0');
      expect(await lines.ask('shout')).toBe('SHOUT');
      // Split across writes: the app keeps the partial line in conn.context.
      lines.sock.write('hal');
      expect(await lines.ask('f and half')).toBe('HALF AND HALF');
      expect(await lines.ask('fib 50')).toBe('fib-50 12586269025');
      expect(await lines.ask('fail')).toBe('fail error negative n');
      for (;;) {
        const ticks = Number((await lines.ask('ticks')).split(' ')[1]);
        if (ticks > 0) break; // onTick runs every second on the reactor
        await new Promise((r) => setTimeout(r, 200));
      }
      const other = new LineReader(await openSocket(server.port));
      expect(await other.next()).toBe('hello from reactor 0');
      other.sock.write('bye\n');
      await new Promise<void>((resolve) => other.sock.on('close', () => resolve()));
      expect(await lines.ask('closes')).toBe('closes 1');
      lines.sock.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe('--protocol echo with an app that has no onReceive', () => {
  it('echoes 40 connections × 1 MB byte-exact over 2 reactors', async () => {
    const server = await startServer(PKG, { args: ['--protocol', 'echo', '--reactors', '2', '--workers', '1'] });
    try {
      const payloads = Array.from({ length: 40 }, () => randomPayload(1024 * 1024));
      const echoed = await Promise.all(payloads.map((p) => echoRoundTrip(server.port, p, { timeoutMs: 60000 })));
      for (let i = 0; i < payloads.length; i++) expect(echoed[i]!.equals(payloads[i]!), `connection ${i}`).toBe(true);
    } finally {
      await server.stop();
    }
  });
});

describe('a broken app module', () => {
  it('is refused at start-up, naming the misspelt hook', () => {
    const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0', '--app', fixture('typo-app.mjs')], { encoding: 'utf8', timeout: 20000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown hook onRecieve/);
    expect(r.stdout).not.toMatch(/listening on/);
  });
});
