/**
 * `pnpm --filter docs anchors [--check]`: renumber every titled line anchor of the course from
 * the regions it names (see anchors.ts). By default the Markdown files are rewritten in place;
 * with `--check` nothing is written and the command fails (exit 1) if any link would change, so
 * a stale number is caught without running the test suite. A title naming no region fails too.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rewriteAnchors } from './anchors.js';
import { courseFiles } from './check-links.js';
import { parseRegions, type Regions } from './regions.js';

const args = process.argv.slice(2);
for (const a of args) {
  if (a !== '--check') {
    console.error(`anchors: unknown flag ${a} (usage: anchors [--check])`);
    process.exit(2);
  }
}
const check = args.includes('--check');

// This file runs compiled, from docs/dist/: the repository is two folders up either way.
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = new Map<string, Regions | null>();
let stale = 0;
let failed = 0;

for (const file of courseFiles(repo)) {
  const md = readFileSync(file, 'utf8');
  const regionsOf = (path: string): Regions | null => {
    const abs = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    if (!cache.has(abs)) cache.set(abs, existsSync(abs) && statSync(abs).isFile() ? parseRegions(readFileSync(abs, 'utf8')) : null);
    return cache.get(abs)!;
  };
  const { text, changed, problems } = rewriteAnchors(md, regionsOf);
  const name = relative(repo, file);
  for (const p of problems) console.error(`${name}:${p.line}: ${p.message}`);
  failed += problems.length;
  if (changed === 0) continue;
  stale += changed;
  if (check) console.error(`${name}: ${changed} line anchor(s) out of date`);
  else {
    writeFileSync(file, text);
    console.log(`${name}: ${changed} line anchor(s) renumbered`);
  }
}

if (check && stale > 0) console.error('run `pnpm --filter docs anchors` to renumber them');
process.exit(failed > 0 || (check && stale > 0) ? 1 : 0);
