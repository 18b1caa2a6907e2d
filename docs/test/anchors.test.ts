/**
 * Named regions and the generator that renumbers line anchors from them, on small strings; then
 * every region marker in the repository's code, which must parse cleanly wherever it is.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { rewriteAnchors } from './anchors.js';
import { lineAnchorProblem } from './check-links.js';
import { parseRegions, regionAnchor, type Regions } from './regions.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The regions of `lines` joined as a file, as name → [first, last]. */
function bodies(lines: string[]): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const r of parseRegions(lines.join('\n')).byName.values()) out[r.name] = [r.first, r.last];
  return out;
}

function problems(lines: string[]): string[] {
  return parseRegions(lines.join('\n')).problems.map((p) => `${p.line}: ${p.message}`);
}

describe('regions', () => {
  test('a region is the lines between its markers, in TypeScript and C', () => {
    const ts = ['import x;', '// #region loop', 'for (;;) {', '}', '// #endregion loop', ''];
    expect(bodies(ts)).toEqual({ loop: [3, 4] });
    const c = ['#include <x.h>', '  /* #region set-flags */', 'int x;', '  // #endregion set-flags'];
    expect(bodies(c)).toEqual({ 'set-flags': [3, 3] });
    expect(problems(ts)).toEqual([]);
  });

  test('regions nest; an #endregion closes the innermost and repeats its name', () => {
    const nested = ['// #region outer', 'a', '// #region inner', 'b', '// #endregion inner', 'c', '// #endregion outer'];
    expect(bodies(nested)).toEqual({ outer: [2, 6], inner: [4, 4] });
    expect(problems(nested)).toEqual([]);
    const crossed = ['// #region a', 'x', '// #region b', 'y', '// #endregion a', '// #endregion b'];
    expect(problems(crossed)).toEqual(['5: #endregion a: the innermost open region is b (line 3)', '1: #region a is never closed']);
  });

  test('reports duplicate names, unclosed and empty regions, and bad names', () => {
    expect(problems(['// #region a', 'x', '// #endregion a', '// #region a', 'y', '// #endregion a'])).toEqual([
      '4: #region a: the name is already used in this file',
    ]);
    expect(problems(['// #region a', 'x'])).toEqual(['1: #region a is never closed']);
    expect(problems(['// #region a', '// #endregion a'])).toEqual(['2: #region a is empty']);
    expect(problems(['// #region Accept_Loop', 'x', '// #endregion'])).toEqual([
      '1: #region "Accept_Loop": a region name is lowercase-with-dashes',
      '3: #endregion "": a region name is lowercase-with-dashes',
    ]);
  });

  test('markers are whole comment lines only', () => {
    expect(bodies(["const s = '// #region not-a-marker';", ' * #region neither', '// #regional-thing'])).toEqual({});
  });

  test('a one-line region is anchored #Ln, a longer one #La-Lb', () => {
    expect(regionAnchor({ name: 'a', first: 7, last: 7 })).toBe('L7');
    expect(regionAnchor({ name: 'a', first: 7, last: 9 })).toBe('L7-L9');
  });
});

