import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
    // Upper bounds, not waits: each demo starts as a child process that tsx compiles first.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
