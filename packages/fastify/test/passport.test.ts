/**
 * The real @fastify/passport with passport-local on @sess/fastify, over real HTTP, on Fastify 5
 * (@fastify/passport 4 is for Fastify 5 only): sign-in, a wrong password and logout, as an app
 * relies on them, with `request.user` from the session on every request.
 */
import { Authenticator } from '@fastify/passport';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { Strategy as LocalStrategy } from 'passport-local';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, cookiesNamed } from '@sess/adapter-test';
import { session } from '../src/index.js';
import { serve } from './app.js';

interface User {
  readonly id: string;
  readonly name: string;
  readonly password: string;
}

declare module 'fastify' {
  interface PassportUser {
    readonly name?: string;
  }
}

declare module '../src/index.js' {
  interface SessionData {
    cart?: string[];
  }
}

const USERS: readonly User[] = [
  { id: 'u1', name: 'ada', password: 'lovelace' },
  { id: 'u2', name: 'grace', password: 'hopper' },
];

const SECRET = 'fastify-adapter-test-secret-of-32-bytes!';
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** The app as @fastify/passport's README has it, with @sess/fastify as the session plugin. */
async function start() {
  const passport = new Authenticator();
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = USERS.find((candidate) => candidate.name === username);
      done(null, user !== undefined && user.password === password ? user : false);
    }),
  );
  passport.registerUserSerializer(async (user: User) => user.id);
  passport.registerUserDeserializer(async (id: string) => USERS.find((user) => user.id === id) ?? null);
  const app: FastifyInstance = Fastify({ forceCloseConnections: true });
  await app.register(session, { secret: SECRET });
  await app.register(passport.initialize());
  await app.register(passport.secureSession());
  app.post('/login', { preValidation: passport.authenticate('local') }, async (request) => `welcome ${request.user?.name}`);
  app.post('/logout', async (request) => {
    await request.logOut();
    return 'bye';
  });
  app.get('/cart/items', async (request) => ({ cart: request.session.cart ?? null }));
  app.get('/cart', async (request) => {
    request.session.cart = ['book'];
    return 'added';
  });
  app.get('/me', async (request) => ({ user: request.user?.name ?? null, passport: request.session.get('passport') ?? null }));
  const served = await serve(app);
  closers.push(served.close);
  return served.url;
}

const signIn = (client: Client, username: string, password: string) =>
  client.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });

/** A browser that sends the cookie `client` holds now: the same session, replayed later. */
function replaying(url: string, client: Client): Client {
  const replay = new Client(url);
  for (const [name, value] of client.jar) replay.jar.set(name, value);
  return replay;
}

const me = async (client: Client) => JSON.parse((await client.request('/me')).body) as { user: string | null; passport: unknown };

describe('@fastify/passport on Fastify 5', () => {
  it('signing in sets the session cookie, request.user is the deserialized user on later requests, and the pre-login cookie does not carry the user', async () => {
    const url = await start();
    const client = new Client(url);
    await client.request('/cart');
    const anonymous = replaying(url, client);
    const login = await signIn(client, 'ada', 'lovelace');
    expect([login.status, login.body, cookiesNamed(login, 'sid')]).toEqual([200, 'welcome ada', [expect.stringMatching(/^sid=[^;]/)]]);
    // @fastify/passport's session manager regenerates the session at sign-in: a new id.
    expect(client.jar.get('sid')).not.toBe(anonymous.jar.get('sid'));
    expect(await me(client)).toEqual({ user: 'ada', passport: 'u1' });
    expect(await me(client)).toEqual({ user: 'ada', passport: 'u1' });
    expect(await me(anonymous)).toEqual({ user: null, passport: null });
  });

  it('a wrong password answers 401 and leaves no user in the session', async () => {
    const url = await start();
    const client = new Client(url);
    await client.request('/cart');
    const denied = await signIn(client, 'ada', 'babbage');
    expect([denied.status, denied.body]).toEqual([401, 'Unauthorized']);
    expect(await me(client)).toEqual({ user: null, passport: null });
    expect((await signIn(client, 'nobody', 'lovelace')).status).toBe(401);
    expect(await me(client)).toEqual({ user: null, passport: null });
  });

  it('after request.logOut(), GET /me is anonymous with the cookie the logout left, and the cookie from before no longer carries the user', async () => {
    const url = await start();
    const client = new Client(url);
    await signIn(client, 'grace', 'hopper');
    const before = replaying(url, client);
    expect(await me(before)).toEqual({ user: 'grace', passport: 'u2' });
    const logout = await client.post('/logout');
    expect([logout.status, logout.body]).toEqual([200, 'bye']);
    expect(await me(client)).toEqual({ user: null, passport: null });
    expect(await me(before)).toEqual({ user: null, passport: null });
    await signIn(client, 'ada', 'lovelace');
    expect((await me(client)).user).toBe('ada');
  });

  it('logOut() starts an empty session, as on @fastify/session: neither the user nor the data added after sign-in is left, with the new cookie or the one from before', async () => {
    const url = await start();
    const cart = async (client: Client) => JSON.parse((await client.request('/cart/items')).body) as { cart: unknown };
    const client = new Client(url);
    await signIn(client, 'ada', 'lovelace');
    // Added after sign-in: @fastify/passport's sign-in regenerates keeping only its own fields.
    await client.request('/cart');
    expect([await me(client), await cart(client)]).toEqual([{ user: 'ada', passport: 'u1' }, { cart: ['book'] }]);
    const before = replaying(url, client);
    const logout = await client.post('/logout');
    expect([logout.status, logout.body]).toEqual([200, 'bye']);
    for (const browser of [client, before])
      expect([await me(browser), await cart(browser)]).toEqual([{ user: null, passport: null }, { cart: null }]);
  });
});
