import { describe, expect, it } from 'vitest';
import { barChartSvg, escapeXml, type Chart } from '../src/svg.js';

const chart = (bars: Chart['bars'], better: Chart['better'] = 'higher'): Chart => ({
  title: 'keepalive <50>', subtitle: 'requests/s, higher is better', bars, better, format: (n) => `${n} req/s`,
});

/** The bars' rect elements (the first rect is the background). */
const bars = (svg: string) => [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="([\d.]+)"[^>]*fill="([^"]+)"/g)].map((m) => ({ width: Number(m[1]), fill: m[2] }));

describe('barChartSvg', () => {
  it('is one standalone SVG element with escaped text', () => {
    const svg = barChartSvg(chart([{ label: 'a & b', value: 1 }]));
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('keepalive &lt;50&gt;');
    expect(svg).toContain('a &amp; b');
    expect(svg).not.toContain('a & b');
  });

  it('draws bars proportional to their values, the best in green and the baseline in grey', () => {
    const svg = barChartSvg(chart([
      { label: 'node-http', value: 50, baseline: true },
      { label: 'fast', value: 100 },
      { label: 'slow', value: 25 },
    ]));
    const b = bars(svg);
    expect(b).toHaveLength(3);
    expect(b[0]!.width / b[1]!.width).toBeCloseTo(0.5, 2);
    expect(b[2]!.width / b[1]!.width).toBeCloseTo(0.25, 2);
    expect(b.map((x) => x.fill)).toEqual(['#9d9d9d', '#2e9b4f', '#4c78a8']);
    expect(svg).toContain('>100 req/s<');
  });

  it('colours the lowest value when lower is better', () => {
    const b = bars(barChartSvg(chart([{ label: 'a', value: 3 }, { label: 'b', value: 1 }], 'lower')));
    expect(b.map((x) => x.fill)).toEqual(['#4c78a8', '#2e9b4f']);
  });

  it('writes the status instead of a bar for rows without a value', () => {
    const svg = barChartSvg(chart([{ label: '01-blocking', value: null, note: 'collapsed' }, { label: 'x', value: 5 }]));
    expect(bars(svg)).toHaveLength(1);
    expect(svg).toContain('>collapsed<');
  });
});

describe('escapeXml', () => {
  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});
