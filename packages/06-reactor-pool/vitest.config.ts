import { defineConfig } from 'vitest/config';

// Every test spawns a multi-threaded server: give start-up and shutdown room on a loaded 2-core machine.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
