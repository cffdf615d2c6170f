/**
 * SSH-only tests without the Docker bed's global setup (they need only the
 * loopback sshd harness): `npx vitest run -c test/ssh/vitest.config.ts`.
 * `npm test` runs the same files with the main config as well.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/ssh/**/*.test.ts', 'test/unit/ssh/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
