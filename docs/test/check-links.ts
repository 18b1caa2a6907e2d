/**
 * The course text's promise: every relative link resolves and every referenced file exists.
 *
 * What is checked, for one Markdown file:
 *   - each relative link — `[text](target)`, `![alt](target)`, `[ref]: target`, `<a href>`,
 *     `<img src>` — names a file or folder of the repository;
 *   - `#L12` and `#L12-L40` into a code file name a region of that file as the link's title
 *     (`[the loop](../x.ts#L57-L100 "accept-loop")`) and are exactly that region's body (see
 *     regions.ts; `pnpm --filter docs anchors` rewrites the numbers from the names);
 *   - any other `#anchor` on a Markdown file (or on the file itself) matches one of its headings,
 *     slugged as GitHub does it;
 *   - each inline code span that looks like a repository path (`packages/...`, `docs/...`,
 *     `site/...`) names something that exists. A compiled file (`packages/x/dist/y.js`) counts as
 *     existing when its source (`packages/x/src/y.ts`) does: dist/ is not in the repository.
 *
 * Fenced code blocks (commands, traces, Mermaid diagrams) are not read for links. Pure functions
 * over file contents, plus `checkFile`, which reads the disk. Test-only code.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseRegions, regionAnchor, type Regions } from './regions.js';

/** One thing wrong in one file, as a line a reader can act on. */
export interface Problem {
  file: string;
  line: number;
  message: string;
}

/** A link found in Markdown text. */
export interface FoundLink {
  target: string;
  line: number;
  /** The link's title (`[text](target "title")`), if it has one. */
  title?: string;
}

/** Markdown without its fenced code blocks (their lines are kept, blank, so line numbers hold). */
export function withoutFences(text: string): string {
  const lines = text.split('\n');
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s{0,3}(`{3,}|~{3,})/.exec(lines[i]!);
    if (fence === null) {
      if (m) {
        fence = m[1]!;
        lines[i] = '';
      }
    } else {
      // A fence closes with the same character, at least as long, and nothing else on the line.
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length && lines[i]!.trim() === m[1]) fence = null;
      lines[i] = '';
    }
  }
  return lines.join('\n');
}

/**
 * An inline link or image: `[text](target "title")`. The text may hold one level of brackets and
 * run over several lines, but not over a blank one. Groups: 1 everything up to the target, 2 the
 * target, 3 the title with its leading space, 4 or 5 the title (double- or single-quoted), 6 the
 * closing parenthesis and the space before it. `d`: the groups' offsets are kept.
 */
export const INLINE_LINK =
  /(!?\[(?:[^[\]\n]|\n(?![ \t]*\n)|\[[^\]]*\])*\]\(\s*)(<[^>]*>|[^)\s]+)(\s+(?:"([^"]*)"|'([^']*)'))?(\s*\))/dg;

/** A link reference definition, `[ref]: target "title"`, one a line; groups as in INLINE_LINK, without 6. */
export const REFERENCE_DEF = /^(\s{0,3}\[[^\]]+\]:[ \t]*)(\S+)([ \t]+(?:"([^"]*)"|'([^']*)'))?/dgm;

/** An inline code span; group 2 is its contents. */
export const CODE_SPAN = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g;

/** Inline code spans of a line (their contents), in order. */
export function codeSpans(line: string): string[] {
  const spans: string[] = [];
  for (const m of line.matchAll(CODE_SPAN)) spans.push(m[2]!.trim());
  return spans;
}

/**
 * The Markdown's prose: `text` with fenced blocks and code spans blanked out (each character
 * becomes a space, line breaks stay), so that every offset and line number still holds and links
 * can be found, and rewritten, where a reader sees them.
 */
export function proseOf(text: string): string {
  const original = text.split('\n');
  return withoutFences(text)
    .split('\n')
    .map((line, i) => (line === original[i] ? line.replace(CODE_SPAN, (span) => ' '.repeat(span.length)) : ' '.repeat(original[i]!.length)))
    .join('\n');
}

/** A link in Markdown text, where its target stands: `[start, end)` offsets into the text. */
export interface PlacedLink extends FoundLink {
  start: number;
  end: number;
}

/** Every inline link and reference definition of `text`, in order, with its target's place. */
export function placedLinks(text: string): PlacedLink[] {
  const prose = proseOf(text);
  const lineAt = (offset: number) => prose.slice(0, offset).split('\n').length;
  const links: PlacedLink[] = [];
  for (const re of [INLINE_LINK, REFERENCE_DEF]) {
    for (const m of prose.matchAll(re)) {
      const [start, end] = m.indices![2]!;
      const link: PlacedLink = { target: m[2]!, line: lineAt(start), start, end };
      const title = m[4] ?? m[5];
      if (title !== undefined) link.title = title;
      links.push(link);
    }
  }
  return links.sort((x, y) => x.start - y.start);
}

/** Every link target in `text`, outside fenced blocks and code spans. */
export function findLinks(text: string): FoundLink[] {
  const links: FoundLink[] = placedLinks(text).map(({ target, line, title }) => {
    const link: FoundLink = { target: target.replace(/^<|>$/g, ''), line };
    if (title !== undefined) link.title = title;
    return link;
  });
  // <a href="..."> and <img src="...">
  proseOf(text).split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/<(?:a|img)\b[^>]*?\b(?:href|src)\s*=\s*"([^"]*)"/gi)) links.push({ target: m[1]!, line: i + 1 });
  });
  return links.sort((x, y) => x.line - y.line);
}

/**
 * GitHub's heading anchors (github-slugger): the heading's text, lower-cased, with punctuation and
 * symbols removed (letters, digits, `_`, `-` and spaces stay) and spaces turned into `-`.
 * Repeated headings get `-1`, `-2`... in order.
 */
export function headingSlugs(text: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text).split('\n')) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(renderedText(m[1]!));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  // Explicit anchors (<a id="x"></a> / <a name="x">) are link targets too.
  for (const m of text.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) slugs.add(m[1]!);
  return slugs;
}

/** The text GitHub renders for a heading's Markdown: code, links and emphasis reduced to their words. */
function renderedText(md: string): string {
  return md
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/`/g, '')
    .replace(/(\*\*|__|\*)/g, '');
}

