/**
 * Named regions of a code file: the fixed points that the course's line anchors name.
 *
 * A region is a run of lines between two marker comments, in C and TypeScript alike:
 *
 *     // #region accept-loop
 *     for (;;) { ... }
 *     // #endregion accept-loop
 *
 * Its body is the first line after `#region` to the last line before `#endregion`; a docs link
 * `[the loop](../x.ts#L57-L100 "accept-loop")` names the region in its title, and its numbers are
 * the body's first and last lines. Names are lowercase-with-dashes and unique within a file, so a
 * link names exactly one place. Regions may nest (a loop inside a function) but not overlap: an
 * `#endregion` closes the innermost open region and must repeat its name, which catches a marker
 * moved or deleted by an edit. Pure functions over file contents. Test-only code.
 */

/** A region's body, by 1-based line numbers, inclusive. */
export interface Region {
  name: string;
  /** The first line after `#region`. */
  first: number;
  /** The last line before `#endregion`. */
  last: number;
}

/** A malformed marker, at the line it is on. */
export interface RegionProblem {
  line: number;
  message: string;
}

export interface Regions {
  byName: Map<string, Region>;
  problems: RegionProblem[];
}

/** A marker line: `// #region name`, `/* #region name *\/` or `# #region name`. */
const MARKER = /^\s*(?:\/\/|\/\*|#)\s*#(region|endregion)\b\s*(.*?)\s*(?:\*\/)?\s*$/;
const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Every region of `text`, and every problem with its markers. */
export function parseRegions(text: string): Regions {
  const byName = new Map<string, Region>();
  const problems: RegionProblem[] = [];
  const open: { name: string; line: number }[] = [];
  text.split('\n').forEach((raw, i) => {
    const m = MARKER.exec(raw);
    if (!m) return;
    const line = i + 1;
    const kind = m[1]!;
    const name = m[2]!;
    if (!NAME.test(name)) {
      problems.push({ line, message: `#${kind} ${JSON.stringify(name)}: a region name is lowercase-with-dashes` });
      return;
    }
    if (kind === 'region') {
      if (byName.has(name) || open.some((o) => o.name === name)) {
        problems.push({ line, message: `#region ${name}: the name is already used in this file` });
      }
      open.push({ name, line });
      return;
    }
    const top = open[open.length - 1];
    if (top === undefined) {
      problems.push({ line, message: `#endregion ${name}: no region is open` });
      return;
    }
    if (top.name !== name) {
      problems.push({ line, message: `#endregion ${name}: the innermost open region is ${top.name} (line ${top.line})` });
      return;
    }
    open.pop();
    if (line - 1 < top.line + 1) problems.push({ line, message: `#region ${name} is empty` });
    else if (!byName.has(name)) byName.set(name, { name, first: top.line + 1, last: line - 1 });
  });
  for (const o of open) problems.push({ line: o.line, message: `#region ${o.name} is never closed` });
  return { byName, problems };
}

/** The anchor a link to `region` carries: `L12` for one line, `L12-L40` for more. */
export function regionAnchor(region: Region): string {
  return region.first === region.last ? `L${region.first}` : `L${region.first}-L${region.last}`;
}
