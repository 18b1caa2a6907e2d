/**
 * A horizontal bar chart as a standalone SVG string: one bar per model, the value written after
 * it, rows without a value shown with their status instead of a bar. Pure; no fonts or scripts to
 * load, so GitHub and static doc sites render it as an image.
 */

export interface Bar {
  label: string;
  /** null: nothing to draw (collapsed, not built); `note` says why. */
  value: number | null;
  note?: string;
  /** Drawn in the baseline colour (node-http). */
  baseline?: boolean;
}

export interface Chart {
  title: string;
  /** Axis words after the title: "requests/s, higher is better". */
  subtitle: string;
  bars: Bar[];
  format(n: number): string;
  /** Which value is best, for its colour. */
  better: 'higher' | 'lower';
}

/** Escape text for XML content and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch]!);
}

const WIDTH = 760;
const LABEL_W = 250;
const VALUE_W = 110;
const ROW_H = 26;
const TOP = 54;
const COLORS = { bar: '#4c78a8', best: '#2e9b4f', baseline: '#9d9d9d', text: '#222', muted: '#888' };

export function barChartSvg(chart: Chart): string {
  const values = chart.bars.map((b) => b.value).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = Math.max(0, ...values);
  const best = values.length ? (chart.better === 'higher' ? Math.max(...values) : Math.min(...values)) : null;
  const plotW = WIDTH - LABEL_W - VALUE_W - 20;
  const height = TOP + chart.bars.length * ROW_H + 12;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold" fill="${COLORS.text}">${escapeXml(chart.title)}</text>`,
    `<text x="10" y="40" fill="${COLORS.muted}">${escapeXml(chart.subtitle)}</text>`,
  ];
  chart.bars.forEach((bar, i) => {
    const y = TOP + i * ROW_H;
    const mid = y + ROW_H / 2 + 4;
    out.push(`<text x="${LABEL_W - 8}" y="${mid}" text-anchor="end" fill="${COLORS.text}">${escapeXml(bar.label)}</text>`);
    if (bar.value === null || !Number.isFinite(bar.value)) {
      out.push(`<text x="${LABEL_W + 4}" y="${mid}" fill="${COLORS.muted}" font-style="italic">${escapeXml(bar.note ?? 'no value')}</text>`);
      return;
    }
    const w = max > 0 ? Math.max(1, (bar.value / max) * plotW) : 1;
    const fill = bar.baseline ? COLORS.baseline : bar.value === best && values.length > 1 ? COLORS.best : COLORS.bar;
    out.push(`<rect x="${LABEL_W}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW_H - 8}" rx="2" fill="${fill}"/>`);
    out.push(`<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${mid}" fill="${COLORS.text}">${escapeXml(chart.format(bar.value))}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
