/**
 * The bench's command line:
 *
 *   pnpm bench [--engine E] [--rate R] [--duration S] [--connections N] [--models a,b] [--scenario x,y]
 *              [--repeat N] [--merge] [--out FILE] [--root DIR]
 *
 * Pure: `parseOptions` throws UsageError, and cli.ts turns that into one line and exit code 2.
 */
import { ENGINE_NAMES, DEFAULT_ENGINE, type EngineName } from './engines/index.js';
import { MODELS, type ModelName } from './plan.js';
import { SCENARIOS, type ScenarioName } from './types.js';

export interface BenchOptions {
  /** The load generator (engines/index.ts). */
  engine: EngineName;
  /**
   * Open loop: requests per second over all connections, scheduled at that rate (wrk2 style);
   * null for the closed loop. Engines that cannot hold a rate fairly say so in each row.
   */
  rateRps: number | null;
  /** Seconds the engine's own ceiling is measured for before the runs (ceiling.ts); 0 skips it. */
  ceilingS: number;
  /**
   * Run the latency-vs-offered-load curve (latency-curve.ts): `--scenario latency-curve`, or by
   * default with an engine that holds an open loop (the reactor).
   */
  curve: boolean;
  /** Seconds of load per run (after the warm-up). */
  durationS: number;
  /** Overrides every scenario's connection count when set. */
  connections: number | null;
  models: ModelName[];
  scenarios: ScenarioName[];
  /** The JSON results file; the Markdown report and SVG charts go next to it. */
  out: string;
  /** Document root served by every model; must hold /bench.html. */
  root: string;
  /** Rounds of every scenario, modes interleaved; each row is its mode's median round (repeat.ts). */
  repeat: number;
  /** Re-run the chosen scenarios into the existing `out` report instead of writing a new one. */
  merge: boolean;
  help: boolean;
}

export class UsageError extends Error {}

/**
 * Run a pure parser on the command line, or leave: --help prints `usage` (exit 0), a UsageError
 * prints one line naming the flag (exit 2). Shared by the bench and its scripts.
 */
export function parseOrExit<T extends { help: boolean }>(program: string, usage: string, parse: (argv: readonly string[]) => T): T {
  try {
    const opts = parse(process.argv.slice(2));
    if (opts.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    return opts;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${program}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * The flags of a command line as (name, value) pairs, in order: `--name value` or `--name=value`;
 * `--help`/`-h` as ('help', ''), and each of `switches` (flags without a value) as (name, ''). Any name outside `known`, a stray word, or a missing value is a
 * UsageError naming it. Shared by the bench and its scripts so that they all read flags alike.
 */
export function* readFlags(argv: readonly string[], known: readonly string[], switches: readonly string[] = []): Generator<[name: string, value: string]> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') { yield ['help', '']; continue; }
    if (arg === '--') continue; // pnpm passes a separator through
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}" (flags look like --duration 5)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (switches.includes(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      yield [name, ''];
      continue;
    }
    const raw = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (!known.includes(name)) throw new UsageError(`unknown flag --${name}`);
    if (raw === undefined || raw === '') throw new UsageError(`--${name} needs a value`);
    yield [name, raw];
  }
}

export const USAGE = `usage: pnpm bench [flags]

  --engine E        load generator: ${ENGINE_NAMES.join(', ')}; default ${DEFAULT_ENGINE}
  --rate R          open loop: R requests/s in all, each timed from when it was due
                    (wrk2 style); default closed loop. Needs --engine reactor
  --ceiling S       seconds spent measuring the engine's own ceiling against a canned
                    server before the runs; 0 skips it; default 2
  --duration S      seconds of load per run, after a short warm-up; default 5
  --connections N   load-generator connections for every scenario (default: per scenario)
  --models a,b      models to run: ${MODELS.join(', ')} (or 01..07); default all
  --scenario x,y    scenarios to run: ${SCENARIOS.join(', ')}, latency-curve
                    (open loop, the reactor engine only); default all (with the curve
                    when --engine reactor)
  --repeat N        run every scenario N rounds, modes interleaved, and keep each mode's
                    median round (the row notes all N); default 1
  --merge           re-run the chosen scenarios into the existing --out report: each
                    one's whole table is replaced, every other scenario stays, the
                    report names both commands; same --engine and --duration as the report
  --out FILE        JSON results; the Markdown report and SVG charts go next to it;
                    default docs/bench/latest.json
  --root DIR        document root holding bench.html; default the demo site
`;

