/**
 * Framed echo against every model (`--protocol echo --codec ...`): each whole frame comes back
 * once, encoded, however the client cuts its writes; a frame over the maximum, or a length field
 * that makes no frame, closes that connection — after the frames before it are answered, with a
 * line on stderr saying why — and the server goes on serving everyone else.
 *
 * The codecs themselves are unit- and property-tested in packages/protocol; this suite proves
 * that every model wires `--codec` through to the threads and processes that serve connections.
 */
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { packageMain, startServer, until, type RunningServer } from '@course/testkit';
import { MODEL_CONFIGS, type ModelConfig } from '../src/models.js';
import { Client, overlongLineClosesOnlyItsConnection } from './line-client.js';

describe.each(MODEL_CONFIGS)('$name: --protocol echo --codec', (model: ModelConfig) => {
  let line: RunningServer;
  let length: RunningServer;

  beforeAll(async () => {
    [line, length] = await Promise.all([
      startServer(model.pkg, { args: ['--protocol', 'echo', '--codec', 'line:max=64', ...model.args] }),
      startServer(model.pkg, { args: ['--protocol', 'echo', '--codec', 'length:size=2,max=34', ...model.args] }),
    ]);
  });

  afterAll(async () => {
    for (const server of [line, length]) expect((await server?.stop())?.code).toBe(0);
  });

  test('announces its codec, spelt out', () => {
    expect(line.banner).toContain('protocol=echo codec=line:max=64');
    expect(length.banner).toContain('codec=length:offset=0,size=2,endian=be,adjust=0,strip=2,max=34');
  });

  test('line: each line echoed once, \\r\\n as \\n, however the writes cut it', async () => {
    const c = await Client.open(line.port);
    await c.send('hel', 'lo\r', '\nwor', 'ld\nline 3\n\n');
    await c.expectReceived('hello\nworld\nline 3\n\n');
    await c.send('a'.repeat(64) + '\n'); // exactly the maximum
    await c.expectReceived('a'.repeat(64) + '\n');
    c.end();
  });

  test('line: a line over the maximum closes that connection only, with a logged reason', async () => {
    await overlongLineClosesOnlyItsConnection(line, model.concurrent);
  });

  test('length: frames in one write and frames cut mid-header are each echoed', async () => {
    const frame = (s: string): Buffer => Buffer.concat([Buffer.from([0, s.length]), Buffer.from(s)]);
    const c = await Client.open(length.port);
    const stream = Buffer.concat([frame('one'), frame(''), frame('x'.repeat(32)), frame('four')]);
    await c.send(stream.subarray(0, 1), stream.subarray(1, 6), stream.subarray(6));
    await c.expectReceived(stream);
    c.end();
  });

  test('length: a length field over the maximum closes the connection before its body is sent', async () => {
    const c = await Client.open(length.port);
    await c.send(Buffer.from([0, 2, 0x68, 0x69, 0xff, 0xff]));
    await c.expectReceived(Buffer.from([0, 2, 0x68, 0x69]));
    await c.expectClosed();
    await until(() => length.stderr().includes('frame of 65537 bytes exceeds max 34'), 20_000, 'the reason on stderr');

    const next = await Client.open(length.port);
    await next.send(Buffer.from([0, 1, 0x21]));
    await next.expectReceived(Buffer.from([0, 1, 0x21]));
    next.end();
  });
});

describe('--codec on the command line', () => {
  test.each([
    [['--protocol', 'echo', '--codec', 'length:size=3'], '--codec: length: size must be 1, 2, 4 or 8, got 3'],
    [['--codec', 'line'], '--codec frames TCP: it needs --protocol echo or auto (got --protocol http)'],
  ])('%j: one line naming the flag, exit 2', (args, message) => {
    // Every model shares the parser; 05 stands for them.
    const run = spawnSync(process.execPath, [packageMain('05-epoll-native'), '--port', '0', ...args], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`05-epoll-native: ${message}\n`);
  });
});
