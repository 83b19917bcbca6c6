import { defineConfig } from 'tsup';

export default defineConfig({
  // The adapter and store kits are entries of their own; shared modules go to chunks (for CJS
  // too), so every entry sees one SessError class.
  entry: { index: 'src/index.ts', adapter: 'src/adapter/index.ts', store: 'src/store-kit/index.ts' },
  format: ['esm', 'cjs'],
  splitting: true,
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
