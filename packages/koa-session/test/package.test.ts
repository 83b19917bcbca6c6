/**
 * What a user gets from npm: @sess/core and @sess/koa-session packed, installed outside the
 * workspace with `"koa-session": "file:<tarball>"` (the effect of an npm alias), and an unchanged
 * koa-session app running on them over HTTP.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, namesUnder } from '@sess/adapter-test';
import type { PackedProject } from '@sess/adapter-test';

/** koa-session's README example, as an app has it: CommonJS, `require('koa-session')`. */
const readmeApp = `
const Koa = require('koa');
const session = require('koa-session').default;
const app = new Koa();
app.keys = ['some secret hurr'];
app.use(session({ key: 'koa.sess', maxAge: 86400000, autoCommit: true, overwrite: true, httpOnly: true, signed: true, rolling: false, renew: false }, app));
app.use((ctx) => {
  if (ctx.path === '/favicon.ico') return;
  let n = ctx.session.views || 0;
  ctx.session.views = ++n;
  ctx.body = n + ' views';
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** The same app as an ES module, in store mode. */
const storeApp = `
import Koa from 'koa';
import session from 'koa-session';
const sessions = new Map();
const store = {
  async get(key) { return sessions.get(key); },
  async set(key, sess) { sessions.set(key, sess); },
  async destroy(key) { sessions.delete(key); },
};
const app = new Koa();
app.keys = ['some secret hurr'];
app.use(session(app, { store }));
app.use((ctx) => {
  ctx.session.views = (ctx.session.views || 0) + 1;
  ctx.body = ctx.session.views + ' views, ' + sessions.size + ' stored';
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function visitTwice(url: string): Promise<[string, string, string]> {
  const first = await fetch(`${url}/`);
  const cookie = first.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ');
  const second = await fetch(`${url}/`, { headers: { cookie } });
  return [await first.text(), await second.text(), cookie];
}

describe('the published @sess/koa-session, installed as koa-session', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = installPacked(['core', 'koa-session'], ['koa@3'], { 'koa-session': 'koa-session' });
  }, 300_000);
  afterAll(() => project?.remove());

  // `npm ls` under it takes seconds on a loaded machine.
  it('is this package, with @sess/core its only dependency and dist its only code', { timeout: 60_000 }, () => {
    const manifest = JSON.parse(readFileSync(join(project.dir, 'node_modules/koa-session/package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest.name).toBe('@sess/koa-session');
    expect(Object.keys(manifest.dependencies as object)).toEqual(['@sess/core']);
    expect(manifest.peerDependencies).toEqual({ koa: '^2.16.0 || ^3.0.0' });
    const names = namesUnder(project.tree());
    expect(names.has('@sess/core') && names.has('koa')).toBe(true);
    const files = execFileSync('find', ['.', '-type', 'f'], { cwd: join(project.dir, 'node_modules/koa-session'), encoding: 'utf8' });
    expect(files.split('\n').filter((file) => file !== '' && !/^\.\/(dist\/|README\.md$|LICENSE$|package\.json$)/.test(file))).toEqual([]);
  });

  it("runs koa-session's README app unchanged (CommonJS), signing with app.keys", async () => {
    const running = await project.start('readme.cjs', readmeApp);
    try {
      const [first, second, cookie] = await visitTwice(running.url);
      expect([first, second]).toEqual(['1 views', '2 views']);
      expect(cookie).toMatch(/^koa\.sess=[A-Za-z0-9+/=]+; koa\.sess\.sig=[A-Za-z0-9_-]{27}$/);
    } finally {
      running.close();
    }
  });

  it('runs the same app as an ES module with an external store', async () => {
    const running = await project.start('store.mjs', storeApp);
    try {
      const [first, second, cookie] = await visitTwice(running.url);
      expect([first, second]).toEqual(['1 views, 0 stored', '2 views, 1 stored']);
      expect(cookie).toMatch(/^koa\.sess=[0-9a-f-]{36}; koa\.sess\.sig=/);
    } finally {
      running.close();
    }
  });
});
