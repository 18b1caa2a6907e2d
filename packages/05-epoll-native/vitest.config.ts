import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every Reactor call checks it runs on the thread that created the reactor (reactor.ts);
    // the servers the tests spawn inherit the variable.
    env: { COURSE_CHECK_THREADS: '1' },
  },
});
