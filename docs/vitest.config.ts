import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    // Each snippet is a TypeScript program of its own: the first one loads the packages' types.
    testTimeout: 60_000,
  },
});
