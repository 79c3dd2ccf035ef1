import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real builds and QEMU runs: minutes, not the default 5 s.
    testTimeout: 20 * 60_000,
    hookTimeout: 30 * 60_000,
    // Builds and sandboxes use every core themselves; test files run one at a time.
    fileParallelism: false,
  },
});
