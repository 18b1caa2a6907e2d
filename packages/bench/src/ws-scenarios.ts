/**
 * The WebSocket scenarios, on the raw load side of @course/testkit (ws-load.ts) so that the
 * client costs less than the server it measures. The server runs /ws/bench: the `ws` package on
 * node:http (baselines/ws-bench.ts) or step 06 with apps/ws-bench.js.
 *
 *   ws-echo       50 clients, one 64-byte message in flight each: messages per server-CPU-second
 *   ws-broadcast  10,000 clients; 20 times, one client asks for a broadcast: server CPU per
 *                 broadcast and the time until the last client has it (median and max)
 *   ws-idle-10k   10,000 WebSockets opened and left idle: server RSS/PSS per connection
 *
 * Bench main thread only.
 */
import { broadcastRound, maskedFrame, openRawWebSockets, runWebSocketEcho, treePssKb, treeUsage, type RunningServer } from '@course/testkit';
import { WS_BROADCASTS, WS_ECHO_BYTES } from './plan.js';
import type { RunEnv } from './scenarios.js';
import { UsageSampler } from './target.js';
import type { Row } from './types.js';

const PATH = '/ws/bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function wsScenario(server: RunningServer, row: Row, env: RunEnv): Promise<void> {
  env.onPhase(`opening ${row.connections} WebSockets`, Math.max(1, row.connections / 2000));
  const before = { rss: treeUsage(server.pid).rssKb, pss: treePssKb(server.pid) };
  const opened = await openRawWebSockets(server.port, server.host, PATH, row.connections, 100);
  try {
    row.errors = opened.failures;
    if (opened.failures > 0) row.notes.push(`${opened.failures} WebSockets failed to open (${opened.firstError})`);
    if (opened.clients.length === 0) {
      row.status = 'collapsed';
      row.reason = `no WebSocket could be opened (${opened.firstError ?? 'unknown error'})`;
      return;
    }
    const clients = opened.clients;
    row.ws = { clients: clients.length };
    switch (row.scenario) {
      case 'ws-echo': {
        await measureEcho(server, row, env, (seconds) => runWebSocketEcho(clients, WS_ECHO_BYTES, seconds));
        row.ws.messages = row.totalRequests;
        row.ws.messagesPerServerCpuSec = row.requestsPerServerCpuSec;
        break;
      }
      case 'ws-broadcast': {
        await sleep(500); // let the last handshakes settle
        const trigger = maskedFrame(0x1, 'broadcast');
        const cpu: number[] = [];
        const last: number[] = [];
        for (let i = 0; i < WS_BROADCASTS; i++) {
          env.onPhase(`broadcast ${i + 1}/${WS_BROADCASTS}`, 0.3);
          const c0 = treeUsage(server.pid).cpuSeconds;
          last.push(await broadcastRound(clients[0]!, trigger, clients));
          await sleep(100); // the server's last writes and their CPU land inside this round
          cpu.push((treeUsage(server.pid).cpuSeconds - c0) * 1000);
        }
        row.ws.broadcasts = WS_BROADCASTS;
        row.ws.cpuMsPerBroadcast = { median: median(cpu), max: Math.max(...cpu) };
        row.ws.lastClientMs = { median: median(last), max: Math.max(...last) };
        row.notes.push('CPU per broadcast is read from /proc at 10 ms resolution, and includes 100 ms of otherwise idle server after each round');
        break;
      }
      case 'ws-idle-10k': {
        env.onPhase('holding', 1);
        await sleep(1000);
        const after = { rss: treeUsage(server.pid).rssKb, pss: treePssKb(server.pid) };
        row.ws.rssPerConnectionKb = Math.max(0, after.rss - before.rss) / clients.length;
        row.ws.pssPerConnectionKb = Math.max(0, after.pss - before.pss) / clients.length;
        break;
      }
      default:
        throw new Error(`not a WebSocket scenario: ${row.scenario}`);
    }
  } finally {
    opened.release();
  }
}

/**
 * A message echo's load phase (ws-echo, framed-echo): warm up, then run `echo` for the duration
 * while sampling the server, and fill in the row: messages as requests, per second and per
 * server-CPU-second.
 */
export async function measureEcho(server: RunningServer, row: Row, env: RunEnv, echo: (seconds: number) => Promise<{ messages: number; durationS: number; errors?: number }>): Promise<void> {
  env.onPhase('warm-up', env.warmupS);
  await echo(env.warmupS);
  await sleep(100);
  env.onPhase('load', env.durationS);
  const sampler = new UsageSampler(server.pid);
  const r = await echo(env.durationS);
  const usage = sampler.stop();
  row.errors += r.errors ?? 0;
  row.durationS = r.durationS;
  row.totalRequests = r.messages;
  row.requestsPerSec = r.messages / r.durationS;
  row.serverCpuSeconds = usage.serverCpuSeconds;
  row.clientCpuSeconds = usage.clientCpuSeconds;
  row.peakRssKb = usage.peakRssKb;
  row.requestsPerServerCpuSec = usage.serverCpuSeconds > 0 ? r.messages / usage.serverCpuSeconds : null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
