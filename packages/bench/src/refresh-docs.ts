/**
 * Rewrite the bench blocks of the course text (docs/*.md, README.md; see docs.ts) from a report,
 * and the report's own Markdown and charts beside it, without running anything:
 *
 *   pnpm --filter bench refresh-docs [--report docs/bench/latest.json]
 *
 * `pnpm bench` does the same after writing its default report, docs/bench/latest.json.
 * Exit 1 when a marker is wrong (its file and line are named), 2 on a bad flag.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@course/testkit';
import { refreshDocs } from './refresh.js';
import { renderReportFiles } from './report.js';
import { parseOrExit, readFlags } from './options.js';
import type { Report } from './types.js';

const USAGE = `usage: pnpm --filter bench refresh-docs [--report FILE]

  --report FILE   the JSON report to copy from; default docs/bench/latest.json
`;

const opts = parseOrExit('refresh-docs', USAGE, (argv) => {
  const o = { report: join(REPO_ROOT, 'docs', 'bench', 'latest.json'), help: false };
  for (const [name, raw] of readFlags(argv, ['report'])) {
    if (name === 'help') o.help = true;
    else o.report = resolve(process.env.INIT_CWD ?? process.cwd(), raw);
  }
  return o;
});
const report = JSON.parse(readFileSync(opts.report, 'utf8')) as Report;
// A report written before the engine seam names neither its command nor its engine: it was autocannon's.
report.command ??= 'pnpm bench --out docs/bench/latest.json';
report.engine ??= { name: 'autocannon', description: 'autocannon in the bench process' };
const written = renderReportFiles(report, opts.report);
process.stdout.write(`rendered ${written.markdown} and ${written.charts.length} charts from ${opts.report}\n`);
process.exit(refreshDocs(report, opts.report, (line) => process.stdout.write(line + '\n')) ? 0 : 1);
