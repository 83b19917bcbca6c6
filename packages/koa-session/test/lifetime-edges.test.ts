/**
 * Lifetimes koa-session takes without complaint, next to the real koa-session over real HTTP: a
 * negative `ctx.session.maxAge` (its cookie is written already expired, so the session ends), and
 * a saved session object with any `_session` key (a lifetime that ends with the browser), and a
 * negative maxAge next to a manual write (`save()`, `manuallyCommit()`, `regenerate()`).
 */
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { describe, expect, it } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, decoded, koaApp, lineOf, memoryStore, serve } from './helpers.js';
import type { StoreCall } from './helpers.js';

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

    it(`${mode}: ctx.session._expire is the expiry the session was loaded with, as koa-session's, and is no data`, async () => {
      const expire = Date.now() + 3_600_000;
      const seen: Record<string, unknown> = {};
      for (const library of Object.keys(LIBRARIES) as Library[]) {
        const store = mode === 'store mode' ? memoryStore() : undefined;
        const app = koaApp(Koa);
        app.use(LIBRARIES[library]({ signed: false, ...(store && { store }) }, app as never));
        app.use((ctx: Context) => {
          const s = ctx.session!;
          if (ctx.path === '/visit') s.visits = 1;
          ctx.body = { expire: s._expire ?? null, data: s.toJSON(), length: s.length };
        });
        const browser = new Browser(await serve(app));
        const saved = { user: 'ada', _expire: expire, _maxAge: 7_200_000 };
        if (store === undefined) browser.jar.set('koa.sess', encode(saved));
        else {
          store.sessions.set('saved-key', saved);
          browser.jar.set('koa.sess', 'saved-key');
        }
        const loaded = JSON.parse((await browser.get('/visit')).body);
        const fresh = JSON.parse((await new Browser(browser.base).get('/')).body);
        seen[library] = { loaded, fresh };
      }
      expect(seen['koa-session']).toEqual({
        loaded: { expire, data: { user: 'ada', visits: 1 }, length: 2 },
        fresh: { expire: null, data: {}, length: 0 },
      });
      expect(seen['@sess/koa-session']).toEqual(seen['koa-session']);
    });
  }
});

/** The manual writes next to a negative maxAge (and to `ctx.session = null`), each on its own path. */
const WRITES: Record<string, (ctx: Context) => Promise<void>> = {
  '/end-save': async (ctx) => {
    ctx.session!.maxAge = -1;
    await ctx.session!.save();
  },
  '/save-end': async (ctx) => {
    await ctx.session!.save();
    ctx.session!.maxAge = -1;
  },
  '/end-commit': async (ctx) => {
    ctx.session!.maxAge = -1;
    await ctx.session!.manuallyCommit();
  },
  '/save-unset': async (ctx) => {
    await ctx.session!.save();
    ctx.session = null;
  },
  '/end-save-fail': async (ctx) => {
    ctx.session!.maxAge = -1;
    await ctx.session!.save();
    throw new Error('the handler failed');
  },
  '/options-end-save': async (ctx) => {
    (ctx.sessionOptions as { maxAge: number }).maxAge = -1;
    await ctx.session!.save();
  },
  '/end-save-revive': async (ctx) => {
    ctx.session!.maxAge = -1;
    await ctx.session!.save();
    ctx.session!.maxAge = 5000;
    ctx.session!.n = 1;
  },
  '/end-regenerate': async (ctx) => {
    ctx.session!.maxAge = -1;
    await ctx.session!.regenerate();
  },
};

/** Store mode on `library`: sign in, then `path`'s write, then a plain visit; what each visit showed, and the store after the write. */
async function writesOn(Koa: KoaClass, library: Library, autoCommit: boolean, path: string) {
  const store = memoryStore();
  const app = koaApp(Koa);
  app.use(LIBRARIES[library]({ store, autoCommit }, app as never));
  app.use(async (ctx: Context) => {
    if (ctx.path === '/login') {
      ctx.session!.user = 'ada';
      if (!autoCommit) await ctx.session!.manuallyCommit();
    }
    await WRITES[ctx.path]?.(ctx);
    ctx.body = JSON.stringify(ctx.session?.toJSON() ?? null);
  });
  const browser = new Browser(await serve(app));
  const visits = [];
  let left: Record<string, unknown>[] = [];
  for (const step of ['/login', path, '/']) {
    const reply = await browser.get(step);
    // Cookies only where the response can carry them: Koa drops the headers set before an error.
    const cookies =
      reply.status < 500
        ? reply.setCookies.map(
            (line) => `${line.slice(0, line.indexOf('='))} ${browser.jar.has(line.slice(0, line.indexOf('='))) ? 'set' : 'deleted'}`,
          )
        : [];
    visits.push({ step, status: reply.status, body: reply.body, cookies, store: store.calls.splice(0).map((call: StoreCall) => call.op) });
    if (step === path) left = [...store.sessions.values()];
  }
  return { visits, left };
}

