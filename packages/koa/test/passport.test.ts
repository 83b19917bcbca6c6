/**
 * The real koa-passport (passport 0.6) with passport-local on @sess/koa, over real HTTP, on Koa 2
 * and 3: sign-in, a wrong password and logout, as an app relies on them.
 */
import Koa3 from 'koa';
import type { Context, Next } from 'koa';
import Koa2 from 'koa2';
import { KoaPassport } from 'koa-passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, listen, SECRET } from '@sess/adapter-test';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    cart?: string[];
  }
}

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

const servers = closedAfterEach();

const signIn = (client: Client, name: string, password: string) =>
  client.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: name, password }),
  });

/** A browser that sends the cookie `client` holds now: the same session, replayed later. */
function replaying(url: string, client: Client): Client {
  const replay = new Client(url);
  for (const [name, value] of client.jar) replay.jar.set(name, value);
  return replay;
}

describe.each([
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const)('koa-passport on %s', (_, Koa) => {
  async function start() {
    const passport = localPassport();
    const app = new Koa();
    app.silent = true;
    app.use(session({ secret: SECRET }));
    app.use(jsonBody);
    app.use(passport.initialize());
    app.use(passport.session());
    const signedIn = async (ctx: Context) => {
      ctx.body = `welcome ${(ctx.state.user as User).name}`;
    };
    app.use(async (ctx, next) => {
      if (ctx.path === '/login') return passport.authenticate('local')(ctx, () => signedIn(ctx));
      if (ctx.path === '/logout') {
        await ctx.logout();
        ctx.body = 'bye';
        return;
      }
      if (ctx.path === '/cart') {
        ctx.session.cart = ['book'];
        ctx.body = 'added';
        return;
      }
      // What /me answers comes from passport (the deserialized user), what the session holds from sess.
      ctx.body = JSON.stringify({
        user: ctx.isAuthenticated() ? (ctx.state.user as User).name : null,
        passport: ctx.session.passport ?? null,
      });
      return next();
    });
    const served = await listen(app.callback());
    servers.push(served);
    return served.url;
  }

  const me = async (client: Client) => JSON.parse((await client.request('/me')).body) as { user: string | null; passport: unknown };

  it('signing in sets the session cookie, GET /me answers the deserialized user, and the pre-login cookie does not carry the user', async () => {
    const url = await start();
    const client = new Client(url);
    await client.request('/cart');
    const anonymous = replaying(url, client);
    const login = await signIn(client, 'ada', 'lovelace');
    expect([login.status, login.body, cookiesNamed(login, 'sid')]).toEqual([200, 'welcome ada', [expect.stringMatching(/^sid=[^;]/)]]);
    // passport 0.6 regenerates the session at sign-in (session fixation): a new id.
    expect(client.jar.get('sid')).not.toBe(anonymous.jar.get('sid'));
    expect(await me(client)).toEqual({ user: 'ada', passport: { user: 'u1' } });
    expect(await me(anonymous)).toEqual({ user: null, passport: null });
  });

  it('a wrong password answers 401 and leaves no user in the session', async () => {
    const url = await start();
    const client = new Client(url);
    await client.request('/cart');
    const denied = await signIn(client, 'ada', 'babbage');
    expect([denied.status, denied.body]).toEqual([401, 'Unauthorized']);
    expect(await me(client)).toEqual({ user: null, passport: null });
    const unknown = await signIn(client, 'nobody', 'lovelace');
    expect(unknown.status).toBe(401);
    expect(await me(client)).toEqual({ user: null, passport: null });
  });

  it('after ctx.logout(), GET /me is anonymous with the cookie the logout left, and the cookie from before no longer carries the user', async () => {
    const url = await start();
    const client = new Client(url);
    await signIn(client, 'grace', 'hopper');
    const before = replaying(url, client);
    expect(await me(before)).toEqual({ user: 'grace', passport: { user: 'u2' } });
    const logout = await client.post('/logout');
    expect([logout.status, logout.body]).toEqual([200, 'bye']);
    expect((await me(client)).user).toBeNull();
    expect((await me(before)).user).toBeNull();
    // Signing in again works from the cookie the logout left.
    await signIn(client, 'ada', 'lovelace');
    expect((await me(client)).user).toBe('ada');
  });
});
