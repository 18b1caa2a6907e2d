/**
 * The engines `--engine` chooses from. The client package's reactor engine joins as one more
 * line: `reactor: reactorEngine`.
 */
import type { LoadEngine } from '../engine.js';
import { autocannonEngine } from './autocannon.js';
import { wrkEngine } from './wrk.js';

export const ENGINES = { autocannon: autocannonEngine, wrk: wrkEngine } as const satisfies Record<string, LoadEngine>;
export type EngineName = keyof typeof ENGINES;
export const ENGINE_NAMES = Object.keys(ENGINES) as EngineName[];
export const DEFAULT_ENGINE: EngineName = 'autocannon';
