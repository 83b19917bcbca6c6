import { defineConfig } from 'tsup';

// ESM only: vitest (a peer) cannot be required from CommonJS.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
