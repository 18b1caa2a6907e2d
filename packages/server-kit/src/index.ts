export * from './cli.js';
export * from './process.js';
export * from './blocking.js';
