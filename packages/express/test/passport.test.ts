/**
 * passport 0.7 with passport-local on `session({ secret })`, over real HTTP on Express 4 and 5:
 * sign-in, keepSessionInfo, a failed sign-in, sign-out and failureFlash, as express-session apps
 * rely on them.
 */
import express5 from 'express';
import type { Express, RequestHandler } from 'express';
import express4 from 'express4';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '@sess/store-memory';
import type { MemoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';
import { Client, closedAfterEach, listen, SECRET } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    returnTo?: string;
    passport?: { user?: number };
  }
}

const servers = closedAfterEach();

interface User {
  id: number;
  username: string;
}

const USERS = [
  { id: 1, username: 'ada', password: 'lovelace' },
  { id: 2, username: 'grace', password: 'hopper' },
];

const WRONG = 'Wrong username or password.';
/** sess's cookie name. */
const COOKIE = 'sid';

const usernameOf = (req: unknown) => ((req as { user?: User }).user ?? null)?.username ?? null;

/** A passport of its own for each app, with passport-local over the user table. */
function authenticator(): passport.Authenticator {
  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy((username, password, done) => {
      const found = USERS.find((user) => user.username === username && user.password === password);
      if (found === undefined) return done(null, false, { message: WRONG });
      done(null, { id: found.id, username: found.username });
    }),
  );
  auth.serializeUser((user, done) => done(null, (user as User).id));
  auth.deserializeUser((id, done) => {
    const found = USERS.find((user) => user.id === id);
    done(null, found === undefined ? false : { id: found.id, username: found.username });
  });
  return auth;
}

type Flash = (kind: string, message?: string) => unknown;

/** The README's recipe for passport's failureFlash: `req.flash` on the session's flash, after the session's middleware. */
const flash: RequestHandler = (req, _res, next) => {
  (req as unknown as { flash: Flash }).flash = (kind, message) =>
    message === undefined ? req.session.takeFlash(kind) : req.session.flash(kind, message);
  next();
};

/** A form post of these credentials, as a browser sends the sign-in form. */
const signIn = (client: Client, path: string, username: string, password: string) =>
  client.request(path, { method: 'POST', body: new URLSearchParams({ username, password }) });

