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
import { CODE_SPAN, INLINE_LINK, REFERENCE_DEF, lineAnchor, withoutFences } from './check-links.js';
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
  const prose = withoutFences(md).split('\n');
  const lines = md.split('\n');

  /** The target with its numbers taken from region `title`, or the target unchanged. */
  const renumber = (target: string, title: string | undefined, line: number): string => {
    if (title === undefined) return target;
    const bracketed = target.startsWith('<') && target.endsWith('>');
    const bare = bracketed ? target.slice(1, -1) : target;
    const hash = bare.indexOf('#');
    if (hash === -1 || lineAnchor(bare.slice(hash + 1)) === null) return target;
    const path = bare.slice(0, hash);
    const regions = regionsOf(path);
    if (regions === null) {
      problems.push({ line, message: `${bare}: ${path} does not exist` });
      return target;
    }
    const region = regions.byName.get(title);
    if (region === undefined) {
      problems.push({ line, message: `${bare}: ${path} has no region ${JSON.stringify(title)}` });
      return target;
    }
    const next = `${path}#${regionAnchor(region)}`;
    if (next === bare) return target;
    changed++;
    return bracketed ? `<${next}>` : next;
  };

  /** One stretch of a line outside code spans, its inline links renumbered. */
  const rewriteProse = (text: string, line: number): string =>
    text.replace(INLINE_LINK, (_all, head: string, target: string, titled = '', dq?: string, sq?: string, tail = '') =>
      head + renumber(target, dq ?? sq, line) + titled + tail,
    );

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (prose[i] !== raw) continue; // inside a fenced block
    const def = REFERENCE_DEF.exec(raw);
    if (def) {
      lines[i] = def[1]! + renumber(def[2]!, def[4] ?? def[5], i + 1) + raw.slice(def[1]!.length + def[2]!.length);
      continue;
    }
    // Code spans are kept as they are; links are only rewritten in the text between them.
    let out = '';
    let from = 0;
    for (const span of raw.matchAll(CODE_SPAN)) {
      out += rewriteProse(raw.slice(from, span.index), i + 1) + span[0];
      from = span.index + span[0].length;
    }
    lines[i] = out + rewriteProse(raw.slice(from), i + 1);
  }
  return { text: lines.join('\n'), changed, problems };
}
