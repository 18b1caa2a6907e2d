/**
 * What a connection costs in steps 01-03: connections per second with a new connection per
 * request, memory per idle connection, and the thundering herd. See connections.ts.
 *
 * Build the servers and the bench, then run from the repository root:
 *
 *   pnpm exec turbo run build --filter=bench --filter=01-blocking --filter=02-fork --filter=03-threads
 *   pnpm --filter bench exec node dist/connections-cli.js [--connections 2000] [--concurrency 4]
 *        [--idle 100] [--pool N] [--herd-connections 500] [--only "02 fork"]
 *
 * Prints a table and writes packages/bench/results/connections.json. Takes a minute or two: the
 * thread-per-connection server manages a few dozen connections a second.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatReport, runConnectionsBench, type ConnectionsOptions } from './connections.js';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'connections.json');

function parse(argv: string[]): ConnectionsOptions {
  const opts: ConnectionsOptions = {
    connections: 2000,
    concurrency: 4,
    idle: 100,
    poolSize: availableParallelism(),
    herdConnections: 500,
    only: [],
    log: (line) => process.stderr.write(line + '\n'),
  };
  const ints: Record<string, keyof ConnectionsOptions> = {
    '--connections': 'connections', '--concurrency': 'concurrency', '--idle': 'idle', '--pool': 'poolSize', '--herd-connections': 'herdConnections',
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--') continue;
    const value = argv[++i];
    if (flag === '--only' && value) { opts.only.push(value); continue; }
    const key = ints[flag];
    const n = Number(value);
    if (!key) throw new Error(`unknown flag ${flag}`);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} expects a positive integer, got "${value}"`);
    (opts as unknown as Record<string, number>)[key] = n;
  }
  return opts;
}

let opts: ConnectionsOptions;
try {
  opts = parse(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`connections: ${(err as Error).message}\n`);
  process.exit(2);
}
const report = await runConnectionsBench(opts, availableParallelism());
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, JSON.stringify(report, null, 2) + '\n');
process.stdout.write(formatReport(report) + '\n\nwrote ' + RESULTS + '\n');
for (const m of report.modes) if (m.stderr.trim()) process.stdout.write(`\n${m.label} stderr:\n${m.stderr}`);
