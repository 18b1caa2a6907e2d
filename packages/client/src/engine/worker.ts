/**
 * The engines on a worker thread, so that the thread that asked for the run (the bench's main
 * thread, with its timers and progress output) keeps turning while the engine blocks in epoll_wait.
 *
 *   main: runLoadInWorker(opts) ──workerData──▶ worker: runLoad(opts) ──postMessage──▶ main
 *   main: runEchoInWorker(opts) ──workerData──▶ worker: runEcho(opts) ──postMessage──▶ main
 *
 * The histogram crosses the thread boundary in HdrHistogram's compressed encoding (plain data),
 * and is decoded back into a histogram on the caller's side. The CPU time is the worker thread's
 * own, as the engine measured it.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { runEcho, type EchoOptions, type EchoResult } from './echo.js';
import { runLoad, type LoadOptions, type LoadResult } from './loop.js';

type Job = { engine: 'load'; opts: LoadOptions } | { engine: 'echo'; opts: EchoOptions };
type Encoded<R> = Omit<R, 'histogram'> & { histogram: string };

/** Run `runLoad(opts)` on a new worker thread; resolves with its result. */
export function runLoadInWorker(opts: LoadOptions): Promise<LoadResult> {
  return inWorker<LoadResult>({ engine: 'load', opts });
}

/** Run `runEcho(opts)` on a new worker thread; resolves with its result. */
export function runEchoInWorker(opts: EchoOptions): Promise<EchoResult> {
  return inWorker<EchoResult>({ engine: 'echo', opts });
}

function inWorker<R extends { histogram: hdr.Histogram }>(job: Job): Promise<R> {
  // From src/engine (vitest) and dist/engine alike, the compiled worker is dist/engine/worker.js.
  const worker = new Worker(new URL('../../dist/engine/worker.js', import.meta.url), { workerData: job });
  return new Promise((resolve, reject) => {
    worker.once('message', (msg: Encoded<R>) => resolve({ ...msg, histogram: hdr.decodeFromCompressedBase64(msg.histogram) } as unknown as R));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load engine worker exited with code ${code}`));
    });
  });
}

if (!isMainThread && parentPort !== null && (workerData as { engine?: unknown } | null)?.engine !== undefined) {
  const job = workerData as Job;
  const result = job.engine === 'load' ? runLoad(job.opts) : runEcho(job.opts);
  parentPort.postMessage({ ...result, histogram: hdr.encodeIntoCompressedBase64(result.histogram) });
}
