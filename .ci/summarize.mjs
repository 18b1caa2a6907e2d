// Sums vitest's per-package "Tests  N passed (N)" lines from a `pnpm test` log into one closing
// line, "N passed, N failed", so a reader (or a CI dashboard) sees the whole suite at a glance.
import { readFileSync } from 'node:fs';

const log = readFileSync(process.argv[2], 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
let skipped = 0;
let suites = 0;
for (const line of log.split('\n')) {
  const m = /^\S*\s*Tests\s+(.*)\((\d+)\)\s*$/.exec(line);
  if (!m) continue;
  suites++;
  for (const [, n, kind] of m[1].matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
    if (kind === 'passed') passed += Number(n);
    else if (kind === 'failed') failed += Number(n);
    else skipped += Number(n);
  }
}
console.log(`test suites: ${suites} packages`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
