/**
 * passport 0.7 with passport-local, the way nearly every express-session app signs users in: the
 * same app runs on express-session 1.19 and on this package, over real HTTP on Express 4 and 5,
 * and what the browser and the store see must be the same.
 */
import type { Express, RequestHandler } from 'express';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, errorHandler, EXPRESS, listen, MODULES, SECRET, sessionCookie } from './helpers.js';
import type { ExpressFactory, SessionModule } from './helpers.js';

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

type Session = Record<string, unknown>;
const sessionOf = (req: unknown) => (req as { session?: Session }).session;
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

/**
 * connect-flash's `req.flash` (0.1.1, which is not installed here), line for line: messages kept
 * in `req.session.flash`, a kind's messages taken (and gone) when read.
 */
const connectFlash: RequestHandler = (req, _res, next) => {
  (req as unknown as { flash: (type: string, message?: string) => unknown }).flash = (type, message) => {
    const current = sessionOf(req) as Session;
    const messages = (current.flash ??= {}) as Record<string, string[]>;
    if (message !== undefined) return (messages[type] ??= []).push(message);
    const taken = messages[type];
    delete messages[type];
    return taken ?? [];
  };
  next();
};

/** The sign-in app on `module`'s middleware, its store, and its URL; `flash` goes after passport's session. */
async function serve(express: ExpressFactory, module: SessionModule, flash?: RequestHandler) {
  const store = new module.MemoryStore();
  const auth = authenticator();
  const app: Express = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(module({ secret: SECRET, resave: false, saveUninitialized: false, store }));
  app.use(auth.session());
  if (flash !== undefined) app.use(flash);
  // Where an app notes the page to come back to before sending the user to sign in.
  app.post('/visit', (req, res) => {
    (sessionOf(req) as Session).returnTo = '/billing';
    res.send('noted');
  });
  app.post('/login', auth.authenticate('local'), (req, res) => res.send(usernameOf(req)));
  app.post('/login-keeping', auth.authenticate('local', { keepSessionInfo: true }), (req, res) => res.send(usernameOf(req)));
  app.post('/login-flash', auth.authenticate('local', { failureRedirect: '/login', failureFlash: true }), (req, res) =>
    res.send(usernameOf(req)),
  );
  app.get('/messages', (req, res) => res.json((req as unknown as { flash: (type: string) => unknown }).flash('error')));
  app.get('/me', (req, res) => res.json({ user: usernameOf(req), returnTo: sessionOf(req)?.returnTo ?? null }));
  app.post('/logout', (req, res, next) => req.logout((error) => (error ? next(error) : res.send('signed out'))));
  app.use(errorHandler);
  const served = await listen(app);
  servers.push(served);
  return { url: served.url, client: new Client(served.url), store };
}

/** What `scenario` sees on each module, by module name. */
async function onBoth<T>(scenario: (module: SessionModule) => Promise<T>): Promise<Record<string, T>> {
  const seen: Record<string, T> = {};
  for (const [name, module] of MODULES) seen[name] = await scenario(module);
  return seen;
}

/** A form post of these credentials, as a browser sends the sign-in form. */
const signIn = (client: Client, path: string, username: string, password: string) =>
  client.request(path, { method: 'POST', body: new URLSearchParams({ username, password }) });

/** A browser holding only this session cookie value. */
function browserWith(url: string, cookie: string | undefined): Client {
  const client = new Client(url);
  if (cookie !== undefined) client.jar.set('connect.sid', cookie);
  return client;
}

/** GET /me as a browser holding `cookie`: who it is signed in as, and its returnTo. */
async function me(url: string, cookie: string | undefined): Promise<{ user: string | null; returnTo: string | null }> {
  return JSON.parse((await browserWith(url, cookie).request('/me')).body) as { user: string | null; returnTo: string | null };
}

/** The passport users the store holds, one per record that has one. */
const signedInRecords = (store: { sessions: Record<string, string> }) =>
  Object.values(store.sessions)
    .map((json) => (JSON.parse(json) as { passport?: { user?: unknown } }).passport?.user)
    .filter((user) => user !== undefined);

