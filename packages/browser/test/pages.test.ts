/**
 * The demo pages in a real browser, against step 06 as `pnpm start` runs it (the demo app, two
 * SubReactors so that two tabs land on different reactors under round-robin).
 *
 *   /chat.html       two pages join; each sees the other's message and the other in "online",
 *                    across reactors (a published message travels through the relay)
 *   /dashboard.html  numbers arrive over /ws/stats and change while HTTP load runs
 *   both             say so clearly when the server goes away
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { startServer, type RunningServer } from '@course/testkit';
import { launchChromium, type LaunchedBrowser } from './chromium.js';

let server: RunningServer;
let chromium: LaunchedBrowser;

beforeAll(async () => {
  server = await startServer('06-reactor-pool', { args: ['--reactors', '2', '--workers', '1', '--balance', 'rr'] });
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await server?.stop();
});

async function join(nick: string): Promise<Page> {
  const page = await chromium.browser.newPage();
  await page.goto(`${server.url}/chat.html`);
  await page.bringToFront();
  await page.type('#nick', nick);
  await page.click('#join button');
  await page.waitForFunction(() => document.getElementById('reactor')!.textContent !== '?', { polling: 100 });
  return page;
}

/** Type into the page's message box and send. Input goes to the front tab: bring it there first. */
async function say(page: Page, message: string): Promise<void> {
  await page.bringToFront();
  await page.type('#text', message);
  await page.click('#say button');
}

// Polling on a timer, not on animation frames: a tab in the background gets no frames.
const text = (page: Page, selector: string) => page.$eval(selector, (el) => el.textContent ?? '');

describe('/chat.html', () => {
  it('two pages on different reactors see each other, and each other\'s messages', async () => {
    const ada = await join('ada');
    // Round-robin spreads connections, but a page also fetches its HTML and CSS on connections of
    // its own: read where each landed, and reload bob until the two are on different reactors.
    let bob = await join('bob');
    for (let tries = 1; (await text(bob, '#reactor')) === (await text(ada, '#reactor')) && tries < 6; tries++) {
      await bob.close();
      bob = await join('bob');
    }
    expect(await text(bob, '#reactor')).not.toBe(await text(ada, '#reactor'));

    await say(ada, 'hello from ada');
    await say(bob, 'hi ada, bob here');

    for (const page of [ada, bob]) {
      await page.waitForFunction(
        () => {
          const all = document.getElementById('messages')!.textContent ?? '';
          return all.includes('hello from ada') && all.includes('hi ada, bob here');
        },
        { timeout: 20_000, polling: 100 },
      );
      // Who is online: both, whichever reactor serves each (rosters arrive every tick).
      await page.waitForFunction(
        () => {
          const online = document.getElementById('online')!.textContent ?? '';
          return online.includes('ada') && online.includes('bob');
        },
        { timeout: 20_000, polling: 100 },
      );
    }
    // Each message arrived once on each page.
    const count = (all: string, s: string) => all.split(s).length - 1;
    const adaLog = await text(ada, '#messages');
    expect(count(adaLog, 'hello from ada')).toBe(1);
    expect(count(adaLog, 'hi ada, bob here')).toBe(1);
    await ada.close();
    await bob.close();
  });

  it('a bad message gets a clear answer and the page keeps working', async () => {
    const eve = await join('eve');
    await eve.evaluate(() => {
      // Straight onto a second socket: the page itself never sends malformed JSON.
      return new Promise<void>((resolve) => {
        const s = new WebSocket(`ws://${location.host}/ws/chat`);
        s.onopen = () => {
          s.send('not json');
          s.onmessage = (e) => {
            document.body.dataset.answer = String(e.data);
            s.close();
            resolve();
          };
        };
      });
    });
    expect(await eve.evaluate(() => document.body.dataset.answer)).toMatch(/"type":"error"/);
    await say(eve, 'still here');
    await eve.waitForFunction(() => (document.getElementById('messages')!.textContent ?? '').includes('still here'), { polling: 100 });
    await eve.close();
  });
});

describe('/dashboard.html', () => {
  it('shows numbers that change while the server works', async () => {
    const page = await chromium.browser.newPage();
    await page.goto(`${server.url}/dashboard.html`);
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'live', { polling: 100 });
    // The first stats frame comes at once: one row per reactor.
    await page.waitForFunction(() => document.querySelectorAll('#reactors tbody tr').length === 2, { polling: 100 });
    const before = await text(page, '#reactors tbody');

    // Some HTTP requests: the requests and bytes of some reactor must move on the next ticks.
    for (let i = 0; i < 20; i++) await fetch(`${server.url}/bench.html`).then((r) => r.arrayBuffer());
    await page.waitForFunction((old) => document.querySelector('#reactors tbody')!.textContent !== old, { timeout: 20_000, polling: 100 }, before);
    // Rates need two ticks; then the cards hold numbers, not dashes.
    await page.waitForFunction(() => document.getElementById('rps')!.textContent !== '–', { timeout: 20_000, polling: 100 }, { polling: 100 });
    expect(Number(await text(page, '#websockets'))).toBeGreaterThanOrEqual(1); // this page's own socket
    expect(await page.$eval('#workers tbody', (el) => el.querySelectorAll('td').length)).toBe(7);
    await page.close();
  });

  it('says so clearly when the server goes away', async () => {
    const page = await chromium.browser.newPage();
    await page.goto(`${server.url}/dashboard.html`);
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'live', { polling: 100 });
    const chat = await join('zoe');
    expect((await server.stop()).code).toBe(0);
    for (const p of [page, chat]) {
      await p.waitForFunction(() => document.getElementById('banner')!.classList.contains('shown'), { timeout: 20_000, polling: 100 }, { polling: 100 });
      expect(await text(p, '#banner')).toMatch(/reload/i);
      expect(await text(p, '#status')).toBe('disconnected');
    }
  });
});
