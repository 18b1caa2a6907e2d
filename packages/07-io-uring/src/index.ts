/**
 * 07-io-uring as a library: the proactor and its completion sink. `main.ts` is the step-07
 * server built from them.
 */
export { Proactor, UringUnavailable, uringSupport, type ProactorOptions, type ProactorStats } from './proactor.js';
export { CompletionSink, type NextOutput } from './completion-sink.js';
