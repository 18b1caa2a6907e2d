import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests start servers and push megabytes through them; on a loaded 2-core machine that takes a while.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
