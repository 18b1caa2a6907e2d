import { defineConfig } from 'vitest/config';

// Every test spawns a multi-threaded server: give start-up and shutdown room on a loaded 2-core machine.
// COURSE_CHECK_THREADS=1 switches on the thread-affinity checks (src/affinity.ts), in the test
// process and in every server it spawns.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    env: { COURSE_CHECK_THREADS: '1' },
  },
});
