/**
 * Three test layers (vitest projects), each a separate set of files:
 *
 * - unit: pure. No Docker, no sshd, no network connection; local tools only
 *   (/bin/sh, ssh-keygen). Files run in parallel, in shared worker threads.
 *   `npm run test:unit`, and `npm run test:watch` while editing.
 * - loopback: real OpenSSH sshd daemons (test/support/sshd.ts) or counting
 *   listeners on 127.0.0.1, and the built CLI. No Docker. Files run one at a
 *   time. `npm run test:loopback`.
 * - bed: real systemd containers (docker/bed/). Only this layer has the
 *   global setup that needs the Docker engine and the node image; it fails
 *   the run loudly when they are missing, it never skips. Files run one at a
 *   time. `npm run test:bed`.
 *
 * `npm test` (`vitest run`) runs all three, one layer after the other
 * (sequence.groupOrder), so containers never share the 2 CPUs with the
 * loopback daemons. test/unit/layers.test.ts checks that every test file is
 * in exactly one layer.
 */
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export const layers = {
  unit: { include: ['test/unit/**/*.test.ts'], exclude: [] as string[] },
  loopback: {
    include: ['test/ssh/**/*.test.ts', 'test/bench/**/*.test.ts', 'test/engine/**/*.test.ts'],
    exclude: ['test/engine/bed-*.test.ts'],
  },
  bed: {
    include: ['test/bed/**/*.test.ts', 'test/storage/**/*.test.ts', 'test/cluster/**/*.test.ts', 'test/engine/bed-*.test.ts'],
    exclude: [] as string[],
  },
};

// The worker pools are the root's, shared by the projects that use them (vitest 3
// reads pool size, isolation and fileParallelism from the root config only):
// `threads` is the unit layer's, `forks` the loopback and bed layers'.
export default defineConfig({
  test: {
    poolOptions: {
      // Pure files share worker threads and their module cache: about 3x less
      // CPU than a fresh worker per file. A pure file must leave no global
      // changed that another pure file relies on.
      threads: { isolate: false, minThreads: 1, maxThreads: Math.max(2, availableParallelism()) },
      // One file at a time, each in a fresh process: test-bed containers and
      // sshd daemons share 2 CPUs, and loopback files kill and restart their
      // daemons and time them.
      forks: { minForks: 1, maxForks: 1 },
    },
    projects: [
      {
        test: {
          name: 'unit',
          ...layers.unit,
          pool: 'threads',
          poolOptions: { threads: { isolate: false } },
          // A file's first test pays for its imports (the whole CLI for the
          // in-process ones): seconds on a busy 2-CPU machine, not a hang.
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'loopback',
          ...layers.loopback,
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'bed',
          ...layers.bed,
          pool: 'forks',
          // Test-bed nodes are real containers: starting them takes seconds, and a
          // DRBD sync or a cluster start takes tens of seconds.
          testTimeout: 120_000,
          hookTimeout: 240_000,
          globalSetup: ['test/support/global-setup.ts'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
