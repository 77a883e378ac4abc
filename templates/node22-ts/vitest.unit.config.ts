import { defineConfig } from 'vitest/config';

/**
 * The config of a function's `npm test`: its database-free tests only, with no global set-up (the
 * repository's vitest.config.ts starts MariaDB and OpenBao, which neither the image build nor a
 * quick local run has). The function's package.json names the test files; the root is the
 * function folder. In the image build this file is /home/app/vitest.unit.config.ts and the
 * Dockerfile points UNIT_TEST_CONFIG at it; in the repository each script's default path finds it.
 */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
  },
});
