/**
 * Lifetimes koa-session takes without complaint, next to the real koa-session over real HTTP: a
 * negative `ctx.session.maxAge` (its cookie is written already expired, so the session ends), and
 * a saved session object with any `_session` key (a lifetime that ends with the browser).
 */
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { describe, expect, it } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, decoded, koaApp, lineOf, memoryStore, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};
type Library = keyof typeof LIBRARIES;

const encode = (object: object) => Buffer.from(JSON.stringify(object)).toString('base64');

/** An app on `library`: sign in, end the session with a negative maxAge (then maybe fail), report. */
async function appOn(Koa: KoaClass, library: Library, options: SessionOptions): Promise<Browser> {
  const app = koaApp(Koa);
  app.use(LIBRARIES[library](options, app as never));
  app.use(async (ctx: Context) => {
    const s = ctx.session!;
    if (ctx.path === '/login') s.user = 'ada';
    if (ctx.path === '/visit') s.visits = (s.visits ?? 0) + 1;
    if (ctx.path.startsWith('/end')) s.maxAge = -1;
    if (ctx.path === '/end-then-fail') throw new Error('the handler failed');
    ctx.body = { user: s.user ?? null, isNew: s.isNew ?? false, maxAge: s.maxAge ?? null };
  });
  return new Browser(await serve(app));
}

/** Each visit as the browser sees it: status, body, and whether it still holds the session cookie. */
async function visit(browser: Browser, paths: readonly string[]) {
  const seen = [];
  for (const path of paths) {
    const reply = await browser.get(path);
    seen.push({ path, status: reply.status, body: reply.body, cookieKept: browser.jar.has('koa.sess') });
  }
  return seen;
}

describe.each(KOAS)('%s', (_, Koa) => {
  for (const mode of ['cookie mode', 'store mode'] as const) {
    const optionsFor = (): SessionOptions => (mode === 'store mode' ? { store: memoryStore() } : {});

    it(`${mode}: a negative ctx.session.maxAge ends the session with a 200, as koa-session's expired cookie does`, async () => {
      const paths = ['/login', '/end', '/'];
      const real = await visit(await appOn(Koa, 'koa-session', optionsFor()), paths);
      expect(real.map(({ status, cookieKept }) => [status, cookieKept])).toEqual([
        [200, true],
        [200, false],
        [200, false],
      ]);
      expect(JSON.parse(real[2]!.body)).toMatchObject({ user: null, isNew: true });
      expect(await visit(await appOn(Koa, '@sess/koa-session', optionsFor()), paths)).toEqual(real);
    });

    it(`${mode}: a negative maxAge set before the handler fails writes nothing: still signed in after the 500`, async () => {
      const options = optionsFor();
      const browser = await appOn(Koa, '@sess/koa-session', options);
      await browser.get('/login');
      const kept = browser.jar.get('koa.sess');
      const failed = await browser.get('/end-then-fail');
      expect([failed.status, lineOf(failed, 'koa.sess')]).toEqual([500, undefined]);
      expect(browser.jar.get('koa.sess')).toBe(kept);
      expect(JSON.parse((await browser.get('/')).body)).toMatchObject({ user: 'ada', isNew: false });
    });

    it(`${mode}: a saved session with _session: false lives as long as the browser, as koa-session reads any _session`, async () => {
      const seen: Record<string, unknown> = {};
      for (const library of Object.keys(LIBRARIES) as Library[]) {
        const store = mode === 'store mode' ? memoryStore() : undefined;
        const browser = await appOn(Koa, library, { signed: false, ...(store && { store }) });
        const saved = { user: 'ada', _session: false };
        if (store === undefined) browser.jar.set('koa.sess', encode(saved));
        else {
          store.sessions.set('saved-key', saved);
          browser.jar.set('koa.sess', 'saved-key');
        }
        const read = JSON.parse((await browser.get('/')).body);
        const written = await browser.get('/visit');
        const line = lineOf(written, 'koa.sess') ?? '';
        const object =
          store === undefined ? decoded(browser.jar.get('koa.sess')) : store.sessions.get(browser.jar.get('koa.sess') as string);
        seen[library] = { read, expires: /expires=/i.test(line), object };
      }
      expect(seen['koa-session']).toEqual({
        read: { user: 'ada', isNew: false, maxAge: 'session' },
        expires: false,
        object: { user: 'ada', visits: 1, _session: true },
      });
      expect(seen['@sess/koa-session']).toEqual(seen['koa-session']);
    });
  }
});