describe.each([
  ['Express 4', express4],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  /** The sign-in app, its store, and its URL. */
  async function serve() {
    const store = memoryStore();
    const auth = authenticator();
    const app: Express = express();
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ secret: SECRET, store }));
    app.use(auth.session());
    app.use(flash);
    // Where an app notes the page to come back to before sending the user to sign in.
    app.post('/visit', (req, res) => {
      req.session.returnTo = '/billing';
      res.send('noted');
    });
    app.post('/login', auth.authenticate('local'), (req, res) => res.send(usernameOf(req)));
    app.post('/login-keeping', auth.authenticate('local', { keepSessionInfo: true }), (req, res) => res.send(usernameOf(req)));
    app.post('/login-flash', auth.authenticate('local', { failureRedirect: '/login', failureFlash: true }), (req, res) =>
      res.send(usernameOf(req)),
    );
    app.get('/messages', (req, res) => res.json((req as unknown as { flash: Flash }).flash('error')));
    app.get('/me', (req, res) => res.json({ user: usernameOf(req), returnTo: req.session.returnTo ?? null }));
    app.post('/logout', (req, res, next) => req.logout((error) => (error ? next(error) : res.send('signed out'))));
    const served = await listen(app);
    servers.push(served);
    return { url: served.url, client: new Client(served.url), store };
  }

  /** GET /me as a browser holding only this session cookie value: who it is signed in as, and its returnTo. */
  async function me(url: string, cookie: string | undefined): Promise<{ user: string | null; returnTo: string | null }> {
    const client = new Client(url);
    if (cookie !== undefined) client.jar.set(COOKIE, cookie);
    return JSON.parse((await client.request('/me')).body) as { user: string | null; returnTo: string | null };
  }

  /** The passport users the store holds, one per record that has one. */
  async function signedInRecords(store: MemoryStore): Promise<unknown[]> {
    const users: unknown[] = [];
    for await (const id of store.ids()) {
      const user = (store.get(id)?.data.passport as { user?: unknown } | undefined)?.user;
      if (user !== undefined) users.push(user);
    }
    return users;
  }

  it('signing in sets a new session cookie that GET /me reads the user from; the cookie from before no longer carries anyone', async () => {
    const { url, client, store } = await serve();
    await client.post('/visit');
    const before = client.jar.get(COOKIE);
    const login = await signIn(client, '/login', 'ada', 'lovelace');
    const after = client.jar.get(COOKIE);
    expect([login.status, login.body]).toEqual([200, 'ada']);
    expect(login.setCookies.some((line) => line.startsWith(`${COOKIE}=`))).toBe(true);
    expect(before).toBeDefined();
    expect(after).not.toBe(before);
    expect((await me(url, after)).user).toBe('ada');
    expect(await me(url, before)).toEqual({ user: null, returnTo: null });
    expect(await signedInRecords(store)).toEqual([1]);
  });

  // passport merges the session object regenerate() replaced into the new one for keepSessionInfo.
  it('what the session held before sign-in is kept with keepSessionInfo: true, and gone without it, as with express-session', async () => {
    const { url, client } = await serve();
    const keeping = new Client(url);
    await client.post('/visit');
    await keeping.post('/visit');
    const before = keeping.jar.get(COOKIE);
    await signIn(client, '/login', 'ada', 'lovelace');
    await signIn(keeping, '/login-keeping', 'grace', 'hopper');
    expect(await me(url, client.jar.get(COOKIE))).toEqual({ user: 'ada', returnTo: null });
    expect(await me(url, keeping.jar.get(COOKIE))).toEqual({ user: 'grace', returnTo: '/billing' });
    expect(keeping.jar.get(COOKIE)).not.toBe(before);
  });

  it('a wrong password answers 401 and leaves no user in the session, nor in the store', async () => {
    const { url, client, store } = await serve();
    await client.post('/visit');
    const before = client.jar.get(COOKIE);
    const failed = await signIn(client, '/login', 'ada', 'babbage');
    const unknown = await signIn(new Client(url), '/login', 'mallory', 'lovelace');
    expect(failed.status).toBe(401);
    expect(client.jar.get(COOKIE)).toBe(before);
    expect(await me(url, before)).toEqual({ user: null, returnTo: '/billing' });
    expect([unknown.status, unknown.setCookies]).toEqual([401, []]);
    expect(await signedInRecords(store)).toEqual([]);
  });

  it('req.logout(cb) signs out and leaves none of the data, with the cookie it left or the signed-in one, as with express-session', async () => {
    const { url, client, store } = await serve();
    await signIn(client, '/login', 'ada', 'lovelace');
    await client.post('/visit');
    const signedIn = client.jar.get(COOKIE);
    expect(await me(url, signedIn)).toEqual({ user: 'ada', returnTo: '/billing' });
    const logout = await client.post('/logout');
    expect([logout.status, logout.body]).toEqual([200, 'signed out']);
    expect(client.jar.get(COOKIE)).toBeUndefined();
    expect(await me(url, signedIn)).toEqual({ user: null, returnTo: null });
    expect(store.size).toBe(0);
  });

  it("failureFlash with the README's req.flash: the failure's message is read once, on the next request", async () => {
    const { client } = await serve();
    const failed = await signIn(client, '/login-flash', 'ada', 'babbage');
    expect([failed.status, failed.headers.get('location')]).toEqual([302, '/login']);
    expect(JSON.parse((await client.request('/messages')).body)).toEqual([WRONG]);
    expect(JSON.parse((await client.request('/messages')).body)).toEqual([]);
  });
});