export function slug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** A line anchor: `L12` → [12, 12], `L12-L40` → [12, 40]; null for any other anchor. */
export function lineAnchor(anchor: string): [number, number] | null {
  const m = /^L(\d+)(?:-L(\d+))?$/.exec(anchor);
  if (!m) return null;
  const a = Number(m[1]);
  return [a, m[2] === undefined ? a : Number(m[2])];
}

/** Paths in code spans worth checking: they start at a top-level folder of the repository. */
const REPO_PATH = /^(packages|docs|site)\/[\w@.\-/*]*$/;

/** Whether `rel` (relative to the repository) exists; `*` matches within one path segment. */
export function repoPathExists(repo: string, rel: string): boolean {
  const clean = rel.replace(/\/$/, '');
  const dist = /^packages\/([^/]+)\/dist\/(.+)\.js$/.exec(clean);
  if (dist) return repoPathExists(repo, `packages/${dist[1]}/src/${dist[2]}.ts`);
  if (!clean.includes('*')) return existsSync(join(repo, clean));
  // Glob, segment by segment: `packages/*/test/*.test.ts`.
  let candidates = [repo];
  for (const part of clean.split('/')) {
    const next: string[] = [];
    for (const dir of candidates) {
      if (!part.includes('*')) {
        if (existsSync(join(dir, part))) next.push(join(dir, part));
        continue;
      }
      const re = new RegExp('^' + part.split('*').map(escapeRegExp).join('[^/]*') + '$');
      let entries: string[] = [];
      try { entries = readdirSync(dir); } catch { /* not a folder */ }
      for (const e of entries) if (re.test(e) && e !== 'node_modules') next.push(join(dir, e));
    }
    candidates = next;
  }
  return candidates.length > 0;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * What is wrong with a line anchor `[a, b]` (from `#La-Lb`) into the file `rel` holding `content`,
 * given the link's title; null when nothing is. Into a Markdown file only the lines must exist;
 * into any other file the title must name a well-formed region whose body is exactly lines a..b.
 */
export function lineAnchorProblem(
  rel: string,
  content: string,
  [a, b]: [number, number],
  title: string | undefined,
): string | null {
  const anchor = a === b ? `#L${a}` : `#L${a}-L${b}`;
  if (a < 1 || b < a) return `${anchor} is not a line range`;
  const count = content.endsWith('\n') ? content.split('\n').length - 1 : content.split('\n').length;
  if (b > count) return `${rel} has ${count} lines, not ${b}`;
  if (title === undefined && rel.endsWith('.md')) return null;
  if (title === undefined) return `a line anchor names its region as the link's title: (${rel}${anchor} "region-name")`;
  const regions: Regions = parseRegions(content);
  const bad = regions.problems[0];
  if (bad !== undefined) return `${rel}:${bad.line}: ${bad.message}`;
  const region = regions.byName.get(title);
  if (region === undefined) return `${rel} has no region ${JSON.stringify(title)} (mark it: // #region ${title} … // #endregion ${title})`;
  if (region.first !== a || region.last !== b) {
    return `${anchor} is not the body of region ${title}, #${regionAnchor(region)} (pnpm --filter docs anchors rewrites it)`;
  }
  return null;
}

/** Every problem of the Markdown file `file` (absolute), judged against the repository at `repo`. */
export function checkFile(repo: string, file: string): Problem[] {
  const text = readFileSync(file, 'utf8');
  const name = relative(repo, file);
  const problems: Problem[] = [];
  const report = (line: number, message: string) => problems.push({ file: name, line, message });

  for (const { target, line, title } of findLinks(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: — not ours to check
    if (target.startsWith('/')) {
      report(line, `${target}: use a relative link (GitHub resolves root-absolute links differently in places)`);
      continue;
    }
    const hash = target.indexOf('#');
    const pathPart = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? null : decodeURIComponent(target.slice(hash + 1));
    let path: string;
    try {
      path = pathPart === '' ? file : resolve(dirname(file), decodeURIComponent(pathPart.split('?')[0]!));
    } catch {
      report(line, `${target}: malformed percent-encoding`);
      continue;
    }
    if (path !== repo && !path.startsWith(repo + sep)) {
      report(line, `${target}: points outside the repository`);
      continue;
    }
    if (!existsSync(path)) {
      report(line, `${target}: ${relative(repo, path)} does not exist`);
      continue;
    }
    if (anchor === null) continue;
    if (statSync(path).isDirectory()) {
      report(line, `${target}: a folder has no #${anchor}`);
      continue;
    }
    const lines = lineAnchor(anchor);
    const content = readFileSync(path, 'utf8');
    if (lines !== null) {
      const problem = lineAnchorProblem(relative(repo, path).split(sep).join('/'), content, lines, title);
      if (problem !== null) report(line, `${target}: ${problem}`);
      continue;
    }
    if (!path.endsWith('.md')) {
      report(line, `${target}: #${anchor} is neither a heading nor a line anchor (#L12, #L12-L40)`);
      continue;
    }
    if (!headingSlugs(content).has(anchor)) report(line, `${target}: ${relative(repo, path)} has no heading #${anchor}`);
  }

  withoutFences(text).split('\n').forEach((raw, i) => {
    for (const span of codeSpans(raw)) {
      if (REPO_PATH.test(span) && !repoPathExists(repo, span)) report(i + 1, `\`${span}\` does not exist`);
    }
  });
  return problems;
}

/** The files the course promises about: every Markdown file under docs/ and the root README. */
export function courseFiles(repo: string): string[] {
  const out = [join(repo, 'README.md')];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) out.push(join(dir, e.name));
    }
  };
  walk(join(repo, 'docs'));
  return out.sort();
}
