/**
 * The WebSocket scenarios, on the raw load side of @course/testkit (ws-load.ts) so that the
 * client costs less than the server it measures. The server runs /ws/bench: the `ws` package on
 * node:http (baselines/ws-bench.ts) or step 06 with apps/ws-bench.js.
 *
 *   ws-echo       50 clients (the echo engine's), one 64-byte message in flight each: messages
 *                 per server-CPU-second
 *   ws-broadcast  10,000 clients; 20 times, one client asks for a broadcast: server CPU per
 *                 broadcast and the time until the last client has it (median and max)
 *   ws-idle-10k   10,000 WebSockets opened and left idle: server RSS/PSS per connection
 *
 * Bench main thread only.
 */
import { runEchoInWorker, percentileMs, type EchoFraming, type EchoResult } from '@course/client';
import { REQUEST_TIMEOUT_S, broadcastRound, maskedFrame, openRawWebSockets, treeCpuNs, treeCpuSplit, treePssKb, treeUsage, type RunningServer } from '@course/testkit';
import { WS_BROADCASTS, WS_ECHO_BYTES } from './plan.js';
import { isClientBound } from './engine.js';
import type { RunEnv } from './scenarios.js';
import { UsageSampler } from './target.js';
import type { Row } from './types.js';

const PATH = '/ws/bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function wsScenario(server: RunningServer, row: Row, env: RunEnv): Promise<void> {
  if (row.scenario === 'ws-echo') {
    const r = await measureEcho(server, row, env, { framing: 'websocket', path: PATH, payloadBytes: WS_ECHO_BYTES }); // it opens its own WebSockets
    row.ws = { clients: r.connects }; // the messages are the row's requests, as in framed-echo
    return;
  }
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
      case 'ws-broadcast': {
        await sleep(500); // let the last handshakes settle
        const trigger = maskedFrame(0x1, 'broadcast');
        const cpu: number[] = [];
        const last: number[] = [];
        const split0 = treeCpuSplit(server.pid);
        for (let i = 0; i < WS_BROADCASTS; i++) {
          env.onPhase(`broadcast ${i + 1}/${WS_BROADCASTS}`, 0.3);
          const c0 = treeCpuNs(server.pid);
          last.push(await broadcastRound(clients[0]!, trigger, clients));
          await sleep(100); // the server's last writes and their CPU land inside this round
          cpu.push((treeCpuNs(server.pid) - c0) / 1e6);
        }
        const split1 = treeCpuSplit(server.pid);
        const [user, system] = [split1.userS - split0.userS, split1.systemS - split0.systemS];
        row.ws.broadcasts = WS_BROADCASTS;
        if (user + system > 0) row.ws.kernelShare = system / (user + system);
        row.ws.cpuMsPerBroadcast = { median: median(cpu), max: Math.max(...cpu) };
        row.ws.lastClientMs = { median: median(last), max: Math.max(...last) };
        row.notes.push('CPU per broadcast is the server threads\' schedstat time (ns), and includes 100 ms of otherwise idle server after each round');
        row.notes.push('in kernel: the server\'s system time over all rounds ÷ its CPU time (/proc stat ticks); on loopback a send also runs the client\'s TCP receive, so this part is the same for any server making one send per client');
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
 * A message echo's load phase (ws-echo, framed-echo), on @course/client's echo engine (raw epoll
 * through the addon, on a worker thread of this process, so on the client core): warm up, then
 * load for the duration while sampling the server, and fill in the row: messages as requests,
 * per second and per server-CPU-second, the round trip's p50 and p99, the engine's CPU.
 * (node:net sockets cost the client as much per message as step 06 spends, so the server idled
 * between turns and looked slower per CPU-second than it is.)
 */
export async function measureEcho(server: RunningServer, row: Row, env: RunEnv, echo: { framing: EchoFraming; path?: string; payloadBytes: number }): Promise<EchoResult> {
  const opts = { host: server.host, port: server.port, connections: row.connections, timeoutMs: REQUEST_TIMEOUT_S * 1000, ...echo };
  env.onPhase('warm-up', env.warmupS);
  await runEchoInWorker({ ...opts, durationMs: env.warmupS * 1000 });
  await sleep(100);
  env.onPhase('load', env.durationS);
  const sampler = new UsageSampler(server.pid);
  const r = await runEchoInWorker({ ...opts, durationMs: env.durationS * 1000 });
  const usage = sampler.stop();
  const durationS = r.durationMs / 1000;
  row.engine = 'echo';
  row.errors += r.errors;
  row.timeouts = r.errorCodes.ETIMEDOUT ?? 0;
  row.durationS = durationS;
  row.totalRequests = r.messages;
  row.requestsPerSec = r.messages / durationS;
  row.latencyP50Ms = percentileMs(r.histogram, 50);
  row.latencyP99Ms = percentileMs(r.histogram, 99);
  row.serverCpuSeconds = usage.serverCpuSeconds;
  row.clientCpuSeconds = r.cpuMs / 1000;
  row.clientBound = isClientBound(r.cpuMs / 1000, durationS);
  row.peakRssKb = usage.peakRssKb;
  row.requestsPerServerCpuSec = usage.serverCpuSeconds > 0 ? r.messages / usage.serverCpuSeconds : null;
  if (r.errors > 0) row.notes.push(`echo errors: ${Object.entries(r.errorCodes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (r.messages === 0) {
    row.status = 'collapsed';
    row.reason = `0 echoes in ${durationS.toFixed(1)} s (${r.errors} errors)`;
  } else if (row.clientBound) {
    row.notes.push(`the echo engine used ${row.clientCpuSeconds.toFixed(1)} CPU-s in ${durationS.toFixed(1)} s: near its core's limit, so compare msg/CPU-s, not msg/s`);
  }
  return r;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
