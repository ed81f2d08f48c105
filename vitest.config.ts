import { defineConfig } from 'vitest/config';

// Unit tests are pure and run in parallel; integration tests start real servers and run one file
// at a time so a busy 2-core CI machine does not turn timing bounds into flakes.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/browser/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
