export * from './cli.js';
export * from './process.js';
export * from './blocking.js';
export * from './output-queue.js';
export * from './nonblocking-sink.js';
export * from './session-guard.js';
export * from './affinity.js';
export { closeFile } from './files.js';
export * from './deadlines.js';
