/**
 * What npm would publish, and that it runs: the packed tarball holds dist, README, LICENSE and
 * package.json only, and a ten-line app installed with npm from the packed tarballs of
 * @sess/core, @sess/store-memory and @sess/fastify (outside the workspace, so nothing resolves
 * to the repository's sources) serves sessions over HTTP, on Fastify 5 (ESM) and 4 (CommonJS).
 */
import { resolve } from 'node:path';
import { runPackageCheck, runPackedApps } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { fastify: '^4.0.0 || ^5.0.0' }, ['fastify-plugin']);

/** The app: its two imports, then eight lines that count views and print the port (no top-level await, for CommonJS). */
function tenLines(imports: string): string {
  const body = `const app = Fastify();
app.register(session, { secret: 'a secret of at least thirty-two bytes!' });
app.get('/', async (request) => {
  request.session.views = (request.session.views ?? 0) + 1;
  return \`views \${request.session.views}\`;
});
app.listen({ port: 0, host: '127.0.0.1' }).then(() => console.log(app.server.address().port));`;
  return `${imports}\n${body}\n`;
}

runPackedApps('the packed @sess/fastify', ['core', 'store-memory', 'fastify'], ['fastify@^5', 'fastify4@npm:fastify@^4'], {
  'a ten-line app on Fastify 5 (ESM)': {
    file: 'app.mjs',
    source: tenLines("import Fastify from 'fastify';\nimport { session } from '@sess/fastify';"),
  },
  'a ten-line app on Fastify 4 (CommonJS)': {
    file: 'app.cjs',
    source: tenLines("const Fastify = require('fastify4');\nconst { session } = require('@sess/fastify');"),
  },
});
