/**
 * Every relative link in the course (docs/**\/*.md and the root README) resolves, line anchors
 * land exactly on the code region their title names, heading anchors match a heading, and every repository path quoted in `code`
 * exists. The first block shows the checker catching each kind of mistake on a scratch
 * repository; the second runs it on the real files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkFile, courseFiles, findLinks, headingSlugs, lineAnchor, slug } from './check-links.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the checker', () => {
  let repo: string;

  beforeAll(() => {
    repo = mkdtempSync(join(tmpdir(), 'docs-links-'));
    mkdirSync(join(repo, 'docs'));
    mkdirSync(join(repo, 'packages', 'x', 'src'), { recursive: true });
    writeFileSync(join(repo, 'packages', 'x', 'src', 'main.ts'), 'one\n// #region two-three\ntwo\nthree\n// #endregion two-three\nsix\n');
    writeFileSync(join(repo, 'docs', 'other.md'), '# Other page\n\n## The `Sink` seam\n\n## Step 2: fork()\n\n## Step 2: fork()\n');
  });
  afterAll(() => rmSync(repo, { recursive: true, force: true }));

  /** Problems of a docs/page.md holding `md`, as "line: message". */
  function problemsOf(md: string): string[] {
    const file = join(repo, 'docs', 'page.md');
    writeFileSync(file, md);
    return checkFile(repo, file).map((p) => `${p.line}: ${p.message}`);
  }

  test('accepts links that resolve', () => {
    const md = [
      '# Page',
      '[src](../packages/x/src/main.ts) [lines](../packages/x/src/main.ts#L3-L4 "two-three")',
      '[dir](../packages/x) [other](other.md#the-sink-seam) [again](other.md#step-2-fork-1) [self](#page)',
      '[web](https://example.com/missing) `packages/x/src/main.ts` `packages/*/src/*.ts` `packages/x/dist/main.js`',
    ].join('\n');
    expect(problemsOf(md)).toEqual([]);
  });

  test('reports a link to a missing file', () => {
    expect(problemsOf('[gone](../packages/x/src/gone.ts)')).toEqual(['1: ../packages/x/src/gone.ts: packages/x/src/gone.ts does not exist']);
  });

  test('reports a line anchor past the end of the file', () => {
    expect(problemsOf('x\n[far](../packages/x/src/main.ts#L2-L9)')).toEqual(['2: ../packages/x/src/main.ts#L2-L9: packages/x/src/main.ts has 6 lines, not 9']);
  });

  test('reports a line anchor without its region title, or off its region', () => {
    expect(problemsOf('[bare](../packages/x/src/main.ts#L3-L4)')).toEqual([
      '1: ../packages/x/src/main.ts#L3-L4: a line anchor names its region as the link\'s title: (packages/x/src/main.ts#L3-L4 "region-name")',
    ]);
    expect(problemsOf('[off](../packages/x/src/main.ts#L2-L4 "two-three")')).toEqual([
      '1: ../packages/x/src/main.ts#L2-L4: #L2-L4 is not the body of region two-three, #L3-L4 (pnpm --filter docs anchors rewrites it)',
    ]);
  });

  test('reports a heading anchor that matches no heading', () => {
    expect(problemsOf('[h](other.md#the-sink)')).toEqual(['1: other.md#the-sink: docs/other.md has no heading #the-sink']);
    expect(problemsOf('# Title\n[h](#nothing)')).toEqual(['2: #nothing: docs/page.md has no heading #nothing']);
  });

  test('reports a missing path quoted in code, and a root-absolute link', () => {
    expect(problemsOf('see `packages/x/src/nope.ts` and `packages/*/test/*.ts`')).toEqual([
      '1: `packages/x/src/nope.ts` does not exist',
      '1: `packages/*/test/*.ts` does not exist',
    ]);
    expect(problemsOf('[abs](/packages/x)')).toHaveLength(1);
  });

  test('ignores fenced code and Mermaid blocks', () => {
    expect(problemsOf('```mermaid\nflowchart LR\n  A[x](gone.md) --> B\n```\n```sh\ncat packages/none\n```\n')).toEqual([]);
  });

  test('finds inline, reference, image and HTML links', () => {
    const md = '![img](a.svg) [t [n]](b.md "title") <img src="c.svg"> <a href="d.md">d</a>\n[ref]: e.md\n`[not](f.md)`';
    expect(findLinks(md).map((l) => l.target)).toEqual(['a.svg', 'b.md', 'c.svg', 'd.md', 'e.md']);
    // A link's text may run over lines (not over a blank one); it is found on its target's line.
    expect(findLinks('x\n[two\nlines](g.md "t") `[no](h.md)`\n[not\n\nthis](i.md)')).toEqual([{ target: 'g.md', line: 3, title: 't' }]);
  });

  test('slugs headings as GitHub does', () => {
    expect(slug('Step 05 — epoll, LT & ET')).toBe('step-05--epoll-lt--et');
    expect(slug('What `fork()` does')).toBe('what-fork-does');
    expect([...headingSlugs('## A\n## A\n```\n## not a heading\n```\n## **Bold** [link](x.md)')]).toEqual(['a', 'a-1', 'bold-link']);
    expect(lineAnchor('L7-L9')).toEqual([7, 9]);
    expect(lineAnchor('intro')).toBeNull();
  });
});

describe('the course', () => {
  const files = courseFiles(REPO);

  test('has every page the course map promises', () => {
    const pages = [
      'README.md',
      'docs/README.md',
      'docs/01-blocking.md',
      'docs/02-fork.md',
      'docs/03-threads.md',
      'docs/04-nonblocking.md',
      'docs/05-epoll-native.md',
      'docs/06-reactor-pool.md',
      'docs/benchmarks.md',
      'docs/appendix-syscalls.md',
      'docs/appendix-http-core.md',
      'docs/appendix-fork-in-node.md',
    ];
    for (const page of pages) expect(files).toContain(join(REPO, page));
  });

  test.each(files.map((f) => [f.slice(REPO.length + 1), f]))('%s: every link and referenced file resolves', (_name, file) => {
    expect(checkFile(REPO, file).map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([]);
  });
});
