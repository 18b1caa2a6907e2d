/**
 * Step 04 as a reader runs it: `node dist/main.js [--poller busy|poll] [--sleep-ms N]`, spoken to
 * over real TCP on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  idleSecond,
  makeTempSite,
  parseResponses,
  randomPayload,
  request,
  slowGet,
  startServer,
  type RunningServer,
  type TempSite,
} from '@course/testkit';
import { describeModelContract } from '@course/testkit/contract';

const PKG = '04-nonblocking';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describeModelContract(PKG, [
  { name: 'busy', args: ['--poller', 'busy'], bannerMatch: / model=nonblocking poller=busy / },
  { name: 'poll', args: ['--poller', 'poll'], bannerMatch: / model=nonblocking poller=poll / },
], {
  badFlags: [
    [['--poller', 'epoll'], '--poller'],
    [['--sleep-ms', '-1'], '--sleep-ms'],
    [['--poller', 'poll', '--sleep-ms', '5'], '--sleep-ms'],
  ],
});

describe.each(['busy', 'poll'] as const)('04-nonblocking --poller %s', (poller) => {
  let server: RunningServer;
  let big: TempSite;
  let bigFile: Buffer;
  beforeAll(async () => {
    bigFile = randomPayload(8 * 1024 * 1024);
    big = makeTempSite({ 'big.bin': bigFile });
    server = await startServer(PKG, { args: ['--poller', poller, '--root', big.root] });
  });
  afterAll(async () => {
    await server?.stop();
    big?.remove();
  });

  if (poller === 'busy') {
    it('burns a core while idle: that is busy polling', async () => {
      const idle = await idleSecond(server.pid);
      expect(idle.running).toBeGreaterThanOrEqual(0.75); // never asleep
      expect(idle.cpu).toBeGreaterThanOrEqual(0.1); // and really computing (most of a core when one is free)
    });
  } else {
    it('sleeps in poll(2) while idle', async () => {
      const idle = await idleSecond(server.pid);
      expect(idle.running).toBeLessThanOrEqual(0.25);
      expect(idle.cpu).toBeLessThanOrEqual(0.05);
    });
  }

  it('sends an 8 MB file byte-exact to 20 concurrent slow readers (short writes)', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => slowGet(server.port, '/big.bin')));
    for (const raw of answers) {
      const [res] = parseResponses(raw).responses;
      expect(res?.status).toBe(200);
      expect(sha256(res!.body)).toBe(sha256(bigFile));
    }
  }, 60_000);
});

describe('04-nonblocking --sleep-ms', () => {
  it('trades latency for CPU: sleeping after idle passes, it no longer burns a core', async () => {
    const server = await startServer(PKG, { args: ['--sleep-ms', '20'] });
    try {
      expect(server.banner).toMatch(/sleep-ms=20/);
      expect((await request(server.port, '/')).status).toBe(200); // still serves
      expect((await idleSecond(server.pid)).cpu).toBeLessThanOrEqual(0.15);
    } finally {
      await server.stop();
    }
  });
});
