import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    // The machine's equivalence walk and model test allocate millions of short-lived xstate
    // snapshots: a larger young generation spends a quarter less time collecting them.
    execArgv: ['--max-semi-space-size=128'],
    // The equivalence walk is split over two files so vitest can walk the two halves in parallel.
    maxWorkers: '100%',
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 95 },
    },
  },
});
