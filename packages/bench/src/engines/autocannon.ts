/**
 * The autocannon engine, in this process (pinned to the client core). autocannon keeps requests
 * in flight and can hold an overall rate; it cannot open a connection per request or write
 * pipelined bursts, so those shapes use testkit's raw clients (`runChurn`, `runBurst`) — still in
 * this process, still counted as this engine's CPU.
 */
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { LatencyRecorder, REQUEST_TIMEOUT_S, runBurst, runChurn } from '@course/testkit';
import { ownCpuSince, type EngineResult, type LoadEngine, type LoadShape } from '../engine.js';

async function runAutocannon(url: string, shape: LoadShape): Promise<EngineResult> {
  const cpu0 = process.cpuUsage();
  // Latencies are recorded here at full resolution, not from autocannon's whole-millisecond histogram.
  const latencies = new LatencyRecorder();
  const served = new Set<unknown>();
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url, connections: shape.connections, pipelining: shape.depth, duration: shape.durationS, timeout: REQUEST_TIMEOUT_S,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (client: unknown, _status: number, _bytes: number, ms: number) => {
      latencies.record(ms);
      served.add(client);
    });
  });
  const measured = (performance.now() - started) / 1000;
  return {
    responses: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    durationS: result.duration > 0 ? result.duration : measured,
    latency: latencies.summary(),
    connectionsServed: served.size,
    engineCpuSeconds: ownCpuSince(cpu0),
  };
}

export const autocannonEngine: LoadEngine = {
  name: 'autocannon',
  description: 'autocannon 8 in the bench process (raw node:net clients for churn and bursts)',
  unavailable: () => null,
  // autocannon's overallRate times each request from when it was actually sent, so a stalled
  // server delays the sends and hides its own stall (coordinated omission): not an open loop.
  cannot: (shape) => (shape.rateRps !== null ? 'autocannon times requests from when they were sent, not when they were due (coordinated omission); use --engine reactor' : null),
  async run(url, shape) {
    if (!shape.churn && shape.pipelining === 'in-flight') return runAutocannon(url, shape);
    const cpu0 = process.cpuUsage();
    const u = new URL(url);
    const target = { port: Number(u.port), host: u.hostname, path: u.pathname + u.search, durationS: shape.durationS };
    const r = shape.churn
      ? await runChurn({ ...target, concurrency: shape.connections })
      : await runBurst({ ...target, connections: shape.connections, depth: shape.depth });
    return { ...r, engineCpuSeconds: ownCpuSince(cpu0) };
  },
};
