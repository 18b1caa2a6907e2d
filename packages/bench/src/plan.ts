/**
 * What runs where: the scenarios, the models, and — in one table — which mode of which model each
 * scenario runs with which flags. Pure data and pure functions; the bench's main thread reads it.
 *
 * Model flags below are the ones each step documents. A model that rejects them (exit code 2)
 * shows up as "not available" with its own error line, so a renamed flag is visible, not silent.
 */
import { fileURLToPath } from 'node:url';
import type { ScenarioName } from './types.js';

/** The benchmark file: the demo site's /bench.html, 540 bytes — a small static page, so the models' overheads dominate. */
export const BENCH_PATH = '/bench.html';
export const BENCH_FILE_BYTES = 540;

/** The CPU-heavy request of the cpu-task scenario: fib(35) computed recursively, about 100 ms of CPU. */
export const FIB_N = 35;

/** An app module for 06 that computes /api/fib on the reactor (see apps/fib-inline.ts); compiled next to this file. */
export const FIB_INLINE_APP = fileURLToPath(new URL('./apps/fib-inline.js', import.meta.url));

/** The app 06 runs in the ws scenarios (apps/ws-bench.js): /ws/bench, the same endpoint as the `ws` peer. */
export const WS_BENCH_APP = fileURLToPath(new URL('./apps/ws-bench.js', import.meta.url));
/** Messages of the ws-echo scenario, bytes. */
export const WS_ECHO_BYTES = 64;
/** Lines of the framed-echo scenario, bytes with the \n: the same size as ws-echo's messages. */
export const LINE_ECHO_BYTES = 64;
/** Broadcast rounds of the ws-broadcast scenario (median and max are reported). */
export const WS_BROADCASTS = 20;

export const MODELS = ['node-http', '01-blocking', '02-fork', '03-threads', '04-nonblocking', '05-epoll-native', '06-reactor-pool', '07-io-uring'] as const;
export type ModelName = (typeof MODELS)[number];

/** Sequential connections per herd run: every pool member but the one serving sleeps in accept each time. */
export const HERD_CONNECTIONS = 500;
/** Pool sizes of the herd scenario: if a connection woke all N, wake-ups would grow with N. */
export const HERD_SIZES = [1, 2, 4, 8] as const;

/**
 * The C10K curve: idle keep-alive connections held while C10K_ACTIVE connections load the server.
 * A loop that looks at every connection (04's busy pass, poll(2)'s list) pays for the idle ones on
 * every turn; epoll pays only for the ready ones, so its requests per CPU-second should stay flat.
 */
export const C10K_IDLE = [0, 100, 1000, 10_000] as const;
export const C10K_ACTIVE = 10;

/** How a scenario loads the server and which number sums it up. */
export interface ScenarioSpec {
  name: ScenarioName;
  /** One line for the table heading and the Markdown report. */
  title: string;
  /** Load-generator connections unless --connections says otherwise (idle-1k: connections to hold). */
  connections: number;
  /** Requests in flight per connection (the load shape's depth). */
  pipelining: number;
  /** How a depth above 1 is kept (see LoadShape), and whether each request gets a new connection. */
  style: 'in-flight' | 'burst';
  churn: boolean;
  /** The number the chart shows and the "vs node-http" ratio compares. */
  headline: { label: string; unit: string; better: 'higher' | 'lower' };
}

