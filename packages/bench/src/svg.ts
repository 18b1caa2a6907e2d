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

/** One line of a line chart: a value per x category, null where nothing was measured. */
export interface Series {
  label: string;
  values: (number | null)[];
  /** Defaults to the series' place in LINE_COLORS; pairs of series (p50/p99) share one. */
  color?: string;
  /** Drawn dashed (the p50 of a p50/p99 pair). */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  subtitle: string;
  /** The x categories, evenly spaced (0, 100, 1,000, 10,000 fit no linear or log axis). */
  xs: string[];
  xLabel: string;
  yLabel: string;
  series: Series[];
  format(n: number): string;
  /**
   * A log y axis (decades from the smallest value): latency past a server's knee grows by
   * orders of magnitude, and on a linear axis every point before the knee would sit on zero.
   */
  logY?: boolean;
}

export const LINE_COLORS = ['#4c78a8', '#e45756', '#2e9b4f', '#b279a2', '#f58518', '#72b7b2'];

/** Lines over categories, y from 0, a gap where a value is missing, a legend on the right. Pure. */
export function lineChartSvg(chart: LineChart): string {
  const plot = { left: 80, top: 60, width: 440, height: 260 };
  const legendX = plot.left + plot.width + 30;
  const height = plot.top + plot.height + 60;
  const values = chart.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const max = Math.max(0, ...values) * 1.1 || 1;
  const x = (i: number) => plot.left + (chart.xs.length > 1 ? (i * plot.width) / (chart.xs.length - 1) : plot.width / 2);
  // Log axis: from the decade below the smallest positive value to the decade above the largest.
  const positive = values.filter((v) => v > 0);
  const lo = chart.logY ? 10 ** Math.floor(Math.log10(Math.min(...positive, max))) : 0;
  const hi = chart.logY ? 10 ** Math.ceil(Math.log10(max)) : max;
  const frac = (v: number) => (chart.logY ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo) || 1) : v / max);
  const y = (v: number) => plot.top + plot.height - frac(v) * plot.height;
  const ticks = chart.logY
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, k) => lo * 10 ** k)
    : [0, 1, 2, 3, 4].map((k) => (max * k) / 4);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold" fill="${COLORS.text}">${escapeXml(chart.title)}</text>`,
    `<text x="10" y="40" fill="${COLORS.muted}">${escapeXml(chart.subtitle)}</text>`,
  ];
  for (const v of ticks) {
    out.push(`<line x1="${plot.left}" y1="${y(v).toFixed(1)}" x2="${plot.left + plot.width}" y2="${y(v).toFixed(1)}" stroke="#e6e6e6"/>`);
    out.push(`<text x="${plot.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="${COLORS.muted}">${escapeXml(chart.format(v))}</text>`);
  }
  chart.xs.forEach((label, i) => {
    out.push(`<text x="${x(i).toFixed(1)}" y="${plot.top + plot.height + 18}" text-anchor="middle" fill="${COLORS.text}">${escapeXml(label)}</text>`);
  });
  out.push(`<text x="${plot.left + plot.width / 2}" y="${plot.top + plot.height + 40}" text-anchor="middle" fill="${COLORS.muted}">${escapeXml(chart.xLabel)}</text>`);
  out.push(`<text x="${plot.left}" y="${plot.top - 8}" fill="${COLORS.muted}">${escapeXml(chart.yLabel)}</text>`);
  chart.series.forEach((s, n) => {
    const color = s.color ?? LINE_COLORS[n % LINE_COLORS.length]!;
    const dash = s.dashed ? ' stroke-dasharray="5 4"' : '';
    // A missing value breaks the line: M starts a new piece after a gap.
    let d = '';
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)} ${y(v).toFixed(1)} `;
      pen = true;
      out.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3.5" fill="${color}"/>`);
    });
    if (d) out.push(`<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    const ly = plot.top + 10 + n * 22;
    out.push(`<line x1="${legendX}" y1="${ly - 7}" x2="${legendX + 14}" y2="${ly - 7}" stroke="${color}" stroke-width="3"${dash}/>`);
    out.push(`<text x="${legendX + 20}" y="${ly - 3}" fill="${COLORS.text}">${escapeXml(s.label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
