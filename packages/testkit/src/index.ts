export * from './server.js';
export * from './client.js';
export * from './proc.js';
export * from './site.js';
export * from './llhttp.js';
export * from './latency.js';
export * from './load.js';
