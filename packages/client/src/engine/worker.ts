/**
 * The engine on a worker thread, so that the thread that asked for the run (the bench's main
 * thread, with its timers and progress output) keeps turning while the engine blocks in epoll_wait.
 *
 *   main: runLoadInWorker(opts) ──workerData──▶ worker: runLoad(opts) ──postMessage──▶ main
 *
 * The histogram crosses the thread boundary in HdrHistogram's compressed encoding (plain data),
 * and is decoded back into a histogram on the caller's side. The CPU time is the worker thread's
 * own, as the engine measured it.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { runLoad, type LoadOptions, type LoadResult } from './loop.js';

type Encoded = Omit<LoadResult, 'histogram'> & { histogram: string };

/** Run `runLoad(opts)` on a new worker thread; resolves with its result. */
export function runLoadInWorker(opts: LoadOptions): Promise<LoadResult> {
  // From src/engine (vitest) and dist/engine alike, the compiled worker is dist/engine/worker.js.
  const worker = new Worker(new URL('../../dist/engine/worker.js', import.meta.url), { workerData: opts });
  return new Promise((resolve, reject) => {
    worker.once('message', (msg: Encoded) => resolve({ ...msg, histogram: hdr.decodeFromCompressedBase64(msg.histogram) }));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load engine worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && parentPort !== null && (workerData as { host?: unknown } | null)?.host !== undefined) {
  const result = runLoad(workerData as LoadOptions);
  const message: Encoded = { ...result, histogram: hdr.encodeIntoCompressedBase64(result.histogram) };
  parentPort.postMessage(message);
}
