/**
 * 05-epoll-native as a library: the reactor and acceptor that step 06 runs on each of its
 * threads. `main.ts` is the step-05 server built from them.
 */
export { Reactor, SEND_BATCH_MODES, sendBatchInUse, type ReactorMode, type ReactorOptions, type ReactorStats, type SendBatchMode } from './reactor.js';
export { Acceptor, type AcceptorOptions } from './acceptor.js';
