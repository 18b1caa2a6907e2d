/**
 * One port for everything (`--protocol auto`, 06's default): a real 06 process with the demo app,
 * whose listener serves HTTP, WebSocket upgrades and the demo's line-framed TCP chat, each
 * connection told apart by its first bytes (protocol's sniffProtocol, inside the SubReactor's
 * AppProtocol). Black-box: raw sockets, testkit's HTTP client and the `ws` package.
 *
 *   - the same port answers, at once, a static GET, a WebSocket echo and TCP chat lines;
 *   - a line over the codec's maximum closes that connection only;
 *   - a client that connects and says nothing is closed at the header timeout (the idle timeout
 *     is set far away, so nothing else could close it);
 *   - a TCP chat user and a /ws/chat user on different SubReactors see each other's messages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { REPO_ROOT, openSocket, request, startServer, until, waitForClose, type RunningServer } from '@course/testkit';
import { KeepAlive, LineReader, PKG } from './helpers.js';

const INDEX = readFileSync(join(REPO_ROOT, 'site', 'index.html'));
/** The demo app's codec export (src/demo-app.ts): `line:max=4096`. */
const MAX_LINE = 4096;
const HEADER_TIMEOUT_MS = 1000;

/** Lines from `reader` until one matches `re` (the chat interleaves joins, rosters, other users). */
async function lineMatching(reader: LineReader, re: RegExp): Promise<string> {
  for (;;) {
    const line = await reader.next(20_000);
    if (re.test(line)) return line;
  }
}

/** A TCP chat user: connected, `/nick` sent, the welcome line read; `reactor` is where it landed. */
async function tcpUser(port: number, nick: string): Promise<{ lines: LineReader; reactor: number }> {
  const lines = new LineReader(await openSocket(port));
  lines.sock.write(`/nick ${nick}\n`);
  const welcome = await lineMatching(lines, /^\* welcome, /);
  expect(welcome).toMatch(new RegExp(`^\\* welcome, ${nick} \\(reactor \\d+\\)`));
  return { lines, reactor: Number(/reactor (\d+)/.exec(welcome)![1]) };
}

/** A WebSocket client of `path`: every text message, and a way to wait for one. */
function wsClient(port: number, path: string): Promise<{ ws: WebSocket; until<T>(pick: (m: string) => T | undefined): Promise<T> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const texts: string[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d, isBinary) => {
    if (!isBinary) texts.push(String(d));
    for (const w of waiters.splice(0)) w();
  });
  const until = <T>(pick: (m: string) => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no such message in time; got: ${texts.slice(-5).join(' | ')}`)), 20_000);
      let seen = 0;
      const check = (): void => {
        for (; seen < texts.length; seen++) {
          const v = pick(texts[seen]!);
          if (v !== undefined) {
            clearTimeout(timer);
            texts.splice(0, seen + 1);
            return resolve(v);
          }
        }
        waiters.push(check);
      };
      check();
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, until }));
    ws.once('error', reject);
  });
}

/** One WebSocket echo round trip on /ws/echo. */
async function wsEcho(port: number, text: string): Promise<string> {
  const c = await wsClient(port, '/ws/echo');
  try {
    c.ws.send(text);
    return await c.until((m) => m);
  } finally {
    c.ws.terminate();
  }
}

describe('--protocol auto: one port, every protocol', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(PKG, {
      args: ['--protocol', 'auto', '--reactors', '2', '--workers', '1', '--header-timeout-ms', String(HEADER_TIMEOUT_MS), '--idle-timeout-ms', '600000'],
    });
  });
  afterAll(async () => { await server?.stop(); });

  it('prints the HTTP banner: a browser is the usual first visitor', () => {
    expect(server.banner).toMatch(new RegExp(`^listening on http://127\\.0\\.0\\.1:${server.port} ${PKG} protocol=http model=reactor-pool `));
  });

  it('answers a static GET, a WebSocket echo and TCP chat lines on the same port at once', async () => {
    const http = Array.from({ length: 4 }, () => request(server.port, '/index.html'));
    const echoes = Array.from({ length: 4 }, (_, i) => wsEcho(server.port, `echo ${i}`));
    const chats = Array.from({ length: 4 }, async (_, i) => {
      const u = await tcpUser(server.port, `user${i}`);
      u.lines.sock.write(`line from user${i}\n`);
      const mine = await lineMatching(u.lines, new RegExp(`^user${i}: `));
      u.lines.sock.destroy();
      return mine;
    });
    const [pages, echoed, said] = await Promise.all([Promise.all(http), Promise.all(echoes), Promise.all(chats)]);
    for (const res of pages) {
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.body.equals(INDEX)).toBe(true);
    }
    expect(echoed).toEqual(['echo 0', 'echo 1', 'echo 2', 'echo 3']);
    expect(said).toEqual(['user0: line from user0', 'user1: line from user1', 'user2: line from user2', 'user3: line from user3']);
  });

  it('closes only the connection whose line is over the codec maximum', async () => {
    // Others of each kind, open before and still open during the oversize line.
    const page = await KeepAlive.open(server.port);
    expect((await page.get('/index.html')).status).toBe(200);
    const echo = await wsClient(server.port, '/ws/echo');
    const chatter = await tcpUser(server.port, 'steady');

    const big = new LineReader(await openSocket(server.port));
    big.sock.write('/nick big\n');
    expect(await lineMatching(big, /^\* welcome, big /)).toBeTruthy();
    big.sock.write('x'.repeat(MAX_LINE + 100)); // no newline can make this a line any more
    await waitForClose(big.sock, 20_000);
    // The log line names the connection and the reason (stderr is a pipe: it may trail the close).
    const why = /closing connection \d+\/\d+ \(127\.0\.0\.1\): \d+ bytes without a delimiter exceed max frame 4096 \(codec line:max=4096\)/;
    await until(() => why.test(server.stderr()), 20_000, 'the oversize line logged');

    // Everyone else carries on.
    expect(await lineMatching(chatter.lines, /^\* big left$/)).toBe('* big left');
    chatter.lines.sock.write('still here\n');
    expect(await lineMatching(chatter.lines, /^steady: /)).toBe('steady: still here');
    echo.ws.send('still echoing');
    expect(await echo.until((m) => m)).toBe('still echoing');
    const again = await page.get('/index.html');
    expect(again.status).toBe(200);
    expect(again.body.equals(INDEX)).toBe(true);
    expect(server.proc.exitCode).toBeNull();
    page.close();
    echo.ws.terminate();
    chatter.lines.sock.destroy();
  });

  it('closes a client that connects and sends nothing at the header timeout, not the (10-minute) idle one', async () => {
    const silent = await openSocket(server.port);
    let got = 0;
    silent.on('data', (d: Buffer) => { got += d.length; });
    await waitForClose(silent, 30_000); // 30 s: far above the 1 s header timeout, far below the idle timeout
    expect(got).toBe(0); // undecided, it was neither HTTP nor chat: closed without a word
    // ...while a client that does speak is served as ever.
    expect((await request(server.port, '/index.html')).status).toBe(200);
  });
});