export const SCENARIO_SPECS: Record<ScenarioName, ScenarioSpec> = {
  keepalive: {
    name: 'keepalive', connections: 50, pipelining: 1, style: 'in-flight', churn: false,
    title: 'keep-alive: 50 connections, one request at a time each',
    headline: { label: 'requests/s', unit: 'req/s', better: 'higher' },
  },
  pipelined: {
    name: 'pipelined', connections: 10, pipelining: 16, style: 'in-flight', churn: false,
    title: 'pipelined: 10 connections, 16 requests in flight on each',
    headline: { label: 'requests/s', unit: 'req/s', better: 'higher' },
  },
  burst: {
    name: 'burst', connections: 10, pipelining: 16, style: 'burst', churn: false,
    title: 'burst: 10 connections, each writing 16 requests at once and the next 16 when all are answered',
    headline: { label: 'requests/s', unit: 'req/s', better: 'higher' },
  },
  churn: {
    name: 'churn', connections: 10, pipelining: 1, style: 'in-flight', churn: true,
    title: 'churn: a new connection per request (10 clients connect, ask, read to close, repeat)',
    headline: { label: 'requests/s', unit: 'req/s', better: 'higher' },
  },
  'slow-client': {
    name: 'slow-client', connections: 50, pipelining: 1, style: 'in-flight', churn: false,
    title: 'slow client: one connection holds half a request for the whole run; 50 others load the server',
    headline: { label: 'requests/s', unit: 'req/s', better: 'higher' },
  },
  'idle-1k': {
    name: 'idle-1k', connections: 1000, pipelining: 1, style: 'in-flight', churn: false,
    title: 'idle-1k: 1,000 keep-alive connections, one request each, then idle — memory per connection',
    headline: { label: 'KiB per idle connection (PSS)', unit: 'KiB', better: 'lower' },
  },
  'idle-10k': {
    name: 'idle-10k', connections: 10_000, pipelining: 1, style: 'in-flight', churn: false,
    title: 'idle-10k: 10,000 keep-alive connections, one request each, then idle; then one fresh request',
    headline: { label: 'KiB per idle connection (PSS)', unit: 'KiB', better: 'lower' },
  },
  herd: {
    name: 'herd', connections: HERD_CONNECTIONS, pipelining: 1, style: 'in-flight', churn: true,
    title: `herd: ${HERD_CONNECTIONS} sequential connections to a pool of N blocked in accept — wake-ups per connection`,
    headline: { label: 'wake-ups per connection', unit: 'wake-ups', better: 'lower' },
  },
  'framed-echo': {
    name: 'framed-echo', connections: 50, pipelining: 1, style: 'in-flight', churn: false,
    title: 'framed-echo: 50 TCP connections, line codec, one 64-byte line in flight on each, echoed',
    headline: { label: 'messages per server-CPU-second', unit: 'msg/CPU-s', better: 'higher' },
  },
  accept: {
    name: 'accept', connections: 10, pipelining: 1, style: 'in-flight', churn: true,
    title: 'accept: churn (10 clients, a new connection per request) on 06 with 2 SubReactors, in each way of accepting',
    headline: { label: 'requests per server-CPU-second', unit: 'req/CPU-s', better: 'higher' },
  },
  'ws-echo': {
    name: 'ws-echo', connections: 50, pipelining: 1, style: 'in-flight', churn: false,
    title: 'ws-echo: 50 WebSocket connections, one 64-byte message in flight on each, echoed',
    headline: { label: 'messages per server-CPU-second', unit: 'msg/CPU-s', better: 'higher' },
  },
  'ws-broadcast': {
    name: 'ws-broadcast', connections: 10_000, pipelining: 1, style: 'in-flight', churn: false,
    title: `ws-broadcast: 10,000 WebSocket clients, ${WS_BROADCASTS} broadcasts of 64 bytes — server CPU per broadcast`,
    headline: { label: 'median server CPU ms per broadcast', unit: 'CPU ms', better: 'lower' },
  },
  'ws-idle-10k': {
    name: 'ws-idle-10k', connections: 10_000, pipelining: 1, style: 'in-flight', churn: false,
    title: 'ws-idle-10k: 10,000 idle WebSocket connections — memory per connection',
    headline: { label: 'KiB per idle WebSocket (RSS)', unit: 'KiB RSS', better: 'lower' },
  },
  'cpu-task': {
    name: 'cpu-task', connections: 10, pipelining: 1, style: 'in-flight', churn: false,
    title: `cpu-task: 4 clients loop on /api/fib?n=${FIB_N} while 10 connections fetch ${BENCH_PATH} — static p99 latency`,
    headline: { label: 'p99 latency of static requests', unit: 'ms', better: 'lower' },
  },
  c10k: {
    name: 'c10k', connections: C10K_ACTIVE, pipelining: 1, style: 'in-flight', churn: false,
    title: `c10k: N idle keep-alive connections (N = ${C10K_IDLE.join(', ')}) held while ${C10K_ACTIVE} connections load the server`,
    headline: { label: 'requests per server-CPU-second', unit: 'req/CPU-s', better: 'higher' },
  },
};

/** Background clients asking for /api/fib in the cpu-task scenario. */
export const FIB_CLIENTS = 4;

/** Facts a mode's flags depend on. */
export interface PlanContext {
  /** True when the server is confined to one core: multi-threaded models are then sized for one core. */
  pinned: boolean;
  /** Load-generator connections of the scenario being planned. */
  connections: number;
}

/**
 * A blocking pool serves one connection per process or thread for as long as it stays open, so
 * under keep-alive load it needs one worker per connection — plus one for slow-client's stalled
 * connection. Fewer, and the extra connections wait in the accept queue for the whole run.
 */
function poolSize(ctx: PlanContext): string {
  return String(Math.min(1024, ctx.connections + 1));
}

/** One mode of one model, as a scenario runs it. */
export interface ModeSpec {
  model: ModelName;
  /** '' for a model with a single mode. */
  mode: string;
  /** Model flags (after `--port 0 --root DIR`). */
  args(ctx: PlanContext): string[];
  /** idle-1k: at most this many connections — a process or thread per connection costs megabytes, and 01 can hold only one. */
  idleCap?: number;
  /** herd: processes or threads blocked in accept, and whether they are processes (02) or threads of one (03). */
  herd?: { members: number; kind: 'processes' | 'threads' };
  /** c10k: idle connections to hold beside the load, and the chart line (model and mode without N) the run belongs to. */
  c10k?: { idle: number; series: string };
}

