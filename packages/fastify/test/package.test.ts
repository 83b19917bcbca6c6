/**
 * What npm would publish, and that it runs: the packed tarball holds dist, README, LICENSE and
 * package.json only, and a ten-line app installed with npm from the packed tarballs of
 * @sess/core, @sess/store-memory and @sess/fastify (outside the workspace, so nothing resolves
 * to the repository's sources) serves sessions over HTTP, on Fastify 5 (ESM) and 4 (CommonJS).
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, installPacked, runPackageCheck } from '@sess/adapter-test';
import type { PackedProject } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { fastify: '^4.0.0 || ^5.0.0' }, ['fastify-plugin']);

/** The app: its two imports, then eight lines that count views and print the port (no top-level await, for CommonJS). */
function tenLines(imports: string): string {
  const body = `const app = Fastify();
app.register(session, { secret: 'a secret of at least thirty-two bytes!' });
app.get('/', async (request) => {
  request.session.views = (request.session.views ?? 0) + 1;
  return \`views: \${request.session.views}\`;
});
app.listen({ port: 0, host: '127.0.0.1' }).then(() => console.log(app.server.address().port));`;
  return `${imports}\n${body}\n`;
}

describe('the packed @sess/fastify', () => {
  let project: PackedProject;
  // npm fetches Fastify from the registry: the limit is for that download, not for the app.
  beforeAll(() => {
    project = installPacked(['core', 'store-memory', 'fastify'], ['fastify@^5', 'fastify4@npm:fastify@^4']);
  }, 300_000);
  afterAll(() => project?.remove());

  const apps = {
    'Fastify 5 (ESM)': ['app.mjs', "import Fastify from 'fastify';\nimport { session } from '@sess/fastify';"],
    'Fastify 4 (CommonJS)': ['app.cjs', "const Fastify = require('fastify4');\nconst { session } = require('@sess/fastify');"],
  } as const;
  for (const [title, [file, imports]] of Object.entries(apps)) {
    it(`runs a ten-line app over HTTP on ${title}`, async () => {
      const running = await project.start(file, tenLines(imports));
      try {
        const client = new Client(running.url);
        expect((await client.request('/')).body).toBe('views: 1');
        expect((await client.request('/')).body).toBe('views: 2');
        expect(client.jar.get('sid')).toMatch(/^[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$/);
      } finally {
        running.close();
      }
    });
  }
});
