/**
 * The reactor engine as one of the bench's load engines (`pnpm bench --engine reactor`): the
 * bench's `LoadEngine` contract (packages/bench/src/engine.ts), met structurally so that this
 * package does not depend on the bench. The bench adds `reactor: reactorEngine` to its ENGINES.
 *
 * It runs the engine on a worker thread of the bench's process, so it inherits the bench's
 * pinning to the client core, and the bench's main thread keeps its timers while the worker
 * blocks in epoll_wait. The CPU it reports is that worker thread's own.
 */
import { REQUEST_TIMEOUT_S, type EngineResult, type LoadShape } from '@course/testkit';
import { summarize } from './loop.js';
import { runLoadInWorker } from './worker.js';

export const reactorEngine = {
  name: 'reactor',
  description: 'the course\'s reactor engine (packages/client: raw epoll through the addon) on a worker thread, client core',
  unavailable(): string | null {
    return null; // it needs only the addon, which every test and model needs too
  },
  cannot(shape: LoadShape): string | null {
    if (shape.churn && shape.depth > 1) return 'churn sends one request per connection (depth 1)';
    return null;
  },
  async run(url: string, shape: LoadShape): Promise<EngineResult> {
    const u = new URL(url);
    const result = await runLoadInWorker({
      host: u.hostname.replace(/^\[|\]$/g, ''), // [::1] → ::1
      port: Number(u.port),
      path: u.pathname + u.search,
      connections: shape.connections,
      depth: shape.depth,
      pipelining: shape.pipelining,
      churn: shape.churn,
      durationMs: shape.durationS * 1000,
      rate: shape.rateRps ?? 0,
      timeoutMs: REQUEST_TIMEOUT_S * 1000,
    });
    return summarize(result);
  },
};
