import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The lifecycle machine's exhaustive walks (the runtime against xstate, and the model test that
 * drives the real Session down every path), `test/machine.*.test.ts` by name: a new walk file
 * joins them without being listed here. They run apart, without coverage: V8's coverage counters
 * slow their millions of steps down, and coverage measures the unit tests.
 */
const walks = ['test/machine.*.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
    // The walks allocate millions of short-lived xstate snapshots: a larger young generation
    // spends a quarter less time collecting them.
    execArgv: ['--max-semi-space-size=128'],
    // The property tests run thousands of cases each: on a shared 2-core machine under load one
    // took 4 s of the default 5, and a timeout is not what they assert.
    testTimeout: 30_000,
    // The equivalence walk is split over two files so vitest can walk the two halves in parallel.
    maxWorkers: '100%',
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: { lines: 95 },
    },
    projects: [
      { extends: true, test: { name: 'unit', exclude: [...configDefaults.exclude, ...walks] } },
      { extends: true, test: { name: 'walks', include: walks } },
    ],
  },
});