/** Parse argv (without node and the script). `defaults` supplies the paths that depend on where the bench lives. */
export function parseOptions(argv: readonly string[], defaults: { out: string; root: string }): BenchOptions {
  const opts: BenchOptions = { engine: DEFAULT_ENGINE, rateRps: null, ceilingS: 2, curve: false, durationS: 5, connections: null, models: [...MODELS], scenarios: [...SCENARIOS], out: defaults.out, root: defaults.root, repeat: 1, merge: false, help: false };
  let sawScenario = false;
  for (const [name, raw] of readFlags(argv, ['engine', 'rate', 'ceiling', 'duration', 'connections', 'models', 'scenario', 'repeat', 'merge', 'out', 'root'], ['merge'])) {
    switch (name) {
      case 'help': opts.help = true; break;
      case 'engine': opts.engine = parseEngine(raw); break;
      case 'rate': opts.rateRps = parseRate(raw); break;
      case 'ceiling': opts.ceilingS = raw === '0' ? 0 : parseSeconds('--ceiling', raw); break;
      case 'duration': opts.durationS = parseDuration(raw); break;
      case 'connections': opts.connections = parseCount(raw); break;
      case 'models': opts.models = parseModels(raw); break;
      case 'scenario': {
        const words = raw.split(',').map((w) => w.trim());
        opts.curve = words.includes('latency-curve');
        sawScenario = true;
        const rest = words.filter((w) => w !== 'latency-curve');
        opts.scenarios = opts.curve && rest.filter(Boolean).length === 0 ? [] : parseScenarios(rest.join(','));
        break;
      }
      case 'repeat': opts.repeat = parseRepeat(raw); break;
      case 'merge': opts.merge = true; break;
      case 'out': opts.out = raw; break;
      case 'root': opts.root = raw; break;
    }
  }
  if (!sawScenario && opts.engine === 'reactor') opts.curve = true;
  if (opts.curve && opts.engine !== 'reactor') throw new UsageError(`--scenario latency-curve needs --engine reactor (the one engine with an open loop), not ${opts.engine}`);
  return opts;
}

function parseEngine(raw: string): EngineName {
  const match = ENGINE_NAMES.find((e) => e === raw);
  if (!match) throw new UsageError(`--engine: unknown engine "${raw}" (known: ${ENGINE_NAMES.join(', ')})`);
  return match;
}

/** An offered rate in requests per second: an integer from 1 to 10,000,000. */
export function parseRate(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 10_000_000)) throw new UsageError(`--rate expects requests per second, an integer from 1 to 10000000, got "${raw}"`);
  return n;
}

/** Seconds of load: from 0.5 to 600. */
export function parseDuration(raw: string): number {
  return parseSeconds('--duration', raw);
}

function parseSeconds(flag: string, raw: string): number {
  const s = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(s >= 0.5 && s <= 600)) throw new UsageError(`${flag} expects seconds from 0.5 to 600, got "${raw}"`);
  return s;
}

function parseRepeat(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 20)) throw new UsageError(`--repeat expects rounds, an integer from 1 to 20, got "${raw}"`);
  return n;
}

function parseCount(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 10000)) throw new UsageError(`--connections expects an integer from 1 to 10000, got "${raw}"`);
  return n;
}

/** Names in the order of MODELS (the course's order), whatever order the user typed. `05` means `05-epoll-native`. */
function parseModels(raw: string): ModelName[] {
  const wanted = new Set<ModelName>();
  for (const word of raw.split(',').map((w) => w.trim()).filter(Boolean)) {
    const match = MODELS.find((m) => m === word || (/^\d\d$/.test(word) && m.startsWith(word + '-')));
    if (!match) throw new UsageError(`--models: unknown model "${word}" (known: ${MODELS.join(', ')})`);
    wanted.add(match);
  }
  if (wanted.size === 0) throw new UsageError('--models needs at least one model');
  return MODELS.filter((m) => wanted.has(m));
}

function parseScenarios(raw: string): ScenarioName[] {
  if (raw === 'all') return [...SCENARIOS];
  const wanted = new Set<ScenarioName>();
  for (const word of raw.split(',').map((w) => w.trim()).filter(Boolean)) {
    const match = SCENARIOS.find((s) => s === word);
    if (!match) throw new UsageError(`--scenario: unknown scenario "${word}" (known: ${SCENARIOS.join(', ')})`);
    wanted.add(match);
  }
  if (wanted.size === 0) throw new UsageError('--scenario needs at least one scenario');
  return SCENARIOS.filter((s) => wanted.has(s));
}
