/**
 * The shapes the bench passes around: one Row per (model, mode, scenario) measured, and the
 * Report written to --out. Plain data, created and read on the bench's main thread only; the
 * JSON file is this Report serialised as is.
 */
import type { EngineCeiling } from './ceiling.js';
import type { CurvePoint } from './latency-curve.js';

/** The scenarios, in the order they are run and shown. */
export const SCENARIOS = ['keepalive', 'pipelined', 'burst', 'churn', 'slow-client', 'idle-1k', 'idle-10k', 'herd', 'accept', 'cpu-task', 'c10k', 'framed-echo', 'ws-echo', 'ws-broadcast', 'ws-idle-10k'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * How a row ended:
 * - `ok`: measured.
 * - `collapsed`: the server ran but could not serve the scenario (0 responses, or it died); `reason` says what happened.
 * - `not built`: the model has no dist/main.js yet.
 * - `not available`: the model rejected the flags this mode needs (exit code 2), e.g. a flag not written yet.
 * - `failed`: the server did not start for another reason (no banner, crash at start-up).
 */
export type RowStatus = 'ok' | 'collapsed' | 'not built' | 'not available' | 'failed';

/** Extra facts of the idle-1k scenario. */
export interface IdleFacts {
  /** Connections the bench tried to open (1,000, or the model's cap). */
  target: number;
  /** True when the model's cap, not 1,000, set `target`. */
  capped: boolean;
  /** Connections opened and served one request each, then left idle. */
  held: number;
  /** Growth of the server tree's summed RSS per held connection, KiB (counts shared pages once per process). */
  rssPerConnectionKb: number | null;
  /** Growth of the tree's PSS per held connection, KiB: shared pages split between processes, the honest figure for fork. */
  pssPerConnectionKb: number | null;
  /** Whether a fresh connection was still answered while the idle ones were held. */
  freshRequest: 'ok' | 'timed out' | 'failed';
  /** Idle connections the server had closed by the time the bench let go of them. */
  closedByServer: number;
  /** How long the fresh request took, connect to last byte, ms. */
  freshMs: number;
}

/** Extra facts of the herd scenario: how many pool members one connection wakes. */
export interface HerdFacts {
  /** Processes (02 prefork) or threads (03 pool) blocked in accept on the one listening socket. */
  members: number;
  /** Sequential connections made, one request each. */
  connections: number;
  /** Voluntary context switches of the pool members per connection: 1 if one wakes, N if all do. */
  wakeupsPerConnection: number;
}

/** Extra facts of the c10k scenario: the idle crowd the active load ran beside. */
export interface C10kFacts {
  /** Idle keep-alive connections the bench meant to hold (0, 100, 1,000 or 10,000). */
  idle: number;
  /** Idle connections opened, served once and still held when the load started. */
  held: number;
  /** Idle connections the server had closed by the end of the load phase. */
  closedByServer: number;
  /** The line this row belongs to in the chart: the model and poller, without the idle count. */
  series: string;
}

/** Extra facts of the cpu-task scenario. */
export interface CpuTaskFacts {
  /** The `n` of /api/fib?n= the background clients ask for. */
  fibN: number;
  /** Background clients running /api/fib in a loop. */
  fibClients: number;
  fibResponses: number;
  fibErrors: number;
}

/** Extra facts of the WebSocket scenarios (ws-scenarios.ts). */
export interface WsFacts {
  /** WebSocket clients connected (echoing, receiving broadcasts, or idle). */
  clients: number;
  /** ws-broadcast: rounds run; server CPU per broadcast and time until the last client had it, ms. */
  broadcasts?: number;
  cpuMsPerBroadcast?: { median: number; max: number };
  lastClientMs?: { median: number; max: number };
  /** ws-broadcast: the share of the server's CPU over all rounds spent in the kernel (stime ÷ utime + stime). */
  kernelShare?: number;
  /** ws-idle-10k: growth of the server's RSS and PSS per idle WebSocket, KiB. */
  rssPerConnectionKb?: number | null;
  pssPerConnectionKb?: number | null;
}

/** One measurement: a model in one mode under one scenario. */
export interface Row {
  /** Package name (`05-epoll-native`) or `node-http`. */
  model: string;
  /** Which of the model's modes ran (`pool`, `per-connection`, `inline`...); '' for a model with one mode. */
  mode: string;
  scenario: ScenarioName;
  status: RowStatus;
  /** Why a row is not `ok`, in one sentence. */
  reason?: string;
  /** Model flags after `--port 0 --root ...`. */
  args: string[];
  /** Connections the load generator used (idle-1k: connections held). */
  connections: number;
  pipelining: number;
  /** Measured length of the load phase, seconds. */
  durationS: number;
  /** Seconds the whole run took, server start to exit: where the bench's own time goes. */
  wallS: number;
  /** Responses received during the load phase (any status). */
  totalRequests: number;
  requestsPerSec: number | null;
  /** totalRequests / serverCpuSeconds: how much work one CPU-second of the server buys. */
  requestsPerServerCpuSec: number | null;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  /** Connection errors, timeouts and non-2xx responses together. */
  errors: number;
  /** The timeouts among `errors`. */
  timeouts: number;
  /** User+system CPU of the whole server tree (threads and children) during the load phase. */
  serverCpuSeconds: number | null;
  /** CPU the load generator (the engine: this process, or wrk's) used during the load phase. */
  clientCpuSeconds: number | null;
  /** The engine that produced the load ('' for scenarios that only hold raw sockets). */
  engine: string;
  /** The load generator kept its one core busy (≥ 90 %): req/s measured the client, not the server. */
  clientBound: boolean;
  /** Read-like and write-like system calls of the server tree during the load (/proc/PID/io), when readable. */
  serverReads?: number;
  serverWrites?: number;
  /** Highest summed RSS of the server tree sampled every 100 ms, KiB. */
  peakRssKb: number | null;
  /** Connections that got at least one response (autocannon scenarios): shows a server serving one connection at a time. */
  connectionsServed?: number;
  /** `--repeat N`: the headline of every round, sorted; this row is the median one (repeat.ts). */
  repeats?: number[];
  idle?: IdleFacts;
  cpuTask?: CpuTaskFacts;
  herd?: HerdFacts;
  accept?: AcceptFacts;
  c10k?: C10kFacts;
  ws?: WsFacts;
  /** Observations worth a reader's attention ("load generator saturated its core"). */
  notes: string[];
}

/** accept: what step 06's own counters (/api/stats) said after the churn, warm-up included. */
export interface AcceptFacts {
  /** Connections each SubReactor was given (main) or accepted itself (the other modes). */
  perReactor: number[];
  /** Times epoll reported the listener readable, over every thread that watches it, per connection accepted. */
  wakeupsPerAccept: number | null;
  /** Of those wake-ups, the ones that found nothing to accept: another reactor was first (the herd). */
  emptyWakeups: number;
}

/** The machine the numbers came from. */
export interface Machine {
  cores: number;
  cpuModel: string;
  node: string;
  platform: string;
  /** The cores the server and the load generator were pinned to, or null when not pinned. */
  pinning: { server: number; client: number; tool: 'taskset' } | null;
  /** Why pinning is off, when it is. */
  pinningNote?: string;
}

/** The --out file. */
export interface Report {
  date: string;
  /** The command line that wrote this report, as typed. */
  command: string;
  machine: Machine;
  /** The load generator of every load phase. */
  engine: { name: string; description: string };
  /** Every engine's own ceiling against the canned server, measured before the runs; empty when skipped (--ceiling 0). */
  ceilings?: EngineCeiling[];
  settings: { rateRps?: number | null; durationS: number; warmupS: number; connections: number | null; benchFile: string; benchFileBytes: number; root: string; repeat?: number };
  /** `--merge`: the later commands that re-ran some scenarios into this report (repeat.ts). */
  merged?: Array<{ command: string; date: string; scenarios: ScenarioName[] }>;
  scenarios: ScenarioName[];
  rows: Row[];
  /** The latency-vs-offered-load curve (latency-curve.ts), when it ran. */
  curve?: CurvePoint[];
}
