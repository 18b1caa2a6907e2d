/**
 * The engines `--engine` chooses from: autocannon (the default), wrk (when installed) and the
 * course's own reactor engine from packages/client, which meets `LoadEngine` by shape.
 */
import { reactorEngine } from '@course/client';
import type { LoadEngine } from '../engine.js';
import { autocannonEngine } from './autocannon.js';
import { wrkEngine } from './wrk.js';

export const ENGINES = { autocannon: autocannonEngine, wrk: wrkEngine, reactor: reactorEngine } as const satisfies Record<string, LoadEngine>;
export type EngineName = keyof typeof ENGINES;
export const ENGINE_NAMES = Object.keys(ENGINES) as EngineName[];
export const DEFAULT_ENGINE: EngineName = 'autocannon';
