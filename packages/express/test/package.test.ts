/**
 * What a user gets from npm: the packed @sess/express tarball (with @sess/core and
 * @sess/store-memory packed the same way) installs into a scratch project outside the
 * workspace, pulls in nothing beyond those and their own runtime dependencies (Express comes
 * from the user), and a ten-line app runs with it over real HTTP.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, namesUnder, runPackageCheck } from '@sess/adapter-test';
import type { PackedProject } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { express: '^4.18.2 || ^5.0.0' });

const app = `
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

describe('the published @sess/express', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = installPacked(['core', 'store-memory', 'express'], ['express@5']);
  }, 180_000);
  afterAll(() => project?.remove());

  it('pulls in only @sess/core, @sess/store-memory and their own runtime dependencies', () => {
    const tree = project.tree();
    // Everything installed, minus what Express (the user's own dependency) brings.
    const fromExpress = namesUnder(tree.dependencies?.express);
    const added = [...namesUnder(tree)].filter((name) => name !== 'express' && !fromExpress.has(name));
    expect(added.sort()).toEqual(['@sess/core', '@sess/express', '@sess/store-memory', 'xstate']);
  });

  it('runs a ten-line app that sets the session cookie and counts visits', async () => {
    const running = await project.start('app.cjs', app);
    try {
      const first = await fetch(`${running.url}/`);
      const cookie = first.headers.getSetCookie()[0]?.split(';')[0] as string;
      expect(await first.text()).toBe('views 1');
      expect(cookie).toMatch(/^sid=/);
      const second = await fetch(`${running.url}/`, { headers: { cookie } });
      expect(await second.text()).toBe('views 2');
    } finally {
      running.close();
    }
  });
});
