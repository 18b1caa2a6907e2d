/**
 * One port, every protocol (`--protocol auto`), against every model built on the shared Session
 * (01–05 and 07; 06's app layer has its own suite, packages/06-reactor-pool/test/auto.test.ts):
 * the first bytes of each connection decide, so the same listener serves a static GET, a
 * WebSocket echo through the `ws` package, and line-framed TCP echo — at the same time where the
 * model serves several connections at once. An over-long line closes only its own connection,
 * and, in the models with timeouts, a client that connects and says nothing is closed at the
 * header timeout (there is nothing to sniff until it speaks).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { openSocket, request, startServer, waitForClose, type RunningServer } from '@course/testkit';
import { MODEL_CONFIGS, type ModelConfig } from '../src/models.js';
import { Client, overlongLineClosesOnlyItsConnection } from './line-client.js';

const HEADER_TIMEOUT_MS = 1000;
const MODELS = MODEL_CONFIGS.filter((m) => m.pkg !== '06-reactor-pool');

/** One text message over /ws/echo with the `ws` package; resolves with the echo. */
function wsEcho(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/echo`);
    ws.once('open', () => ws.send(text));
    ws.once('message', (data) => { resolve(String(data)); ws.close(1000); });
    ws.once('error', reject);
  });
}

describe.each(MODELS)('$name: --protocol auto', (model: ModelConfig) => {
  let server: RunningServer;

  beforeAll(async () => {
    const timeouts = model.timeouts ? ['--header-timeout-ms', String(HEADER_TIMEOUT_MS)] : [];
    server = await startServer(model.pkg, { args: ['--protocol', 'auto', '--codec', 'line:max=64', ...timeouts, ...model.args] });
  });

  afterAll(async () => {
    expect((await server?.stop())?.code).toBe(0);
  });

  test('serves a static GET, a WebSocket echo and line-framed TCP echo on the same port', async () => {
    if (model.concurrent) {
      // A TCP client holds its connection open across the other two: the three share the port at once.
      const tcp = await Client.open(server.port);
      await tcp.send('hel', 'lo\n');
      const [page, echoed] = await Promise.all([request(server.port, '/index.html'), wsEcho(server.port, 'héllo, one port')]);
      expect(page.status).toBe(200);
      expect(page.body.toString()).toContain('<html');
      expect(echoed).toBe('héllo, one port');
      await tcp.expectReceived('hello\n');
      await tcp.send('again\n');
      await tcp.expectReceived('again\n');
      tcp.end();
    } else {
      // 01 serves one connection at a time: the same three, one after another.
      expect((await request(server.port, '/index.html')).status).toBe(200);
      expect(await wsEcho(server.port, 'héllo, one port')).toBe('héllo, one port');
      const tcp = await Client.open(server.port);
      await tcp.send('hel', 'lo\n');
      await tcp.expectReceived('hello\n');
      tcp.end();
    }
  });

  test('an over-long line closes that connection only', async () => {
    await overlongLineClosesOnlyItsConnection(server, model.concurrent);
    expect((await request(server.port, '/index.html')).status).toBe(200);
  });

  // Only the models with timeouts can cut a silent client; 01–04 wait for it (their chapters say so).
  if (model.timeouts) test('closes a client that says nothing at the header timeout', async () => {
    const silent = await openSocket(server.port);
    let got = 0;
    silent.on('data', (d: Buffer) => { got += d.length; });
    await waitForClose(silent, 20 * HEADER_TIMEOUT_MS); // generous: far below the 60 s idle timeout
    expect(got).toBe(0); // undecided, it was neither HTTP nor echo: closed without a word
  });
});