describe.each(EXPRESS)('%s', (_, express) => {
  it('signing in sets a new session cookie that GET /me reads the user from; the cookie from before no longer carries anyone', async () => {
    const seen = await onBoth(async (module) => {
      const { url, client, store } = await serve(express, module);
      await client.post('/visit');
      const before = client.jar.get('connect.sid');
      const login = await signIn(client, '/login', 'ada', 'lovelace');
      const after = client.jar.get('connect.sid');
      return {
        login: [login.status, login.body],
        cookieSet: sessionCookie(login.setCookies) !== undefined,
        newId: before !== undefined && after !== before,
        me: await me(url, after),
        before: await me(url, before),
        records: signedInRecords(store),
      };
    });
    expect(seen['express-session']).toEqual({
      login: [200, 'ada'],
      cookieSet: true,
      newId: true,
      me: { user: 'ada', returnTo: null },
      before: { user: null, returnTo: null },
      records: [1],
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('keepSessionInfo: true carries what the session held before sign-in into the new session; without it that is gone', async () => {
    const seen = await onBoth(async (module) => {
      const { url, client } = await serve(express, module);
      const keeping = new Client(url);
      await client.post('/visit');
      await keeping.post('/visit');
      const before = keeping.jar.get('connect.sid');
      await signIn(client, '/login', 'ada', 'lovelace');
      await signIn(keeping, '/login-keeping', 'grace', 'hopper');
      return {
        dropped: await me(url, client.jar.get('connect.sid')),
        kept: await me(url, keeping.jar.get('connect.sid')),
        keptNewId: keeping.jar.get('connect.sid') !== before,
      };
    });
    expect(seen['express-session']).toEqual({
      dropped: { user: 'ada', returnTo: null },
      kept: { user: 'grace', returnTo: '/billing' },
      keptNewId: true,
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('a wrong password answers 401 and leaves no user in the session, nor in the store', async () => {
    const seen = await onBoth(async (module) => {
      const { url, client, store } = await serve(express, module);
      await client.post('/visit');
      const before = client.jar.get('connect.sid');
      const failed = await signIn(client, '/login', 'ada', 'babbage');
      const stranger = new Client(url);
      const unknown = await signIn(stranger, '/login', 'mallory', 'lovelace');
      return {
        failed: failed.status,
        sameCookie: client.jar.get('connect.sid') === before,
        me: await me(url, client.jar.get('connect.sid')),
        unknown: [unknown.status, unknown.setCookies.length],
        records: signedInRecords(store),
      };
    });
    expect(seen['express-session']).toEqual({
      failed: 401,
      sameCookie: true,
      me: { user: null, returnTo: '/billing' },
      unknown: [401, 0],
      records: [],
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it('req.logout(cb) signs out: neither the cookie it left nor the signed-in one carries the user, or what the session held, afterwards', async () => {
    const seen = await onBoth(async (module) => {
      const { url, client, store } = await serve(express, module);
      await signIn(client, '/login', 'ada', 'lovelace');
      await client.post('/visit');
      const signedIn = client.jar.get('connect.sid');
      const logout = await client.post('/logout');
      const left = client.jar.get('connect.sid');
      return {
        logout: [logout.status, logout.body],
        newCookie: left !== undefined && left !== signedIn,
        me: await me(url, left),
        signedIn: await me(url, signedIn),
        records: signedInRecords(store),
      };
    });
    expect(seen['express-session']).toEqual({
      logout: [200, 'signed out'],
      newCookie: true,
      me: { user: null, returnTo: null },
      signedIn: { user: null, returnTo: null },
      records: [],
    });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it("failureFlash needs connect-flash's req.flash, as with express-session: without it both answer passport's own TypeError", async () => {
    const seen = await onBoth(async (module) => {
      const { client } = await serve(express, module);
      const failed = await signIn(client, '/login-flash', 'ada', 'babbage');
      return [failed.status, failed.body];
    });
    expect(seen['express-session']).toEqual([500, 'error: req.flash is not a function']);
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });

  it("failureFlash with connect-flash's req.flash (messages in req.session.flash): the failure's message is read once on the next request", async () => {
    const seen = await onBoth(async (module) => {
      const { client } = await serve(express, module, connectFlash);
      const failed = await signIn(client, '/login-flash', 'ada', 'babbage');
      const first = await client.request('/messages');
      const second = await client.request('/messages');
      return { failed: [failed.status, failed.headers.get('location')], first: first.body, second: second.body };
    });
    expect(seen['express-session']).toEqual({ failed: [302, '/login'], first: JSON.stringify([WRONG]), second: '[]' });
    expect(seen['@sess/express-session']).toEqual(seen['express-session']);
  });
});
