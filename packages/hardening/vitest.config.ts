import { defineConfig } from 'vitest/config';

// Every suite starts real servers and talks to them over sockets: generous limits for a loaded
// 2-core machine. One file at a time: the suites measure servers' fds, memory and CPU, and a
// busy-polling model (04 --poller busy) burns a core while it runs.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
