/** What a user gets from npm: the packed tarballs install outside the workspace and a ten-line Koa app runs on them. */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, runPackageCheck } from '@sess/adapter-test';
import type { PackedProject } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { koa: '^2.16.0 || ^3.0.0' });

const app = `
const Koa = require('koa');
const { session } = require('@sess/koa');
const app = new Koa();
app.use(session({ secret: 'a-secret-that-is-at-least-32-bytes-long' }));
app.use((ctx) => {
  ctx.session.views = (ctx.session.views || 0) + 1;
  ctx.body = 'views ' + ctx.session.views;
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('the published @sess/koa', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = installPacked(['core', 'store-memory', 'koa'], ['koa@3']);
  }, 180_000);
  afterAll(() => project?.remove());

  it('runs a ten-line app that sets the session cookie and counts visits', async () => {
    const running = await project.start('app.cjs', app);
    try {
      const first = await fetch(`${running.url}/`);
      const cookie = first.headers.getSetCookie()[0]?.split(';')[0] as string;
      expect(await first.text()).toBe('views 1');
      const second = await fetch(`${running.url}/`, { headers: { cookie } });
      expect(await second.text()).toBe('views 2');
    } finally {
      running.close();
    }
  });
});
