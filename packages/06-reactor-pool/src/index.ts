/**
 * 06-reactor-pool as a library: createServer and the types an app module uses.
 * (main.ts is the command-line server built on it; demo-app.ts the app it runs by default.)
 */
export { createServer, DEMO_APP, type Server, type ServerOptions, type Settings } from './server.js';
export type { SlowConsumerPolicy, WebSocketLimits } from './options.js';
export type { App, Conn, ThreadRole, ThreadServer } from './app.js';
export { TASK_TIMED_OUT } from './app.js';
export type { BalancePolicy } from './balancer.js';
export type { PoolCounters, ReactorCounters, ServerStats } from './stats.js';
export { sourceHash } from './balancer.js';
