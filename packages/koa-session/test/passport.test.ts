/**
 * The real koa-passport (passport 0.6) with passport-local, the same app on the real koa-session
 * and on this package, over real HTTP: what a user relies on at sign-in, a wrong password and
 * logout must hold on both, in the same way.
 */
import type { Context, Middleware, Next } from 'koa';
import { KoaPassport } from 'koa-passport';
import realSession from 'koa-session';
import { Strategy as LocalStrategy } from 'passport-local';
import { describe, expect, it } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, koaApp, memoryStore, type Reply, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};
type Library = keyof typeof LIBRARIES;

interface User {
  readonly id: string;
  readonly name: string;
  readonly password: string;
}

const USERS: readonly User[] = [
  { id: 'u1', name: 'ada', password: 'lovelace' },
  { id: 'u2', name: 'grace', password: 'hopper' },
];

/** A passport of its own per app (koa-passport's default export is a process-wide singleton). */
function localPassport() {
  const passport = new KoaPassport();
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS.find((candidate) => candidate.name === username);
      done(null, user !== undefined && user.password === password ? user : false);
    }),
  );
  passport.serializeUser((user, done) => done(null, (user as User).id));
  passport.deserializeUser((id, done) => done(null, USERS.find((user) => user.id === id) ?? false));
  return passport;
}

/** A JSON request body as `ctx.request.body`, where passport-local reads the credentials. */
async function jsonBody(ctx: Context, next: Next): Promise<void> {
  if (ctx.is('application/json')) {
    let text = '';
    for await (const chunk of ctx.req) text += chunk;
    (ctx.request as { body?: unknown }).body = JSON.parse(text);
  }
  await next();
}

/** The app, as its author wrote it for koa-session; only the session middleware differs. */
async function start(library: Library, Koa: KoaClass, storeMode: boolean) {
  const passport = localPassport();
  const app = koaApp(Koa);
  app.use(LIBRARIES[library](storeMode ? { store: memoryStore() } : {}, app as never));
  app.use(jsonBody);
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(async (ctx, next) => {
    if (ctx.path === '/login')
      return passport.authenticate('local')(ctx, async () => {
        ctx.body = `welcome ${(ctx.state.user as User).name}`;
      });
    if (ctx.path === '/logout') {
      await ctx.logout();
      ctx.body = 'bye';
      return;
    }
    if (ctx.path === '/cart') {
      ctx.session!.cart = ['book'];
      ctx.body = 'added';
      return;
    }
    const { passport: stored = null } = ctx.session!.toJSON() as { passport?: unknown };
    ctx.body = JSON.stringify({ user: ctx.isAuthenticated() ? (ctx.state.user as User).name : null, passport: stored });
    return next();
  });
  return serve(app);
}

/** A browser that sends the cookies `browser` holds now: the same session, replayed later. */
function replaying(browser: Browser): Browser {
  const replay = new Browser(browser.base);
  for (const [name, value] of browser.jar) replay.jar.set(name, value);
  return replay;
}

/** What a client reads of an answer (headers and cookies differ by run and library). */
const answer = ({ status, body }: Reply) => ({ status, body });

const me = async (browser: Browser) => JSON.parse((await browser.get('/me')).body) as { user: string | null; passport: unknown };

/** Each case's observations, on koa-session first: ours must equal them. */
async function same(observe: (library: Library) => Promise<unknown>) {
  const theirs = await observe('koa-session');
  expect(await observe('@sess/koa-session')).toEqual(theirs);
  return theirs;
}

describe.each(KOAS)('koa-passport on %s', (_, Koa) => {
  describe.each([
    ['store mode', true],
    ['cookie mode', false],
  ] as const)('%s', (mode, storeMode) => {
    it('signing in sets the session cookie, GET /me answers the deserialized user, and the pre-login cookie does not carry the user', async () => {
      const seen = await same(async (library) => {
        const browser = new Browser(await start(library, Koa, storeMode));
        await browser.get('/cart');
        const anonymous = replaying(browser);
        const login = await browser.post('/login', { username: 'ada', password: 'lovelace' });
        return {
          login: answer(login),
          rotated: browser.jar.get('koa.sess') !== anonymous.jar.get('koa.sess'),
          me: await me(browser),
          anonymous: await me(anonymous),
        };
      });
      expect(seen).toEqual({
        login: { status: 200, body: 'welcome ada' },
        rotated: true,
        me: { user: 'ada', passport: { user: 'u1' } },
        anonymous: { user: null, passport: null },
      });
    });

    it('a wrong password answers 401 and leaves no user in the session', async () => {
      const seen = await same(async (library) => {
        const browser = new Browser(await start(library, Koa, storeMode));
        await browser.get('/cart');
        return {
          denied: answer(await browser.post('/login', { username: 'ada', password: 'babbage' })),
          afterDenied: await me(browser),
          unknown: answer(await browser.post('/login', { username: 'nobody', password: 'lovelace' })),
          afterUnknown: await me(browser),
        };
      });
      expect(seen).toEqual({
        denied: { status: 401, body: 'Unauthorized' },
        afterDenied: { user: null, passport: null },
        unknown: { status: 401, body: 'Unauthorized' },
        afterUnknown: { user: null, passport: null },
      });
    });

    it(`after ctx.logout(), GET /me is anonymous with the cookie the logout left; the cookie from before ${storeMode ? 'no longer carries the user' : 'still does (a cookie session cannot be revoked)'}`, async () => {
      const seen = await same(async (library) => {
        const browser = new Browser(await start(library, Koa, storeMode));
        await browser.post('/login', { username: 'grace', password: 'hopper' });
        const before = replaying(browser);
        return {
          before: await me(before),
          logout: answer(await browser.post('/logout')),
          after: await me(browser),
          replayed: (await me(before)).user,
          again: (await browser.post('/login', { username: 'ada', password: 'lovelace' })).status,
          signedInAgain: (await me(browser)).user,
        };
      });
      expect(seen).toEqual({
        before: { user: 'grace', passport: { user: 'u2' } },
        logout: { status: 200, body: 'bye' },
        after: { user: null, passport: {} },
        replayed: mode === 'store mode' ? null : 'grace',
        again: 200,
        signedInAgain: 'ada',
      });
    });
  });
});
