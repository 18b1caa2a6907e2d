/**
 * Does step 06 meet its performance targets? Build the bench and 06, then from the repository root:
 *
 *   pnpm exec turbo run build --filter=bench --filter=06-reactor-pool...
 *   pnpm --filter bench exec node dist/targets-cli.js [--duration S] [--out FILE]
 *
 * Three phases, the server always pinned to core 0 and this process (the load generator) to
 * core 1 when the machine allows it (machine.ts):
 *   1. keep-alive — autocannon, 50 connections, against node:http and then 06;
 *   2. pipelined — the burst client (targets.ts): 10 connections writing 16 requests at a time;
 *      then, for comparison only, autocannon with 16 requests in flight (the bench's pipelined
 *      scenario), which is not the load the target names;
 *   3. idle — 06 holding 10,000 served keep-alive connections; its memory, then one fresh request.
 * Then the verdicts: a table on stdout, JSON and Markdown at --out (default
 * packages/bench/results/targets.json and .md). Under a minute at the default 5 s per run.
 *
 * Exit code: 0 when every target passes, 1 when one fails or cannot be measured, 2 on a bad flag.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import chalk from 'chalk';
import { processTree, REPO_ROOT, treeUsage, type RunningServer } from '@course/testkit';
import { openIdleConnections, probe, runAutocannon, type LoadResult } from './load.js';
import { describePinning, prepareMachine, serverPrefix } from './machine.js';
import { parseOrExit } from './options.js';
import { BENCH_PATH } from './plan.js';
import { Progress } from './progress.js';
import { exitDescription, startTarget, terminateLiveTargets, treePssKb, UsageSampler } from './target.js';
import {
  BURST_CONNECTIONS, BURST_DEPTH, IDLE_BATCH, KEEPALIVE_CONNECTIONS, REACTOR_ARGS, TARGETS, TARGETS_USAGE,
  idleCapacityProblem, judge, measuredRun, parseOpenFilesLimit, parsePortRange, parseProcIo, parseTargetsOptions, perConnectionKb,
  renderMarkdown, renderTerminal, runBurst, unstartedRun,
  type IdleRun, type LoadName, type LoadRun, type ServerName, type TargetsReport,
} from './targets.js';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_OUT = join(PACKAGE_DIR, 'results', 'targets.json');
const DEMO_SITE = join(REPO_ROOT, 'site');
/** Long enough for V8 to optimise the hot paths of server and client; the bench uses the same. */
const WARMUP_S = 0.5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** null when the file cannot be read (not Linux): the check is then left to the connections themselves. */
function readOrNull(path: string): string | null {
  try { return readFileSync(path, 'utf8'); } catch { return null; }
}

/** Read-like and write-like system calls of a process tree so far (each process counts all its threads); null if unreadable. */
function treeSyscalls(pid: number): { reads: number; writes: number } | null {
  let reads = 0;
  let writes = 0;
  for (const p of processTree(pid)) {
    const io = parseProcIo(readOrNull(`/proc/${p}/io`) ?? '');
    if (!io) return null;
    reads += io.reads;
    writes += io.writes;
  }
  return { reads, writes };
}

/** What a load phase needs to know about the run. */
interface Env {
  prefix: string[];
  durationS: number;
  progress: Progress;
}

/**
 * Start `server`, warm it up with the same load, then load it for the full duration while /proc
 * samples its CPU. The server is stopped whatever happens.
 */
async function measureLoad(
  env: Env, load: LoadName, server: ServerName, connections: number, depth: number,
  run: (srv: RunningServer, seconds: number) => Promise<LoadResult>,
): Promise<LoadRun> {
  const args = server === '06-reactor-pool' ? [...REACTOR_ARGS] : [];
  env.progress.phase('starting', 1);
  const started = await startTarget(server, args, DEMO_SITE, env.prefix);
  if (!started.ok) return unstartedRun(load, server, args, connections, depth, `${started.status}: ${started.reason}`);
  const srv = started.server;
  try {
    env.progress.phase('warm-up', WARMUP_S);
    await run(srv, WARMUP_S);
    await sleep(100); // let the server finish with the warm-up's connections
    env.progress.phase('load', env.durationS);
    const io0 = treeSyscalls(srv.pid);
    const sampler = new UsageSampler(srv.pid);
    let result: LoadResult;
    try {
      result = await run(srv, env.durationS);
    } catch (err) {
      sampler.stop();
      throw err;
    }
    const usage = sampler.stop();
    const io1 = treeSyscalls(srv.pid);
    const syscalls = io0 && io1 ? { reads: io1.reads - io0.reads, writes: io1.writes - io0.writes } : null;
    return measuredRun(load, server, args, connections, depth, result, usage, syscalls, exitDescription(srv));
  } catch (err) {
    const failed = unstartedRun(load, server, args, connections, depth, `load generator error: ${(err as Error).message}`);
    return { ...failed, status: 'collapsed' };
  } finally {
    env.progress.phase('stopping', 0.5);
    await srv.stop(5000);
  }
}

