/**
 * hardening — black-box abuse tests run against every model (test/*.test.ts), and the pieces
 * they are built from, exported for anyone who wants to point them at a server of their own:
 * the table of model configurations, a hostile document root, an in-process oracle of what a
 * server must answer, raw conversations, and a seeded request fuzzer.
 */
export * from './models.js';
export * from './site.js';
export * from './oracle.js';
export * from './wire.js';
export * from './fuzz.js';