describe('the checker on a line anchor', () => {
  const code = ['one', '// #region two-three', 'two', 'three', '// #endregion two-three', 'six', ''].join('\n');

  test('accepts a link whose title names a region and whose lines are its body', () => {
    expect(lineAnchorProblem('packages/x/a.ts', code, [3, 4], 'two-three')).toBeNull();
  });

  test('reports a region that moved, a missing region and a missing title', () => {
    expect(lineAnchorProblem('packages/x/a.ts', code, [2, 4], 'two-three')).toBe(
      '#L2-L4 is not the body of region two-three, #L3-L4 (pnpm --filter docs anchors rewrites it)',
    );
    expect(lineAnchorProblem('packages/x/a.ts', code, [3, 4], 'four')).toMatch(/^packages\/x\/a.ts has no region "four"/);
    expect(lineAnchorProblem('packages/x/a.ts', code, [3, 4], undefined)).toMatch(/names its region as the link's title/);
  });

  test('reports malformed markers in the target file, and lines past its end', () => {
    const dup = code + '// #region two-three\nx\n// #endregion two-three\n';
    expect(lineAnchorProblem('packages/x/a.ts', dup, [3, 4], 'two-three')).toBe('packages/x/a.ts:7: #region two-three: the name is already used in this file');
    expect(lineAnchorProblem('packages/x/a.ts', code, [3, 9], 'two-three')).toBe('packages/x/a.ts has 6 lines, not 9');
  });

  test('an untitled link into code fails; into Markdown it only needs lines that exist', () => {
    expect(lineAnchorProblem('packages/kit/src/one.ts', code, [1, 2], undefined)).toMatch(/names its region/);
    expect(lineAnchorProblem('docs/notes.md', code, [1, 2], undefined)).toBeNull();
  });
});

describe('the generator', () => {
  const files: Record<string, Regions> = {
    '../a.ts': parseRegions(['x', '// #region loop', 'a', 'b', '// #endregion loop', '// #region one', 'c', '// #endregion one'].join('\n')),
  };
  const regionsOf = (path: string) => files[path] ?? null;

  test('renumbers titled links from their regions and leaves the rest byte for byte', () => {
    const md = [
      'See [the loop](../a.ts#L1-L9 "loop") and [one](<../a.ts#L3-L3> \'one\').',
      '[untitled](../a.ts#L1-L2) [heading](../b.md#intro "loop") `[code](../a.ts#L1 "loop")`',
      '```',
      '[fenced](../a.ts#L1 "loop")',
      '```',
      '[ref]: ../a.ts#L1 "one"',
    ].join('\n');
    const out = rewriteAnchors(md, regionsOf);
    expect(out.problems).toEqual([]);
    expect(out.changed).toBe(3);
    expect(out.text.split('\n')).toEqual([
      'See [the loop](../a.ts#L3-L4 "loop") and [one](<../a.ts#L7> \'one\').',
      '[untitled](../a.ts#L1-L2) [heading](../b.md#intro "loop") `[code](../a.ts#L1 "loop")`',
      '```',
      '[fenced](../a.ts#L1 "loop")',
      '```',
      '[ref]: ../a.ts#L7 "one"',
    ]);
    // Rewriting is idempotent: a second pass finds nothing to change.
    expect(rewriteAnchors(out.text, regionsOf)).toEqual({ text: out.text, changed: 0, problems: [] });
  });

  test('reports a region or a file that does not exist, and changes nothing there', () => {
    const md = 'x\n[gone](../a.ts#L3-L4 "lop") [file](../z.ts#L1 "loop")';
    const out = rewriteAnchors(md, regionsOf);
    expect(out.text).toBe(md);
    expect(out.problems).toEqual([
      { line: 2, message: '../a.ts#L3-L4: ../a.ts has no region "lop"' },
      { line: 2, message: '../z.ts#L1: ../z.ts does not exist' },
    ]);
  });
});

describe('the repository', () => {
  /** Code files under packages/ (sources, natives, tests; not dependencies or build output). */
  function codeFiles(dir: string, out: string[] = []): string[] {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (['node_modules', 'dist', 'build', 'results', 'vectors'].includes(e.name) || e.name.startsWith('.')) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) codeFiles(path, out);
      else if (/\.(ts|c|h|js|mjs)$/.test(e.name)) out.push(path);
    }
    return out;
  }

  test('every region marker in the code parses cleanly', () => {
    const bad: string[] = [];
    for (const file of codeFiles(join(REPO, 'packages'))) {
      for (const p of parseRegions(readFileSync(file, 'utf8')).problems) bad.push(`${relative(REPO, file)}:${p.line}: ${p.message}`);
    }
    expect(bad).toEqual([]);
  });
});
