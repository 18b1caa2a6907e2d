/**
 * @course/client — the other side of the socket.
 *
 * - `connectNonBlocking`: connect(2) on a non-blocking socket, EINPROGRESS → EPOLLOUT → SO_ERROR.
 * - `openHttpConnection`: a client connection adopted by step 05's Reactor with a client session.
 * - `BlockingHttpClient`: the same session over blocking syscalls, for contrast.
 * - `runLoad` / `runLoadInWorker`: the load engine (closed or open loop, keep-alive or churn).
 * - `runEcho` / `runEchoInWorker`: the message-echo engine (WebSocket frames or lines, one in flight per connection).
 * - `latencyCurve`: open-loop runs at rising rates: p50/p99 against offered load.
 * - `measureCeiling`: the engine against the canned server, the cheapest server there is.
 * - `reactorEngine`: the engine as the bench's `--engine reactor`.
 */
export { connectNonBlocking, type ConnectCallback, type ConnectOptions, type Connected } from './connect.js';
export { openHttpConnection, type OpenCallback } from './http-client.js';
export { BlockingHttpClient } from './blocking.js';
export { runLoad, summarize, percentileMs, type LoadOptions, type LoadResult } from './engine/loop.js';
export { reactorEngine } from './engine/bench-engine.js';
export { runLoadInWorker, runEchoInWorker } from './engine/worker.js';
export { runEcho, type EchoOptions, type EchoResult, type EchoFraming } from './engine/echo.js';
export { latencyCurve, type CurvePoint } from './engine/curve.js';
export { Schedule, type ScheduleOptions } from './engine/schedule.js';
export { threadCpuMs } from './engine/cpu.js';
export { measureCeiling, CANNED_SERVER, type Ceiling, type CeilingOptions } from './ceiling.js';
