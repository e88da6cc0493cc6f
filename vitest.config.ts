import { defineConfig } from 'vitest/config';

// Two projects: unit tests use in-process parts only; integration tests start real
// `ferry` processes (from dist/, so `npm run build` must run first) on 127.0.0.1.
export default defineConfig({
  test: {
    // The JSON report lets .ci/run print one plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Each file starts its own control and agents on ephemeral ports; running files
          // one at a time keeps 2-core CI machines from timing out under load.
          fileParallelism: false,
        },
      },
    ],
  },
});
