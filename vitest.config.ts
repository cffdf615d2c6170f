import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Test-bed nodes are real containers: starting them takes seconds, and a
    // DRBD sync or a cluster start takes tens of seconds.
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // Files that start containers share 2 CPUs; run files one at a time.
    fileParallelism: false,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