/**
 * Start 06, open TARGETS.idleConnections keep-alive connections (each served one GET, so the server
 * really holds a served connection), read the server tree's RSS and PSS before and after, then time
 * one GET on a new connection. Every connection is closed at the end.
 */
async function measureIdle(env: Env): Promise<IdleRun> {
  const args = [...REACTOR_ARGS];
  const target = TARGETS.idleConnections;
  const blank = {
    args, target, held: 0, failures: 0, closedByServer: 0, openS: 0,
    rssBeforeKb: 0, rssAfterKb: 0, pssBeforeKb: 0, pssAfterKb: 0, rssPerConnectionKb: null, pssPerConnectionKb: null,
    fresh: { outcome: 'failed' as const, ms: 0 },
  };
  env.progress.phase('starting', 1);
  const started = await startTarget('06-reactor-pool', args, DEMO_SITE, env.prefix);
  if (!started.ok) return { ...blank, status: 'failed', reason: `${started.status}: ${started.reason}` };
  const srv = started.server;
  try {
    // One request first, so that the file cache and the lazily built parts exist before "before".
    await probe(srv.port, srv.host, BENCH_PATH, 5000);
    await sleep(200);
    const before = { rss: treeUsage(srv.pid).rssKb, pss: treePssKb(srv.pid) };

    env.progress.phase(`opening ${target.toLocaleString('en-US')} connections`, target / 2000);
    const t0 = performance.now();
    const idle = await openIdleConnections(srv.port, srv.host, BENCH_PATH, target, { batch: IDLE_BATCH, timeoutMs: 5000, stop: () => null });
    const openS = (performance.now() - t0) / 1000;
    try {
      env.progress.phase('holding', 1);
      await sleep(500); // let the server settle: memory it touches just after the last accept counts too
      const after = { rss: treeUsage(srv.pid).rssKb, pss: treePssKb(srv.pid) };
      const f0 = performance.now();
      const outcome = await probe(srv.port, srv.host, BENCH_PATH, 5000);
      const fresh = { outcome, ms: performance.now() - f0 };
      const died = exitDescription(srv);
      const run: IdleRun = {
        ...blank, status: 'ok', held: idle.held, failures: idle.failures, closedByServer: idle.closedByServer(), openS,
        rssBeforeKb: before.rss, rssAfterKb: after.rss, pssBeforeKb: before.pss, pssAfterKb: after.pss,
        rssPerConnectionKb: perConnectionKb(before.rss, after.rss, idle.held),
        pssPerConnectionKb: perConnectionKb(before.pss, after.pss, idle.held),
        fresh,
      };
      if (idle.firstError !== undefined) run.firstError = idle.firstError;
      if (died) return { ...run, status: 'collapsed', reason: `${died} while holding idle connections` };
      return run;
    } finally {
      idle.release();
    }
  } finally {
    env.progress.phase('stopping', 0.5);
    await srv.stop(5000);
  }
}

