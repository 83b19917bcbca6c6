/**
 * What a user gets from npm: the packed @sess/express tarball (with @sess/core and
 * @sess/store-memory packed the same way) installs into a scratch project outside the
 * workspace, pulls in nothing beyond those and their own runtime dependencies (Express comes
 * from the user), and a ten-line app runs with it over real HTTP.
 */
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { namesUnder, runPackageCheck, runPackedApps } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { express: '^4.18.2 || ^5.0.0' });

const source = `
const express = require('express');
const { session } = require('@sess/express');
const app = express();
app.use(session({ secret: 'a-secret-that-is-at-least-32-bytes-long' }));
app.get('/', (req, res) => {
  req.session.views = (req.session.views || 0) + 1;
  res.send('views ' + req.session.views);
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

runPackedApps(
  'the published @sess/express',
  ['core', 'store-memory', 'express'],
  ['express@5'],
  { 'a ten-line Express 5 app': { file: 'app.cjs', source } },
  (project) => {
    // `npm ls` takes under a second alone and several with a whole workspace's tests beside it.
    it('pulls in only @sess/core, @sess/store-memory and their own runtime dependencies', { timeout: 60_000 }, () => {
      const tree = project().tree();
      // Everything installed, minus what Express (the user's own dependency) brings.
      const fromExpress = namesUnder(tree.dependencies?.express);
      const added = [...namesUnder(tree)].filter((name) => name !== 'express' && !fromExpress.has(name));
      expect(added.sort()).toEqual(['@sess/core', '@sess/express', '@sess/store-memory', 'xstate']);
    });
  },
);