describe('the demo chat over TCP (06 started without --protocol: auto is the default)', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer(PKG, { args: ['--reactors', '2', '--workers', '1'] }); });
  afterAll(async () => { await server?.stop(); });

  it('a TCP user and a /ws/chat user on different SubReactors see each other', async () => {
    const page = await wsClient(server.port, '/ws/chat');
    page.ws.send(JSON.stringify({ type: 'join', nick: 'wendy' }));
    const welcome = await page.until((m) => { const v = JSON.parse(m) as { type: string; reactor: number }; return v.type === 'welcome' ? v : undefined; });
    const tom = await tcpUser(server.port, 'tom');
    // Round-robin: the second connection went to the other SubReactor, so every message below crossed threads (publish).
    expect(tom.reactor).not.toBe(welcome.reactor);

    // The page lists the TCP user among who is online (the rosters of every reactor).
    await page.until((m) => { const v = JSON.parse(m) as { type: string; users?: string[] }; return v.type === 'roster' && v.users!.includes('tom') ? true : undefined; });

    // TCP → page: in the JSON the page renders.
    tom.lines.sock.write('hello from nc\r\n');
    const said = await page.until((m) => { const v = JSON.parse(m) as { type: string; nick?: string }; return v.type === 'say' && v.nick === 'tom' ? v : undefined; });
    expect(said).toMatchObject({ type: 'say', nick: 'tom', reactor: tom.reactor, text: 'hello from nc' });
    expect(typeof (said as { at?: unknown }).at).toBe('number');

    // Page → TCP: one readable line.
    page.ws.send(JSON.stringify({ type: 'say', text: 'hello from the browser' }));
    expect(await lineMatching(tom.lines, /^wendy: /)).toBe('wendy: hello from the browser');

    // A bad command gets a line back, and the user stays.
    tom.lines.sock.write('/shout\n');
    expect(await lineMatching(tom.lines, /^\* commands: /)).toBe('* commands: /nick NAME, /quit');

    // Leaving is announced to the TCP user.
    page.ws.close();
    expect(await lineMatching(tom.lines, /^\* wendy left$/)).toBe('* wendy left');
    tom.lines.sock.write('/quit\n');
    await waitForClose(tom.lines.sock, 20_000);
  });
});

describe('a TCP chat user is a listener', () => {
  let server: RunningServer;
  beforeAll(async () => { server = await startServer(PKG, { args: ['--reactors', '1', '--workers', '1', '--idle-timeout-ms', '500'] }); });
  afterAll(async () => { await server?.stop(); });

  it('keeps no idle timeout once subscribed, while a TCP connection that never joined meets it', async () => {
    const listener = await tcpUser(server.port, 'quiet'); // subscribed to the room: no idle timeout
    const bystander = new LineReader(await openSocket(server.port));
    bystander.sock.write('hello?\n'); // TCP, not joined: an ordinary connection
    expect(await bystander.next()).toBe('* say /nick NAME first');
    await waitForClose(bystander.sock, 20_000); // the 500 ms idle timeout, as for any connection
    expect(listener.lines.closed).toBe(false); // silent as long, and more, and still here

    const page = await wsClient(server.port, '/ws/chat');
    page.ws.send(JSON.stringify({ type: 'join', nick: 'loud' }));
    page.ws.send(JSON.stringify({ type: 'say', text: 'anyone there?' }));
    expect(await lineMatching(listener.lines, /^loud: /)).toBe('loud: anyone there?');
    page.ws.terminate();
    listener.lines.sock.destroy();
  });
});
