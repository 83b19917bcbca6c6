import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Starts the 3-master Redis Cluster once for every test file and stops it afterwards.
    globalSetup: ['./test/global-setup.ts'],
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
});
