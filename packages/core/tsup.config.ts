import { defineConfig } from 'tsup';

export default defineConfig({
  // The adapter kit is a second entry; shared modules go to chunks (for CJS too), so both entries
  // see one SessError class.
  entry: { index: 'src/index.ts', adapter: 'src/adapter/index.ts' },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
