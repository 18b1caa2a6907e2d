/**
 * One run: start a model in one mode, warm it up, load it the way the scenario says, measure,
 * stop it, and turn what happened into a Row. A server that collapses or dies is recorded as
 * such and the bench goes on. Bench main thread only.
 */
import { performance } from 'node:perf_hooks';
import {
  childrenOf, connectionLimits, holdStalledRequest, memAvailableKb, openIdleConnections, probe, request, runChurn, startFibClients,
  treePssKb, treeSyscalls, treeUsage, voluntarySwitches, type RunningServer,
} from '@course/testkit';
import { isClientBound, type EngineResult, type LoadEngine, type LoadShape } from './engine.js';
import { BENCH_PATH, FIB_CLIENTS, FIB_N, LINE_ECHO_BYTES, SCENARIO_SPECS, modeLabel, type PlannedRun } from './plan.js';
import { exitDescription, startTarget, UsageSampler, type Usage } from './target.js';
import type { Row } from './types.js';
import { idleCapacityProblem } from './verdicts.js';
import { measureEcho, wsScenario } from './ws-scenarios.js';

/** Settings shared by every run. */
export interface RunEnv {
  root: string;
  durationS: number;
  warmupS: number;
  /** --connections, overriding the scenario's own count. */
  connections: number | null;
  /** --rate: the open loop's offered requests/s, or null for a closed loop. */
  rateRps: number | null;
  /** Command prefix that pins the server (['taskset', '-c', '0']) or []. */
  prefix: string[];
  /** The load generator of every load phase. */
  engine: LoadEngine;
  /** Called as a run moves from phase to phase, for the progress line. */
  onPhase(phase: string, seconds: number): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A row with nothing measured yet. */
function emptyRow(run: PlannedRun, connections: number): Row {
  return {
    model: run.spec.model, mode: run.spec.mode, scenario: run.scenario, status: 'ok', args: run.args,
    connections, pipelining: SCENARIO_SPECS[run.scenario].pipelining, durationS: 0, wallS: 0, totalRequests: 0,
    requestsPerSec: null, requestsPerServerCpuSec: null, latencyP50Ms: null, latencyP99Ms: null,
    errors: 0, timeouts: 0, serverCpuSeconds: null, clientCpuSeconds: null, engine: '', clientBound: false, peakRssKb: null, notes: [],
  };
}

export async function runOne(run: PlannedRun, env: RunEnv): Promise<Row> {
  const t0 = performance.now();
  const row = await runMeasured(run, env);
  row.wallS = Math.round((performance.now() - t0) / 10) / 100;
  return row;
}

async function runMeasured(run: PlannedRun, env: RunEnv): Promise<Row> {
  const spec = SCENARIO_SPECS[run.scenario];
  const connections = run.scenario === 'idle-1k' || run.scenario === 'idle-10k'
    ? Math.min(env.connections ?? spec.connections, run.spec.idleCap ?? Infinity)
    : env.connections ?? spec.connections;
  const row = emptyRow(run, connections);
  // What cannot run here is a row that says why, before any server starts.
  const idleHeld = run.scenario === 'idle-10k' || run.scenario === 'ws-broadcast' || run.scenario === 'ws-idle-10k' ? connections : run.spec.c10k?.idle ?? 0;
  const why = (idleHeld >= 1000 ? idleCapacityProblem(idleHeld, connectionLimits()) : null)
    ?? (usesEngine(run) ? env.engine.cannot(shapeOf(row, env.durationS, env.rateRps)) : null);
  if (why) return { ...row, status: 'not available', reason: why, engine: usesEngine(run) ? env.engine.name : '' };

  env.onPhase('starting', 1);
  const started = await startTarget(run.spec.model, run.args, env.root, env.prefix);
  if (!started.ok) return { ...row, status: started.status, reason: started.reason };
  const server = started.server;
  try {
    switch (run.scenario) {
      case 'keepalive':
      case 'pipelined':
      case 'burst':
      case 'churn':
        await loadScenario(server, row, env, () => Promise.resolve(null));
        break;
      case 'slow-client':
        await loadScenario(server, row, env, async () => {
          const stalled = await holdStalledRequest(server.port, server.host, BENCH_PATH);
          await sleep(200); // let the server accept it and block on it, if that is what it does
          return () => {
            const closed = stalled.closedAfterS();
            if (closed !== null) row.notes.push(`the server closed the stalled client after ${closed.toFixed(1)} s`);
            stalled.release();
          };
        });
        break;
      case 'c10k':
        await loadScenario(server, row, env, () => holdIdleCrowd(server, row, env, run.spec.c10k!));
        break;
      case 'accept':
        await loadScenario(server, row, env, () => Promise.resolve(null));
        row.accept = await acceptFacts(server);
        break;
      case 'idle-1k':
      case 'idle-10k':
        await idleScenario(server, row, env, run.spec.idleCap);
        break;
      case 'herd':
        await herdScenario(server, row, run.spec.herd!);
        break;
      case 'cpu-task':
        await cpuTaskScenario(server, row, env);
        break;
      case 'framed-echo':
        // Raw TCP with the line codec: the HTTP engines cannot speak it; the echo engine does.
        await measureEcho(server, row, env, { framing: 'line', payloadBytes: LINE_ECHO_BYTES });
        break;
      case 'ws-echo':
      case 'ws-broadcast':
      case 'ws-idle-10k':
        await wsScenario(server, row, env);
        break;
    }
  } catch (err) {
    row.status = 'failed';
    row.reason = `bench error: ${(err as Error).message}`;
  } finally {
    env.onPhase('stopping', 0.5);
    const died = exitDescription(server);
    const ended = await server.stop(5000);
    if (!died && (ended.code !== 0 || ended.signal !== null) && row.status === 'ok') {
      row.notes.push(`after SIGTERM the server ended with ${ended.signal ?? `code ${ended.code}`} (contract: exit 0)`);
    }
  }
  return row;
}

/**
 * Warm up, run `before` (slow-client opens its stalled connection there; it returns a clean-up),
 * then load for the full duration while sampling the server, and fill in the row.
 */
async function loadScenario(server: RunningServer, row: Row, env: RunEnv, before: () => Promise<(() => void) | null>): Promise<void> {
  const url = `http://${server.host}:${server.port}${BENCH_PATH}`;
  const load = (durationS: number) => env.engine.run(url, shapeOf(row, durationS, env.rateRps));

  env.onPhase('warm-up', env.warmupS);
  await load(env.warmupS);
  await sleep(100); // let the server finish with the warm-up's connections
  const cleanup = await before();
  env.onPhase('load', env.durationS);
  const io0 = treeSyscalls(server.pid);
  const sampler = new UsageSampler(server.pid);
  let result: EngineResult;
  let usage: Usage;
  try {
    result = await load(env.durationS);
  } finally {
    usage = sampler.stop();
    cleanup?.();
  }
  const io1 = treeSyscalls(server.pid);
  if (io0 && io1) {
    row.serverReads = io1.reads - io0.reads;
    row.serverWrites = io1.writes - io0.writes;
  }
  fillLoadRow(row, env.engine, result, usage, exitDescription(server));
}

/** 06's accept counters after the load, from its /api/stats (the demo app's; this request is one more connection). */
async function acceptFacts(server: RunningServer): Promise<NonNullable<Row['accept']>> {
  const stats = JSON.parse((await request(server.port, '/api/stats')).body.toString()) as {
    reactors: { accepted: number }[]; totals: { accepted: number; listenerWakeups: number; emptyWakeups: number };
  };
  return {
    perReactor: stats.reactors.map((r) => r.accepted),
    wakeupsPerAccept: stats.totals.accepted > 0 ? stats.totals.listenerWakeups / stats.totals.accepted : null,
    emptyWakeups: stats.totals.emptyWakeups,
  };
}

/** Whether a scenario's load comes from the engine (the others hold raw sockets only). */
function usesEngine(run: PlannedRun): boolean {
  return !['idle-1k', 'idle-10k', 'herd', 'framed-echo', 'ws-echo', 'ws-broadcast', 'ws-idle-10k'].includes(run.scenario);
}

/** The load a row's scenario asks the engine for. Pure. */
export function shapeOf(row: Row, durationS: number, rateRps: number | null = null): LoadShape {
  const spec = SCENARIO_SPECS[row.scenario];
  return { connections: row.connections, depth: spec.pipelining, pipelining: spec.style, churn: spec.churn, durationS, rateRps };
}


/** Numbers, status and notes of a load phase. */
function fillLoadRow(row: Row, engine: LoadEngine, r: EngineResult, usage: Usage, died: string | null): void {
  row.engine = engine.name;
  row.durationS = r.durationS;
  row.totalRequests = r.responses;
  row.requestsPerSec = r.responses / r.durationS;
  row.latencyP50Ms = r.latency.p50;
  row.latencyP99Ms = r.latency.p99;
  row.errors = r.errors + r.non2xx;
  row.timeouts = r.timeouts;
  row.serverCpuSeconds = usage.serverCpuSeconds;
  row.clientCpuSeconds = r.engineCpuSeconds;
  row.clientBound = isClientBound(r.engineCpuSeconds, r.durationS);
  row.peakRssKb = usage.peakRssKb;
  row.requestsPerServerCpuSec = usage.serverCpuSeconds > 0 ? r.responses / usage.serverCpuSeconds : null;
  if (r.connectionsServed !== undefined) row.connectionsServed = r.connectionsServed;

  if (died) {
    row.status = 'collapsed';
    row.reason = `${died} during the run; ${r.responses} responses before`;
  } else if (r.responses === 0) {
    row.status = 'collapsed';
    const stuck = row.scenario === 'slow-client' ? ': the server is stuck on the stalled client' : '';
    row.reason = `0 responses in ${r.durationS.toFixed(1)} s${stuck} (${r.timeouts} timeouts, ${r.errors - r.timeouts} other errors)`;
  }
  if (r.non2xx > 0) row.notes.push(`${r.non2xx} responses were not 2xx`);
  if (r.connectionsServed !== undefined && r.responses > 0 && r.connectionsServed < row.connections) {
    row.notes.push(`only ${r.connectionsServed} of ${row.connections} connections got a response: the others waited`);
  }
  if (row.clientBound) {
    row.notes.push(`${engine.name} used ${r.engineCpuSeconds.toFixed(1)} CPU-s in ${r.durationS.toFixed(1)} s: client-bound, req/s measured the load generator`);
  }
}

/** Stop opening idle connections below this much free memory: a thread per connection is ~8 MB. */
const MIN_FREE_KB = 1024 * 1024;

/**
 * c10k: open the idle crowd (each served one request, so the server really holds it) before the
 * load phase, and return its clean-up. The crowd is opened outside the measured interval: the
 * curve is about what holding it costs per request, not what accepting it cost.
 */
async function holdIdleCrowd(server: RunningServer, row: Row, env: RunEnv, c10k: { idle: number; series: string }): Promise<() => void> {
  row.c10k = { idle: c10k.idle, held: 0, closedByServer: 0, series: c10k.series };
  if (c10k.idle === 0) return () => {};
  env.onPhase(`opening ${c10k.idle} idle connections`, Math.max(1, c10k.idle / 200));
  const idle = await openIdleConnections(server.port, server.host, BENCH_PATH, c10k.idle, {
    batch: c10k.idle > 1000 ? 100 : 25,
    timeoutMs: 5000,
    stop: () => (memAvailableKb() < MIN_FREE_KB ? 'less than 1 GiB of memory left' : null),
  });
  row.c10k.held = idle.held;
  if (idle.held < c10k.idle) {
    // A point of the curve with fewer idle connections than its N would be a point of another curve.
    row.status = 'collapsed';
    row.reason = `held ${idle.held} of ${c10k.idle} idle connections${idle.stoppedEarly ? ` (${idle.stoppedEarly})` : ''}${idle.firstError ? `: ${idle.firstError}` : ''}`;
  }
  await sleep(200); // let the server settle after the last of them
  return () => {
    row.c10k!.closedByServer = idle.closedByServer();
    if (row.c10k!.closedByServer > 0) row.notes.push(`the server closed ${row.c10k!.closedByServer} idle connections during the load`);
    idle.release();
  };
}

async function idleScenario(server: RunningServer, row: Row, env: RunEnv, cap: number | undefined): Promise<void> {
  const target = row.connections;
  const wanted = env.connections ?? SCENARIO_SPECS[row.scenario].connections;
  env.onPhase('warm-up', 0.5);
  await probe(server.port, server.host, BENCH_PATH, 5000);
  await sleep(200);
  const before = { rss: treeUsage(server.pid).rssKb, pss: treePssKb(server.pid) };

  env.onPhase(`opening ${target} connections`, Math.max(1, target / 200));
  const sampler = new UsageSampler(server.pid);
  let usage: Usage | undefined;
  const idle = await openIdleConnections(server.port, server.host, BENCH_PATH, target, {
    batch: target > 1000 ? 100 : 25,
    timeoutMs: 5000,
    stop: () => (memAvailableKb() < MIN_FREE_KB ? 'less than 1 GiB of memory left' : null),
  });
  try {
    env.onPhase('holding', 1.5);
    await sleep(500); // let new processes and threads finish touching their memory
    const after = { rss: treeUsage(server.pid).rssKb, pss: treePssKb(server.pid) };
    const f0 = performance.now();
    const fresh = await probe(server.port, server.host, BENCH_PATH, 2000);
    const freshMs = performance.now() - f0;
    usage = sampler.stop();

    row.connections = idle.held;
    row.errors = idle.failures;
    row.serverCpuSeconds = usage.serverCpuSeconds;
    row.clientCpuSeconds = usage.clientCpuSeconds;
    row.peakRssKb = usage.peakRssKb;
    const per = (delta: number) => (idle.held > 0 ? Math.max(0, delta) / idle.held : null);
    row.idle = {
      target,
      capped: cap !== undefined && cap < wanted,
      held: idle.held,
      rssPerConnectionKb: per(after.rss - before.rss),
      pssPerConnectionKb: per(after.pss - before.pss),
      freshRequest: fresh,
      freshMs,
      closedByServer: idle.closedByServer(),
    };
    if (row.idle.capped) row.notes.push(`capped at ${cap} connection${cap === 1 ? '' : 's'}: ${cap === 1 ? 'it serves one connection at a time' : 'a process or thread per connection'}`);
    if (idle.stoppedEarly) row.notes.push(`stopped opening at ${idle.held + idle.failures}: ${idle.stoppedEarly}`);
    if (idle.failures > 0) row.notes.push(`${idle.failures} connections failed (${idle.firstError})`);
    if (row.idle.closedByServer > 0) row.notes.push(`the server closed ${row.idle.closedByServer} idle connections during the test`);
    const died = exitDescription(server);
    if (died) {
      row.status = 'collapsed';
      row.reason = `${died} while holding idle connections`;
    } else if (idle.held === 0) {
      row.status = 'collapsed';
      row.reason = `no connection could be opened and served (${idle.firstError ?? 'unknown error'})`;
    } else if (fresh !== 'ok') {
      // Holding idle connections is only half the job: the server must still answer newcomers.
      row.status = 'collapsed';
      row.reason = `a fresh request ${fresh} while ${idle.held} idle connection${idle.held === 1 ? ' was' : 's were'} held`;
    }
  } finally {
    if (!usage) sampler.stop();
    idle.release();
  }
}

async function cpuTaskScenario(server: RunningServer, row: Row, env: RunEnv): Promise<void> {
  const fibPath = `/api/fib?n=${FIB_N}`;
  env.onPhase('checking /api/fib', 1);
  const check = await probe(server.port, server.host, fibPath, 15000);
  if (check !== 'ok') {
    row.status = 'not available';
    row.reason = `GET ${fibPath} ${check === 'timed out' ? 'timed out' : 'did not answer 200'}`;
    return;
  }
  const url = `http://${server.host}:${server.port}${BENCH_PATH}`;
  env.onPhase('warm-up', env.warmupS);
  await env.engine.run(url, shapeOf(row, env.warmupS));

  env.onPhase('load', env.durationS);
  const fib = startFibClients(server.port, server.host, fibPath, FIB_CLIENTS, 15000);
  const sampler = new UsageSampler(server.pid);
  let result: EngineResult;
  let usage: Usage;
  try {
    result = await env.engine.run(url, shapeOf(row, env.durationS));
  } finally {
    usage = sampler.stop();
    const got = await fib.stop();
    row.cpuTask = { fibN: FIB_N, fibClients: FIB_CLIENTS, fibResponses: got.responses, fibErrors: got.errors };
  }
  fillLoadRow(row, env.engine, result, usage, exitDescription(server));
  // Server CPU here is mostly fib: requests per CPU-second of static files would mislead.
  row.requestsPerServerCpuSec = null;
  row.notes.push(`${row.cpuTask.fibResponses} fib(${FIB_N}) responses meanwhile`);
}

/**
 * The thundering herd, measured: sequential connections (so every pool member but the one serving
 * is asleep in accept each time), counting how often the members went to sleep. If each connection
 * woke all N, this would grow with N; if it wakes one, it stays flat. The members are 02's children
 * (its banner names the server's pid; `node dist/main.js` is a wrapper) or every thread of 03.
 */
async function herdScenario(server: RunningServer, row: Row, herd: { members: number; kind: 'processes' | 'threads' }): Promise<void> {
  const pid = Number(/pid=(\d+)/.exec(server.banner)?.[1] ?? server.pid);
  const pool = () => (herd.kind === 'processes' ? childrenOf(pid) : [pid]);
  // Warm up: JIT, page cache, and every member started.
  await runChurn({ port: server.port, host: server.host, path: BENCH_PATH, concurrency: 1, durationS: 0.3 });
  const before = voluntarySwitches(pool());
  const sampler = new UsageSampler(server.pid);
  const t0 = performance.now();
  let served = 0;
  for (let i = 0; i < row.connections; i++) if ((await probe(server.port, server.host, BENCH_PATH, 5000, 'close')) === 'ok') served++;
  const usage = sampler.stop();
  await new Promise((r) => setTimeout(r, 100)); // let the last member go back to sleep
  const after = voluntarySwitches(pool());
  row.durationS = (performance.now() - t0) / 1000;
  row.totalRequests = served;
  row.errors = row.connections - served;
  row.serverCpuSeconds = usage.serverCpuSeconds;
  row.peakRssKb = usage.peakRssKb;
  row.herd = { members: herd.members, connections: row.connections, wakeupsPerConnection: (after - before) / row.connections };
  const died = exitDescription(server);
  if (died) { row.status = 'collapsed'; row.reason = died; } else if (served === 0) { row.status = 'collapsed'; row.reason = 'no connection was served'; }
}

/** A short label for progress lines. */
export function runLabel(run: PlannedRun): string {
  return `${modeLabel(run.spec.model, run.spec.mode)} · ${run.scenario}`;
}
