/**
 * The line-anchor generator: rewrites the numbers of every titled line anchor from the region it
 * names, so that a docs link follows its code when the code moves.
 *
 *     [the accept loop](../packages/05-epoll-native/src/reactor.ts#L57-L100 "accept-loop")
 *
 * becomes `#L61-L104` when four lines are added above `// #region accept-loop`. Only links with a
 * line anchor and a title are touched (inline links and reference definitions, outside fenced
 * code and code spans); everything else in the text stays byte for byte. A title naming no region
 * is a problem to report, not something to guess at. Pure functions; the command is
 * anchors-cli.ts. Test-only code.
 */
import { lineAnchor, placedLinks } from './check-links.js';
import { regionAnchor, type Regions } from './regions.js';

/** The outcome of rewriting one Markdown text. */
export interface Rewrite {
  text: string;
  /** How many links got new numbers. */
  changed: number;
  /** Titled links that could not be rewritten, by line. */
  problems: { line: number; message: string }[];
}

/**
 * `md` with every titled line anchor renumbered. `regionsOf(path)` gives the regions of a link's
 * file (the target before `#`, as written), or null when there is no such file.
 */
export function rewriteAnchors(md: string, regionsOf: (path: string) => Regions | null): Rewrite {
  const problems: Rewrite['problems'] = [];
  let changed = 0;
  let out = '';
  let from = 0;
  for (const { target, line, title, start, end } of placedLinks(md)) {
    if (title === undefined) continue;
    const bracketed = target.startsWith('<') && target.endsWith('>');
    const bare = bracketed ? target.slice(1, -1) : target;
    const hash = bare.indexOf('#');
    if (hash === -1 || lineAnchor(bare.slice(hash + 1)) === null) continue;
    const path = bare.slice(0, hash);
    const regions = regionsOf(path);
    if (regions === null) {
      problems.push({ line, message: `${bare}: ${path} does not exist` });
      continue;
    }
    const region = regions.byName.get(title);
    if (region === undefined) {
      problems.push({ line, message: `${bare}: ${path} has no region ${JSON.stringify(title)}` });
      continue;
    }
    const next = `${path}#${regionAnchor(region)}`;
    if (next === bare) continue;
    changed++;
    out += md.slice(from, start) + (bracketed ? `<${next}>` : next);
    from = end;
  }
  return { text: out + md.slice(from), changed, problems };
}