const nodeHttp: ModeSpec = { model: 'node-http', mode: '', args: () => [] };
const blocking: ModeSpec = { model: '01-blocking', mode: '', args: () => [], idleCap: 1 };
const forkPerConnection: ModeSpec = { model: '02-fork', mode: 'per-connection', args: () => ['--mode', 'per-connection'], idleCap: 200 };
const prefork: ModeSpec = { model: '02-fork', mode: 'prefork', args: (ctx) => ['--mode', 'prefork', '--workers', poolSize(ctx)] };
const threadPerConnection: ModeSpec = { model: '03-threads', mode: 'per-connection', args: () => ['--mode', 'per-connection'], idleCap: 100 };
const threadPool: ModeSpec = { model: '03-threads', mode: 'pool', args: (ctx) => ['--mode', 'pool', '--threads', poolSize(ctx)] };
const busyPoll: ModeSpec = { model: '04-nonblocking', mode: '', args: () => [] };
const pollPoller: ModeSpec = { model: '04-nonblocking', mode: 'poll', args: () => ['--poller', 'poll'] };
const epoll: ModeSpec = { model: '05-epoll-native', mode: '', args: () => [] };
/** Pinned to one core, 06 gets one sub-reactor and one worker: the per-CPU comparison. Unpinned, its defaults. */
const oneCore06 = (ctx: PlanContext) => (ctx.pinned ? ['--reactors', '1', '--workers', '1'] : []);
/**
 * 06's demo default is `--protocol auto` (HTTP, WebSocket and line TCP on one port); the bench
 * runs it as `http`, like every other model, so that the rows compare the same protocol.
 */
const HTTP = ['--protocol', 'http'];
const reactorPool: ModeSpec = { model: '06-reactor-pool', mode: '', args: (ctx) => [...oneCore06(ctx), ...HTTP] };
const reactorPoolWorkers: ModeSpec = { model: '06-reactor-pool', mode: 'fib on worker', args: () => ['--reactors', '1', '--workers', '1', ...HTTP] };
/** The same server with the same computation run on the reactor thread itself: 06's --app loads bench's apps/fib-inline.js. */
const reactorPoolInline: ModeSpec = { model: '06-reactor-pool', mode: 'fib inline', args: () => ['--reactors', '1', '--workers', '1', ...HTTP, '--app', FIB_INLINE_APP] };
/** 06 with the ws bench app; pinned, one SubReactor and one worker, as for the HTTP comparison. (A WebSocket has no idle timeout: the heartbeat, off here, is what ends a silent one.) */
const reactorPoolWs: ModeSpec = {
  model: '06-reactor-pool', mode: '',
  args: (ctx) => [...oneCore06(ctx), ...HTTP, '--app', WS_BENCH_APP],
};
/** The same, its sends made with a send(2) each instead of one io_uring submission per turn (--send-batch calls). */
const reactorPoolWsCalls: ModeSpec = {
  model: '06-reactor-pool', mode: 'send(2) each',
  args: (ctx) => [...reactorPoolWs.args(ctx), '--send-batch', 'calls'],
};
/**
 * accept: 06's ways of accepting (--accept; balancer.ts) side by side under churn, two SubReactors
 * on the one pinned core: the main reactor balancing round-robin or by least connections, one
 * SO_REUSEPORT listener per SubReactor, one listener in every SubReactor's epoll with
 * EPOLLEXCLUSIVE, and the same without it (the herd).
 */
const acceptModes: ModeSpec[] = [['main', 'rr'], ['main', 'least'], ['reuseport'], ['exclusive'], ['shared']].map(([accept, balance]) => ({
  model: '06-reactor-pool',
  mode: balance ? `${accept} ${balance}` : accept!,
  args: () => ['--reactors', '2', '--workers', '1', ...HTTP, '--accept', accept!, ...(balance ? ['--balance', balance] : [])],
}));
/** framed-echo: TCP echo through the line codec (every model's `--protocol echo --codec line`); node:http's baseline splits lines itself. */
const lineArgs = ['--protocol', 'echo', '--codec', 'line'];
const nodeLineEcho: ModeSpec = { model: 'node-http', mode: 'net line echo', args: () => lineArgs };
const lineEcho = (model: ModelName, oneCore: (ctx: PlanContext) => string[] = () => []): ModeSpec => ({ model, mode: '', args: (ctx) => [...oneCore(ctx), ...lineArgs] });
/** One io_uring proactor on one thread: 05's single reactor with completions instead of readiness. */
const proactor: ModeSpec = { model: '07-io-uring', mode: '', args: () => [] };
/** node:http computes /api/fib on its one event loop: the single reactor every Node user already has. */
const nodeHttpInline: ModeSpec = { model: 'node-http', mode: 'fib inline', args: () => [] };

