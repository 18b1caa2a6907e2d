/**
 * The latency-vs-offered-load curve (`pnpm bench --curve`): for 05, 06 and node:http, the
 * reactor engine's open loop at a ladder of offered rates, p50 and p99 per rate, timed from
 * when each request was due (wrk2's rule), drawn as one SVG. Closed-loop rows say how fast a
 * server can go; this says what latency its users see at a given rate, and where it stops
 * keeping up (the knee). Each rate is a run of its own on a fresh server, so one rate's queue
 * does not spill into the next. Bench main thread only.
 */
import type { LoadEngine } from './engine.js';
import type { ModelName } from './plan.js';
import { LINE_COLORS, lineChartSvg, type Series } from './svg.js';
import { startTarget } from './target.js';

/** The models the curve compares: the two reactors and the baseline. */
export const CURVE_MODELS: readonly ModelName[] = ['05-epoll-native', '06-reactor-pool', 'node-http'];
/** Offered requests/s, low to past the servers' keep-alive throughput on a small machine. */
export const CURVE_RATES: readonly number[] = [5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 80_000];
export const CURVE_CONNECTIONS = 50;

/** One model at one offered rate. Plain data; the JSON report's `curve` holds these. */
export interface CurvePoint {
  model: ModelName;
  /** Offered requests/s. */
  rate: number;
  /** Responses/s received. */
  achieved: number;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number;
  /** Why this point has no numbers (the model not built, failed to start). */
  reason?: string;
}

export const CURVE_TITLE = `latency-curve: open loop at rising offered rates, ${CURVE_CONNECTIONS} connections, p50 and p99 timed from when each request was due`;

/** The points as a Markdown table: a row per rate, served/s and p50/p99 per model. Pure. */
export function curveTable(points: readonly CurvePoint[]): string {
  const models = [...new Set(points.map((p) => p.model))];
  const rates = [...new Set(points.map((p) => p.rate))].sort((a, b) => a - b);
  const ms = (v: number | null) => (v === null ? '—' : v < 10 ? v.toFixed(2) : Math.round(v).toLocaleString('en-US'));
  const lines = [
    `| offered req/s | ${models.map((m) => `${m} served/s | p50 ms | p99 ms`).join(' | ')} |`,
    `| ---: | ${models.map(() => '---: | ---: | ---:').join(' | ')} |`,
  ];
  for (const rate of rates) {
    const cells = models.map((m) => {
      const p = points.find((q) => q.model === m && q.rate === rate);
      if (!p) return '— | — | —';
      if (p.reason) return `not run: ${p.reason} | | `;
      return `${Math.round(p.achieved).toLocaleString('en-US')}${p.errors ? ` (${p.errors} errors)` : ''} | ${ms(p.p50Ms)} | ${ms(p.p99Ms)}`;
    });
    lines.push(`| ${rate.toLocaleString('en-US')} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Run every model at every rate: `models × rates` runs of `durationS` each. */
export async function runLatencyCurve(engine: LoadEngine, opts: {
  models: readonly ModelName[]; rates: readonly number[]; durationS: number; root: string; prefix: string[];
  onPoint?(model: ModelName, rate: number): void;
}): Promise<CurvePoint[]> {
  const points: CurvePoint[] = [];
  for (const model of opts.models) {
    for (const rate of opts.rates) {
      opts.onPoint?.(model, rate);
      const shape = { connections: CURVE_CONNECTIONS, depth: 1, pipelining: 'in-flight' as const, churn: false, durationS: opts.durationS, rateRps: rate };
      const why = engine.cannot(shape);
      if (why) { points.push({ model, rate, achieved: 0, p50Ms: null, p99Ms: null, errors: 0, reason: why }); continue; }
      const started = await startTarget(model, [], opts.root, opts.prefix);
      if (!started.ok) { points.push({ model, rate, achieved: 0, p50Ms: null, p99Ms: null, errors: 0, reason: started.reason }); continue; }
      try {
        const r = await engine.run(`http://${started.server.host}:${started.server.port}/bench.html`, shape);
        points.push({ model, rate, achieved: r.durationS > 0 ? r.responses / r.durationS : 0, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors });
      } finally {
        await started.server.stop(5000);
      }
    }
  }
  return points;
}

/** The curve as one SVG: a p50 (dashed) and p99 (solid) line per model against offered rate. Pure. */
export function latencyCurveSvg(points: readonly CurvePoint[]): string {
  const models = [...new Set(points.map((p) => p.model))];
  const rates = [...new Set(points.map((p) => p.rate))].sort((a, b) => a - b);
  const at = (model: ModelName, rate: number) => points.find((p) => p.model === model && p.rate === rate);
  const series: Series[] = models.flatMap((model, i) => {
    const color = LINE_COLORS[i % LINE_COLORS.length]!;
    return [
      { label: `${model} p99`, color, values: rates.map((r) => at(model, r)?.p99Ms ?? null) },
      { label: `${model} p50`, color, dashed: true, values: rates.map((r) => at(model, r)?.p50Ms ?? null) },
    ];
  });
  return lineChartSvg({
    title: 'Latency vs offered load (open loop, reactor engine)',
    subtitle: `p50 (dashed) and p99 (solid), timed from when each request was due; ${CURVE_CONNECTIONS} connections`,
    xs: rates.map((n) => (n >= 1000 ? `${n / 1000}k` : String(n))),
    xLabel: 'offered requests/s',
    yLabel: 'latency, ms (log scale)',
    series,
    logY: true,
    format: (n) => (n >= 1 ? `${n} ms` : `${n.toFixed(n < 0.01 ? 3 : 2)} ms`),
  });
}
