export * from './cli.js';
export * from './process.js';
export * from './blocking.js';
export * from './nonblocking-sink.js';
export * from './session-guard.js';
