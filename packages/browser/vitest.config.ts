import { defineConfig } from 'vitest/config';

// A browser and a multi-threaded server start per file: room for a loaded 2-core machine.
export default defineConfig({
  test: {
    testTimeout: 90_000,
    hookTimeout: 90_000,
  },
});
