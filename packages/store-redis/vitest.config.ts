import { configDefaults, defineConfig } from 'vitest/config';

const FAILOVER = 'test/failover.test.ts';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'store-redis',
          exclude: [...configDefaults.exclude, FAILOVER],
          // Starts the 3-master Redis Cluster once for every test file and stops it afterwards.
          globalSetup: ['./test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'failover',
          include: [FAILOVER],
          // Checks that redis-server can run; the test starts its own replicated clusters.
          globalSetup: ['./test/failover-setup.ts'],
          // After every other file, alone: six redis-server processes and a timed load would
          // compete with the rest for the CPU, and so would the rest with the timing it measures.
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
