import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Several tests spawn `node` processes; on a loaded 2-core machine that can take seconds.
    testTimeout: 30_000,
  },
});
