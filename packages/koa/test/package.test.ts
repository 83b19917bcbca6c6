/** What a user gets from npm: the packed tarballs install outside the workspace and a ten-line Koa app runs on them. */
import { resolve } from 'node:path';
import { runPackageCheck, runPackedApps } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { koa: '^2.16.0 || ^3.0.0' });

const source = `
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

runPackedApps('the published @sess/koa', ['core', 'store-memory', 'koa'], ['koa@3'], {
  'a ten-line Koa 3 app': { file: 'app.cjs', source },
});
