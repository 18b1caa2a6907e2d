/**
 * `pnpm bench`: every model, plus a node:http baseline, on the scenarios that expose them — one
 * table per scenario on stdout, a progress line on stderr, JSON + Markdown + SVG charts on disk.
 *
 * Each run starts the server through the CLI contract (pinned to its own core when possible),
 * waits for its banner, warms it up, loads it, and records what /proc says about its CPU and
 * memory. See plan.ts for which model runs in which mode under which scenario.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import chalk from 'chalk';
import { REPO_ROOT } from '@course/testkit';
import { describeCeiling, measureEngineCeilings } from './ceiling.js';
import { CURVE_MODELS, CURVE_RATES, runLatencyCurve, type CurvePoint } from './latency-curve.js';
import { describePinning, prepareMachine, serverPrefix } from './machine.js';
import { parseOptions, parseOrExit, USAGE, type BenchOptions } from './options.js';
import { BENCH_PATH, SCENARIO_SPECS, planRuns, type PlannedRun } from './plan.js';
import { medianRows, mergeProblem, mergeReports } from './repeat.js';
import { Progress } from './progress.js';
import { rowsOf, writeReport } from './report.js';
import { runLabel, runOne } from './scenarios.js';
import { ENGINES } from './engines/index.js';
import { refreshDocs } from './refresh.js';
import { renderTable, renderVerdicts } from './table.js';
import { targetVerdicts } from './verdicts.js';
import { isBuilt, terminateLiveTargets } from './target.js';
import type { Report, Row } from './types.js';

/** The one home of results: docs/bench/, where the chapters link to them. */
const DEFAULT_OUT = join(REPO_ROOT, 'docs', 'bench', 'latest.json');
const DEMO_SITE = join(REPO_ROOT, 'site');

/**
 * Warm-up before each load phase: half a second is thousands of requests, enough for V8 to
 * optimise the hot path, and short enough to keep the default run near 3 minutes.
 */
function warmupFor(durationS: number): number {
  return Math.min(0.5, Math.max(0.25, durationS / 10));
}

/** Rough seconds a run takes, for "time left". */
function estimateS(run: PlannedRun, opts: BenchOptions, warmupS: number): number {
  if (!isBuilt(run.spec.model)) return 0;
  if (run.scenario === 'idle-1k') return 3 + Math.min(1000, run.spec.idleCap ?? 1000) / 300;
  if (run.scenario === 'idle-10k') return 3 + 10_000 / 2000;
  if (run.scenario === 'herd') return 4;
  if (run.scenario === 'c10k') return warmupS + opts.durationS + 1 + (run.spec.c10k?.idle ?? 0) / 1000;
  return warmupS + opts.durationS + (run.scenario === 'cpu-task' ? 2 : 1);
}

/** Seconds of open-loop load per point of the latency curve: short, there are 24 points. */
const CURVE_S = 2;

