/** What a user gets from npm: the packed tarballs install outside the workspace and a ten-line h3 app runs on them. */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, runPackageCheck } from '@sess/adapter-test';
import type { PackedProject } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { h3: '^1.15.0 || ^2.0.0' });

const app = `
import { createServer } from 'node:http';
import { H3, toNodeHandler } from 'h3';
import { session, useSession } from '@sess/h3';
const app = new H3();
app.use(session({ secret: 'a-secret-that-is-at-least-32-bytes-long' }));
app.get('/', async (event) => {
  const s = await useSession(event);
  s.data.views = (s.data.views ?? 0) + 1;
  return 'views ' + s.data.views;
});
const server = createServer(toNodeHandler(app)).listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('the published @sess/h3', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = installPacked(['core', 'store-memory', 'h3'], ['h3@2']);
  }, 180_000);
  afterAll(() => project?.remove());

  it('runs a ten-line app that sets the session cookie and counts visits', async () => {
    const running = await project.start('app.mjs', app);
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
