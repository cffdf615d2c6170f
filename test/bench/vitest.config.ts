/**
 * The bench's smoke test without the Docker bed's global setup (it needs only
 * the loopback sshd harness and a built CLI): `npm run build && npx vitest run -c test/bench/vitest.config.ts`.
 * `npm test` runs the same file with the main config as well.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
