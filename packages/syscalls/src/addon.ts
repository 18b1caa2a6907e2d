/**
 * Loads the compiled Node-API addon once per thread (each worker_thread loads its own copy of
 * the module object; the native code and its signal slot are shared by the whole process).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The addon's raw exports; `raw.ts` gives each one its type and documentation. */
export const addon: Record<string, unknown> = loadAddon();

function loadAddon(): Record<string, unknown> {
  try {
    // Relative to dist/ (compiled) and src/ (vitest) alike: both sit next to build/.
    return require('../build/Release/syscalls.node') as Record<string, unknown>;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`@course/syscalls: native addon not built (run \`pnpm --filter @course/syscalls build\`): ${why}`);
  }
}

/** One addon function, typed by the caller; fails at load time, not at first call, if missing. */
export function nativeFn<T>(name: string): T {
  const f = addon[name];
  if (typeof f !== 'function') {
    throw new Error(`@course/syscalls: the addon has no ${name}(); rebuild it with \`pnpm --filter @course/syscalls build\``);
  }
  return f as T;
}
