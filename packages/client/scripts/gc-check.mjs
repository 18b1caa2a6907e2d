// Does the engine allocate per request? Run it against the canned server twice — a warm-up for
// the JIT, then a measured run — and count the garbage collections during the measured run.
//
//   node packages/client/scripts/gc-check.mjs [seconds]      (after `pnpm build`)
//
// Prints the requests of the measured run and the collections V8 reported meanwhile.
import { PerformanceObserver } from 'node:perf_hooks';
import { startCommand } from '@course/testkit';
import { CANNED_SERVER, runLoad } from '../dist/index.js';

const seconds = Number(process.argv[2] ?? 3);
const server = await startCommand([process.execPath, CANNED_SERVER, '--port', '0']);
const load = { host: '127.0.0.1', port: server.port, connections: 50, durationMs: 1000 };
try {
  runLoad(load); // warm-up
  const gcs = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const start = performance.now();
  const r = runLoad({ ...load, durationMs: seconds * 1000 });
  const end = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
  observer.disconnect();
  const during = gcs.filter((e) => e.startTime >= start && e.startTime <= end);
  const at = during.map((e) => `${Math.round(e.startTime - start)} ms`).join(", ");
  console.log(`requests ${r.requests} in ${(r.durationMs / 1000).toFixed(1)} s; garbage collections during the run: ${during.length}${during.length > 0 ? ` (at ${at} into it)` : ""}`);
} finally {
  await server.stop();
}
