/** What a user gets from npm: the packed tarballs install outside the workspace and a ten-line h3 app runs on them. */
import { resolve } from 'node:path';
import { runPackageCheck, runPackedApps } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { h3: '^1.15.0 || ^2.0.0' });

const source = `
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

runPackedApps('the published @sess/h3', ['core', 'store-memory', 'h3'], ['h3@2'], { 'a ten-line h3 v2 app': { file: 'app.mjs', source } });