const ended = ['koa.sess deleted', 'koa.sess.sig deleted'];
const kept = ['koa.sess set', 'koa.sess.sig set'];

/**
 * Each write: whether it ends the session, and the store calls it makes on koa-session and here.
 * koa-session writes a session whose maxAge is negative as a record already expired, which stays
 * in the store (10 seconds, by its TTL): here the session is destroyed instead, and nothing is
 * written for it. `save()` before the negative maxAge wrote a live session, which is destroyed.
 */
const WRITE_CASES = [
  // autoCommit, path, ends, koa-session's store calls, ours
  [true, '/end-save', true, ['get', 'set', 'set'], ['get', 'destroy']],
  [true, '/save-end', true, ['get', 'set', 'set'], ['get', 'set', 'destroy']],
  [true, '/end-commit', true, ['get', 'set', 'set'], ['get', 'destroy']],
  [true, '/save-unset', true, ['get', 'set', 'destroy'], ['get', 'set', 'destroy']],
  [true, '/end-save-fail', true, ['get', 'set', 'set'], ['get', 'destroy']],
  [true, '/options-end-save', true, ['get', 'set'], ['get', 'destroy']],
  [true, '/end-regenerate', true, ['get', 'destroy', 'set', 'set'], ['get', 'destroy']],
  // Without autoCommit, only the write is committed: what the app does after it waits for a manuallyCommit() that never comes.
  [false, '/end-save', true, ['get', 'set'], ['get', 'destroy']],
  [false, '/save-end', false, ['get', 'set'], ['get', 'set']],
  [false, '/end-commit', true, ['get', 'set'], ['get', 'destroy']],
  [false, '/save-unset', false, ['get', 'set'], ['get', 'set']],
  [false, '/end-save-fail', true, ['get', 'set'], ['get', 'destroy']],
  [false, '/options-end-save', true, ['get', 'set'], ['get', 'destroy']],
  [false, '/end-regenerate', true, ['get', 'destroy', 'set'], ['get', 'destroy']],
] as const;

describe.each(KOAS)('%s, store mode', (_, Koa) => {
  it.each(WRITE_CASES)(
    'autoCommit %s: %s ends the session as koa-session does (%s), and leaves no record behind',
    async (autoCommit, path, ends, realCalls, ourCalls) => {
      const real = await writesOn(Koa, 'koa-session', autoCommit, path);
      const ours = await writesOn(Koa, '@sess/koa-session', autoCommit, path);
      const failed = path.endsWith('-fail');
      expect(real.visits.map(({ step, status, body, cookies }) => ({ step, status, body, cookies }))).toEqual([
        { step: '/login', status: 200, body: '{"user":"ada"}', cookies: kept },
        {
          step: path,
          status: failed ? 500 : 200,
          body: failed ? 'Internal Server Error' : path === '/save-unset' ? 'null' : '{"user":"ada"}',
          cookies: failed ? [] : ends ? ended : kept,
        },
        // Ended: a new session, which holds nothing, so no cookie.
        { step: '/', status: 200, body: ends ? '{}' : '{"user":"ada"}', cookies: [] },
      ]);
      const seen = real.visits.map(({ store, ...visit }) => visit);
      // After a 500 with autoCommit the browser still names the ended session (Koa drops the
      // deletion with the error's headers): sess clears it at the next visit, as any key the store
      // no longer has. Without autoCommit the deletion rides on the 500, owed since save().
      if (failed && autoCommit) seen[2] = { ...seen[2]!, cookies: ended };
      expect(ours.visits.map(({ store, ...visit }) => visit)).toEqual(seen);
      expect([real.visits[1]!.store, ours.visits[1]!.store]).toEqual([realCalls, ourCalls]);
      // koa-session's leftover is a record already expired; here an ended session leaves nothing.
      expect(real.left.filter((session) => (session._expire as number) > Date.now())).toHaveLength(ends ? 0 : 1);
      expect(ours.left).toHaveLength(ends ? 0 : 1);
    },
  );

  it('a lifetime set again after the save that ended the session: the commit saves every key, as koa-session saves the session again', async () => {
    const real = await writesOn(Koa, 'koa-session', true, '/end-save-revive');
    const ours = await writesOn(Koa, '@sess/koa-session', true, '/end-save-revive');
    expect(real.visits.map(({ body, cookies }) => [body, cookies])).toEqual([
      ['{"user":"ada"}', kept],
      ['{"user":"ada","n":1}', kept],
      ['{"user":"ada","n":1}', []],
    ]);
    expect(ours.visits.map(({ store, ...visit }) => visit)).toEqual(real.visits.map(({ store, ...visit }) => visit));
    expect([real.visits[1]!.store, ours.visits[1]!.store]).toEqual([
      ['get', 'set', 'set'],
      ['get', 'destroy', 'set'],
    ]);
    expect(ours.left).toMatchObject([{ user: 'ada', n: 1, _maxAge: 5000 }]);
  });
});
