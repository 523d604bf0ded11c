import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Each file starts its own redis-server and processes; two at a time fit a 2-core machine.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
