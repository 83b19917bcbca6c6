import { defineConfig } from 'tsup';

// express-session is CommonJS, and so is its drop-in (see src/index.cts): one CommonJS build
// serves `require` and `import`, so an app and its stores share one module and one `Store`.
export default defineConfig([
  // `module.exports = session`: the middleware itself, its constructors as properties.
  {
    entry: { index: 'src/index.cts' },
    format: ['cjs'],
    target: 'node20',
    sourcemap: true,
    clean: true,
    // Node's ESM loader finds a CommonJS module's names by reading its source (cjs-module-lexer):
    // these lines let `import { Store } from 'express-session'` work, as connect-redis does.
    footer: {
      js: ['Store', 'MemoryStore', 'Cookie', 'Session'].map((name) => `module.exports.${name} = module.exports.${name};`).join('\n'),
    },
  },
  // The types `export =` the middleware's namespace, as @types/express-session does. tsup writes
  // `export =` for a module whose only export is its default, with cjsInterop (which needs
  // splitting); no code comes out of this pass.
  { entry: { index: 'src/middleware.ts' }, format: ['cjs'], target: 'node20', dts: { only: true }, cjsInterop: true, splitting: true },
]);
