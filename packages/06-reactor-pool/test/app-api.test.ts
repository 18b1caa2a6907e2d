/**
 * The library's app API from a user's side: a TCP app (test/fixtures/shout-app.mjs) that uses
 * every connection hook, tasks and onTick; the plain echo protocol when an app has no onReceive;
 * and a broken app module.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { echoRoundTrip, openSocket, packageMain, randomPayload, startServer, until } from '@course/testkit';
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

describe('a framed TCP app (it exports its codec)', () => {
  const frame = (s: string): Buffer => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)]);

  /** Collect what `sock` receives until `n` bytes, or its close. */
  async function receive(sock: Socket, n: number): Promise<{ bytes: Buffer; closed: boolean }> {
    let bytes = Buffer.alloc(0);
    let closed = false;
    sock.on('data', (d: Buffer) => { bytes = Buffer.concat([bytes, d]); });
    sock.on('close', () => { closed = true; });
    sock.on('error', () => { /* a reset is a close */ });
    await until(() => bytes.length >= n || closed, 20000, `${n} bytes`);
    return { bytes, closed };
  }

  it('gets one whole frame per onReceive however the writes cut them, and conn.send encodes', async () => {
    const server = await startServer(PKG, { args: ['--protocol', 'echo', '--app', fixture('framed-app.mjs'), '--reactors', '1', '--workers', '1'] });
    try {
      expect(server.banner).toContain('protocol=echo');
      const sock = await openSocket(server.port);
      const stream = Buffer.concat([frame('abc'), frame('hello')]);
      sock.write(stream.subarray(0, 1));
      await new Promise((r) => setTimeout(r, 50));
      sock.write(stream.subarray(1, 7));
      await new Promise((r) => setTimeout(r, 50));
      sock.write(stream.subarray(7));
      const want = Buffer.concat([frame('cba'), frame('#1'), frame('olleh'), frame('#2')]);
      const got = await receive(sock, want.length);
      expect(got.bytes.toString('hex')).toBe(want.toString('hex'));
      // A length over the app's max (34) closes the connection, saying why.
      sock.write(Buffer.from([0, 40]));
      await until(() => got.closed || sock.destroyed, 20000, 'the close');
      await until(() => server.stderr().includes('frame of 42 bytes exceeds max 34'), 20000, 'the logged reason');
    } finally {
      await server.stop();
    }
  });

  it('--codec overrides the app\'s export', async () => {
    const server = await startServer(PKG, { args: ['--protocol', 'echo', '--codec', 'line', '--app', fixture('framed-app.mjs'), '--reactors', '1', '--workers', '1'] });
    try {
      expect(server.banner).toContain('codec=line:max=65536');
      const sock = await openSocket(server.port);
      sock.write('abc\r\nxy\n');
      const got = await receive(sock, 'cba\n#1\nyx\n#2\n'.length);
      expect(got.bytes.toString()).toBe('cba\n#1\nyx\n#2\n');
      sock.destroy();
    } finally {
      await server.stop();
    }
  });

  it('an app whose codec export is no codec is refused at start-up', () => {
    const r = spawnSync(process.execPath, [packageMain(PKG), '--port', '0', '--protocol', 'echo', '--app', fixture('bad-codec-app.mjs')], { encoding: 'utf8', timeout: 20000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/codec: length: size must be 1, 2, 4 or 8, got 3/);
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
