import { defineConfig } from 'vitest/config';

/**
 * These tests alone, without the e2e suite's container engine (they need none):
 *   cd packages/e2e && npx vitest run --config src/sftp-bridge/vitest.config.ts
 * The e2e suite's own config runs them too.
 */
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['sftp-bridge/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