async function main(): Promise<void> {
  const opts = parseOrExit('targets', TARGETS_USAGE, (argv) => parseTargetsOptions(argv, { out: DEFAULT_OUT }));
  const userCwd = process.env.INIT_CWD ?? process.cwd();
  const benchFile = join(DEMO_SITE, BENCH_PATH);
  if (!existsSync(benchFile)) {
    process.stderr.write(`targets: ${benchFile} does not exist: the targets are stated for the demo site's ${BENCH_PATH}\n`);
    process.exit(1);
  }
  // Fail before any load if 10,000 connections cannot be held from here.
  const capacity = idleCapacityProblem(
    TARGETS.idleConnections,
    parseOpenFilesLimit(readOrNull('/proc/self/limits') ?? ''),
    parsePortRange(readOrNull('/proc/sys/net/ipv4/ip_local_port_range') ?? ''),
  );
  if (capacity) {
    process.stderr.write(`targets: ${capacity}\n`);
    process.exit(1);
  }

  const machine = prepareMachine();
  const env: Env = { prefix: serverPrefix(machine), durationS: opts.durationS, progress: new Progress(process.stderr, 7) };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      env.progress.done();
      terminateLiveTargets();
      process.stderr.write(`targets: interrupted (${signal}); no results written\n`);
      process.exit(130);
    });
  }
  process.stderr.write(chalk.dim(`${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}; ${describePinning(machine)}\n`));

  const loadS = WARMUP_S + opts.durationS + 2;
  const keepalive = (srv: RunningServer, seconds: number) =>
    runAutocannon({ url: `http://${srv.host}:${srv.port}${BENCH_PATH}`, connections: KEEPALIVE_CONNECTIONS, pipelining: 1, durationS: seconds });
  const burst = (srv: RunningServer, seconds: number) =>
    runBurst({ port: srv.port, host: srv.host, path: BENCH_PATH, connections: BURST_CONNECTIONS, depth: BURST_DEPTH, durationS: seconds });
  // For comparison only: the bench's pipelined scenario, the load shape the target does not name.
  const inFlight = (srv: RunningServer, seconds: number) =>
    runAutocannon({ url: `http://${srv.host}:${srv.port}${BENCH_PATH}`, connections: BURST_CONNECTIONS, pipelining: BURST_DEPTH, durationS: seconds });

  const loads: Record<LoadName, { connections: number; depth: number; run: typeof keepalive }> = {
    'keep-alive': { connections: KEEPALIVE_CONNECTIONS, depth: 1, run: keepalive },
    'burst-16': { connections: BURST_CONNECTIONS, depth: BURST_DEPTH, run: burst },
    'autocannon-16': { connections: BURST_CONNECTIONS, depth: BURST_DEPTH, run: inFlight },
  };
  const plan: Array<[LoadName, ServerName]> = [];
  for (const load of ['keep-alive', 'burst-16', 'autocannon-16'] as const) plan.push([load, 'node-http'], [load, '06-reactor-pool']);
  const runs: LoadRun[] = [];
  for (const [i, [load, server]] of plan.entries()) {
    env.progress.run(i, `${server} · ${load}`, loadS, (plan.length - 1 - i) * loadS + 8);
    const { connections, depth, run } = loads[load];
    runs.push(await measureLoad(env, load, server, connections, depth, run));
  }
  env.progress.run(plan.length, `06-reactor-pool · ${TARGETS.idleConnections.toLocaleString('en-US')} idle`, 8, 0);
  const idle = await measureIdle(env);
  env.progress.done();

  const report: TargetsReport = {
    date: new Date().toISOString(),
    command: `pnpm --filter bench exec node dist/targets-cli.js ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    settings: {
      durationS: opts.durationS, warmupS: WARMUP_S, benchFile: BENCH_PATH, benchFileBytes: statSync(benchFile).size,
      keepaliveConnections: KEEPALIVE_CONNECTIONS, burst: { connections: BURST_CONNECTIONS, depth: BURST_DEPTH },
      idleConnections: TARGETS.idleConnections,
    },
    runs,
    idle,
    verdicts: judge(runs, idle),
  };
  console.log(renderTerminal(report, chalk));

  const json = resolve(userCwd, opts.out);
  let markdown = join(dirname(json), basename(json, extname(json)) + '.md');
  if (markdown === json) markdown = json + '.md'; // --out x.md must not overwrite itself
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(markdown, renderMarkdown(report));
  const rel = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p));
  console.log(chalk.dim(`\nwrote ${rel(json)} and ${rel(markdown)}`));
  // autocannon and closed sockets may leave timers behind; the work is done.
  process.exit(report.verdicts.every((v) => v.verdict === 'PASS') ? 0 : 1);
}

main().catch((err: unknown) => {
  terminateLiveTargets();
  process.stderr.write(`targets: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