/** --merge: the report to merge into, or exit 1 naming why there is none. */
function readBase(path: string): Report {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Report;
  } catch (err) {
    process.stderr.write(`bench: --merge: cannot read ${path}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const opts = parseOrExit('bench', USAGE, (argv) => parseOptions(argv, { out: DEFAULT_OUT, root: DEMO_SITE }));
  // `pnpm bench` runs this in packages/bench; relative paths mean the directory the user typed in.
  const userCwd = process.env.INIT_CWD ?? process.cwd();
  const root = resolve(userCwd, opts.root);
  const benchFile = join(root, BENCH_PATH);
  if (!existsSync(benchFile)) {
    process.stderr.write(`bench: ${benchFile} does not exist: the bench serves the demo site's ${BENCH_PATH} (or pass --root)\n`);
    process.exit(1);
  }
  const benchFileBytes = statSync(benchFile).size;
  const warmupS = warmupFor(opts.durationS);
  const engine = ENGINES[opts.engine];
  const missing = engine.unavailable();
  if (missing) {
    process.stderr.write(`bench: --engine ${engine.name}: ${missing}\n`);
    process.exit(1);
  }

  const machine = prepareMachine();
  const prefix = serverPrefix(machine);
  const planned = planRuns(opts.scenarios, opts.models, { pinned: machine.pinning !== null, connections: opts.connections });
  // --repeat: every scenario's runs N rounds over, interleaved (repeat.ts).
  const runs = opts.scenarios.flatMap((s) => {
    const group = planned.filter((r) => r.scenario === s);
    return Array.from({ length: opts.repeat }, () => group).flat();
  });
  const estimates = runs.map((r) => estimateS(r, opts, warmupS));
  const base = opts.merge ? readBase(resolve(userCwd, opts.out)) : null;
  const unmergeable = base ? mergeProblem(base, engine.name, opts.durationS) : null;
  if (unmergeable) {
    process.stderr.write(`bench: --merge: ${unmergeable}\n`);
    process.exit(2);
  }

  const rounds = opts.repeat > 1 ? ` in ${opts.repeat} interleaved rounds per scenario (each row: its median round)` : '';
  console.log(chalk.bold(`bench: ${runs.length} runs${rounds}, ${opts.durationS} s of load each after ${warmupS} s warm-up, on ${BENCH_PATH} (${benchFileBytes} bytes)`));
  console.log(chalk.dim(`${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}; ${describePinning(machine)}`));
  console.log(chalk.dim(`load generator: ${engine.name} — ${engine.description}`));
  // Every engine's ceiling, not only this run's: the header then shows which engine can measure what.
  const ceilings = opts.ceilingS > 0 ? await measureEngineCeilings(Object.values(ENGINES), prefix, opts.ceilingS) : [];
  for (const c of ceilings) console.log(chalk.dim(describeCeiling(c) + (c.engine === engine.name ? ' ← this run' : '')));
  console.log('');

  const progress = new Progress(process.stderr, runs.length);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      progress.done();
      terminateLiveTargets();
      process.stderr.write(`bench: interrupted (${signal}); no results written\n`);
      process.exit(130);
    });
  }
  const rows: Row[] = [];
  let scenarioRows: Row[] = [];
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!;
    progress.run(i, runLabel(run), estimates[i]!, estimates.slice(i + 1).reduce((a, b) => a + b, 0));
    const row = await runOne(run, {
      root,
      durationS: opts.durationS,
      warmupS,
      connections: opts.connections,
      rateRps: opts.rateRps,
      prefix,
      engine,
      onPhase: (phase, seconds) => progress.phase(phase, seconds),
    });
    scenarioRows.push(row);
    // A scenario is complete when the next run belongs to another one: show its table now.
    if (runs[i + 1]?.scenario !== run.scenario) {
      progress.done();
      const kept = medianRows(scenarioRows, (r) => SCENARIO_SPECS[r.scenario].headline.unit);
      rows.push(...kept);
      scenarioRows = [];
      console.log(renderTable(run.scenario, kept, chalk));
      console.log('');
    }
  }
  progress.done();
  let curve: CurvePoint[] | undefined;
  if (opts.curve) {
    console.log(chalk.bold(`latency curve: ${CURVE_MODELS.join(', ')} at ${CURVE_RATES.join(', ')} requests/s offered, ${CURVE_S} s each`));
    curve = await runLatencyCurve(engine, {
      models: CURVE_MODELS, rates: CURVE_RATES, durationS: CURVE_S, root, prefix,
      onPoint: (model, rate) => process.stderr.write(chalk.dim(`  ${model} at ${rate} req/s\n`)),
    });
    for (const p of curve) console.log(`  ${p.model.padEnd(16)} ${String(p.rate).padStart(7)}/s offered: ${p.reason ?? `${Math.round(p.achieved)}/s served, p50 ${p.p50Ms ?? '-'} ms, p99 ${p.p99Ms ?? '-'} ms, ${p.errors} errors`}`);
    console.log('');
  }
  const verdicts = targetVerdicts(rows);
  if (verdicts.length > 0) console.log(renderVerdicts(verdicts, chalk) + '\n');

  const report: Report = {
    date: new Date().toISOString(),
    command: ['pnpm bench', ...process.argv.slice(2).filter((a) => a !== '--')].join(' '),
    machine,
    engine: { name: engine.name, description: engine.description },
    ceilings,
    settings: { rateRps: opts.rateRps, durationS: opts.durationS, warmupS, connections: opts.connections, benchFile: BENCH_PATH, benchFileBytes, root, repeat: opts.repeat },
    scenarios: opts.scenarios.filter((s) => rowsOf({ rows } as Report, s).length > 0),
    rows,
    ...(curve ? { curve } : {}),
  };
  const final = base ? mergeReports(base, report) : report;
  const written = writeReport(final, resolve(userCwd, opts.out));
  const rel = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p));
  console.log(chalk.dim(`wrote ${rel(written.json)}, ${rel(written.markdown)} and ${written.charts.length} SVG charts`));
  // The docs copy the default report only: a scratch run (--out elsewhere) never rewrites the course text.
  if (written.json === DEFAULT_OUT) {
    if (!refreshDocs(final, written.json, (line) => console.log(chalk.dim(line)))) process.exitCode = 1;
  } else {
    console.log(chalk.dim(`the docs copy ${relative(REPO_ROOT, DEFAULT_OUT)} only: not refreshed from this report`));
  }
  // autocannon and closed sockets may leave timers behind; the work is done.
  process.exit(process.exitCode ?? 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