const herdModes: ModeSpec[] = HERD_SIZES.flatMap((n): ModeSpec[] => [
  { model: '02-fork', mode: `prefork ×${n}`, args: () => ['--mode', 'prefork', '--workers', String(n)], herd: { members: n, kind: 'processes' } },
  { model: '03-threads', mode: `pool ×${n}`, args: () => ['--mode', 'pool', '--threads', String(n)], herd: { members: n, kind: 'threads' } },
]);

/** c10k: each event-driven loop once per idle count: `04-nonblocking (poll 1000 idle)`. */
const c10kModes: ModeSpec[] = [busyPoll, pollPoller, epoll, reactorPool].flatMap((base) => C10K_IDLE.map((n): ModeSpec => ({
  ...base,
  mode: `${base.mode ? `${base.mode} ` : ''}${n} idle`,
  c10k: { idle: n, series: modeLabel(base.model, base.mode) },
})));

/**
 * The table: which modes each scenario runs. Blocking pools (02 prefork, 03 pool, one worker per
 * load connection) serve keep-alive load (pipelining runs the event-driven models only); churn adds the per-connection modes, whose cost is
 * creating a process or thread per connection; idle-1k holds connections in the per-connection
 * modes, capped; idle-10k holds 10,000 in 05 and 06 against node:http; herd sizes 02's and 03's pools
 * from 1 to 8; c10k runs 04 (both pollers), 05 and 06 beside 0 to 10,000 idle connections. 04
 * runs its default busy-poll loop elsewhere, 05 its default level-triggered reactor.
 */
export const PLAN: Record<ScenarioName, readonly ModeSpec[]> = {
  keepalive: [nodeHttp, blocking, prefork, threadPool, busyPoll, epoll, reactorPool, proactor],
  // The blocking models answer a pipelined read the same way (one writev for all of it) and
  // learn nothing new here: keepalive and slow-client already show where they stand.
  pipelined: [nodeHttp, busyPoll, epoll, reactorPool, proactor],
  burst: [nodeHttp, busyPoll, epoll, reactorPool, proactor],
  churn: [nodeHttp, blocking, forkPerConnection, prefork, threadPerConnection, threadPool, busyPoll, epoll, reactorPool, proactor],
  'slow-client': [nodeHttp, blocking, prefork, threadPool, busyPoll, epoll, reactorPool],
  'idle-1k': [nodeHttp, blocking, forkPerConnection, threadPerConnection, busyPoll, epoll, reactorPool, proactor],
  // Step 06's memory target: 10,000 served, idle connections, and a newcomer still answered; 05
  // beside it, since at 1,000 connections heap-growth steps blur the two.
  'idle-10k': [nodeHttp, epoll, reactorPool],
  accept: acceptModes,
  herd: [...herdModes.filter((m) => m.model === '02-fork'), ...herdModes.filter((m) => m.model === '03-threads')],
  'cpu-task': [nodeHttpInline, reactorPoolWorkers, reactorPoolInline],
  c10k: c10kModes,
  // Framed TCP: the same echo through each event loop's codec path.
  'framed-echo': [nodeLineEcho, lineEcho('05-epoll-native'), lineEcho('06-reactor-pool', oneCore06), lineEcho('07-io-uring')],
  // Long-lived connections: the `ws` package on node:http against step 06's push API.
  // 06's batched sends both ways: one io_uring submission per turn (its default) and a send(2) each.
  'ws-echo': [nodeHttp, reactorPoolWs, reactorPoolWsCalls],
  'ws-broadcast': [nodeHttp, reactorPoolWs, reactorPoolWsCalls],
  'ws-idle-10k': [nodeHttp, reactorPoolWs],
};

/** One run of the bench: a mode under a scenario. */
export interface PlannedRun {
  scenario: ScenarioName;
  spec: ModeSpec;
  args: string[];
}

/**
 * Every run, scenario by scenario, restricted to the chosen models and scenarios. `connections`
 * (--connections) overrides each scenario's own count.
 */
export function planRuns(scenarios: readonly ScenarioName[], models: readonly ModelName[], machine: { pinned: boolean; connections: number | null }): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const scenario of scenarios) {
    const ctx: PlanContext = { pinned: machine.pinned, connections: machine.connections ?? SCENARIO_SPECS[scenario].connections };
    for (const spec of PLAN[scenario]) {
      if (models.includes(spec.model)) runs.push({ scenario, spec, args: spec.args(ctx) });
    }
  }
  return runs;
}

/** A row's display name: `02-fork (prefork)`. */
export function modeLabel(model: string, mode: string): string {
  return mode ? `${model} (${mode})` : model;
}
