import { defineConfig } from 'vitest/config';

// The suites start real servers and run the engine against them for seconds at a time: generous
// limits for a loaded 2-core machine, and one file at a time, so that two load runs never share
// the cores (no assertion depends on speed, but a starved server answers late).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
