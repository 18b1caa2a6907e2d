/** Temporary document roots for tests that need files the demo site does not have (8 MB, etc.). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface TempSite {
  root: string;
  remove(): void;
}

/** Make a temp root holding `files` (path → contents). */
export function makeTempSite(files: Record<string, string | Buffer>): TempSite {
  const root = mkdtempSync(join(tmpdir(), 'course-site-'));
  for (const [path, data] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, data);
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Deterministic-enough random bytes for byte-exact comparisons. */
export function randomPayload(bytes: number): Buffer {
  return randomBytes(bytes);
}

/** Poll `fn` until it returns true (or throw after timeoutMs). For /proc-based conditions. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs = 10000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Call `sample` every few milliseconds while `work` runs; resolve with the distinct values seen
 * and the work's result. For "this count never changed under load" (threads, processes).
 */
export async function sampleDuring<T, R>(sample: () => T, work: Promise<R>): Promise<{ seen: T[]; result: R }> {
  const seen = new Set<T>();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      seen.add(sample());
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  let result: R;
  try {
    result = await work;
  } finally {
    done = true;
    await sampler;
  }
  return { seen: [...seen], result };
}
