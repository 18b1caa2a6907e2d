/**
 * The I/O half of docs.ts: which files of the course text hold bench blocks, and rewriting them.
 * Bench main thread only.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { REPO_ROOT } from '@course/testkit';
import { refreshText } from './docs.js';
import type { Report } from './types.js';

/** docs/*.md and the README: the files that may copy results. */
export function courseTextFiles(): string[] {
  const docs = join(REPO_ROOT, 'docs');
  return [join(REPO_ROOT, 'README.md'), ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f))];
}

/** Rewrite every bench block from `report` (written at `reportJson`); log what changed. False when a marker was wrong. */
export function refreshDocs(report: Report, reportJson: string, log: (line: string) => void): boolean {
  const reportMd = reportJson.replace(/\.json$/, '') + '.md';
  let ok = true;
  for (const file of courseTextFiles()) {
    const before = readFileSync(file, 'utf8');
    const link = relative(dirname(file), reportMd).split('\\').join('/');
    const { text, blocks, problems } = refreshText(before, report, link);
    const name = relative(REPO_ROOT, file);
    for (const p of problems) { log(`${name} ${p}`); ok = false; }
    if (text !== before) writeFileSync(file, text);
    if (blocks > 0) log(`${name}: ${blocks} block${blocks === 1 ? '' : 's'} ${text === before ? 'already current' : 'refreshed'}`);
  }
  return ok;
}
