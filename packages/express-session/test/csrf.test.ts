/**
 * CSRF protection that keeps its secret in the session, as many express-session apps run it:
 * csurf 1.11 (`req.session.csrfSecret`, its default session storage) and lusca 1.7's `csrf()`
 * (`req.session._csrfSecret`). The same app runs on express-session 1.19 and on this package,
 * over real HTTP on Express 4 and 5, and what the browser and the store see must be the same.
 */
import csurf from 'csurf';
import type { ErrorRequestHandler, Express } from 'express';
import lusca from 'lusca';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, countingStore, EXPRESS, listen, MODULES, SECRET } from './helpers.js';
import type { SessionModule } from './helpers.js';

const servers = closedAfterEach();

/** Each library's middleware, and the session key it keeps its secret under. */
const LIBRARIES = [
  ['csurf', () => csurf(), 'csrfSecret'],
  ['lusca.csrf()', () => lusca.csrf(), '_csrfSecret'],
] as const;

type Session = Record<string, unknown> & { regenerate(callback: (error?: unknown) => void): void };
const sessionOf = (req: unknown) => (req as { session: Session }).session;

/** csurf's refusal carries its status; lusca's sets the response's before passing its error on. */
const errorHandler: ErrorRequestHandler = (error: Error & { status?: number }, _req, res, _next) => {
  res.status(error.status ?? (res.statusCode >= 400 ? res.statusCode : 500)).send(`error: ${error.message}`);
};

describe.each(EXPRESS)('%s', (_, express) => {
  describe.each(LIBRARIES)('%s', (_, csrf, secretKey) => {
    /** The app on `module`'s middleware with `store`: a form page, a protected POST, and a sign-in that regenerates and answers a new token. */
    async function serve(module: SessionModule, store: { sessions: Record<string, string> } = new module.MemoryStore()) {
      const app: Express = express();
      app.use(express.urlencoded({ extended: false }));
      app.use(module({ secret: SECRET, resave: false, saveUninitialized: false, store }));
      app.use(csrf());
      app.get('/form', (req, res) => res.json({ token: req.csrfToken() }));
      app.post('/transfer', (_req, res) => res.send('transferred'));
      app.post('/login', (req, res, next) =>
        sessionOf(req).regenerate((error) => {
          if (error) return next(error);
          sessionOf(req).user = 'ada';
          // The page after sign-in carries a token of the new session.
          res.json({ user: 'ada', token: req.csrfToken() });
        }),
      );
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

    /** GET /form's token. */
    const tokenOf = async (client: Client) => (JSON.parse((await client.request('/form')).body) as { token: string }).token;

    /** POST /transfer with `token` as the form's `_csrf` field (or none): its status. */
    const postForm = async (client: Client, token?: string) =>
      (await client.request('/transfer', { method: 'POST', body: new URLSearchParams(token === undefined ? {} : { _csrf: token }) }))
        .status;

    /** The secrets the store holds, one per record that has one. */
    const secretsIn = (store: { sessions: Record<string, string> }): unknown[] =>
      Object.values(store.sessions)
        .map((json) => (JSON.parse(json) as Record<string, unknown>)[secretKey])
        .filter((secret) => secret !== undefined);

    it('GET /form gives a token that a POST carries in the body or the X-CSRF-Token header; none, a wrong one or another session’s is refused with 403', async () => {
      const seen = await onBoth(async (module) => {
        const { url, client, store } = await serve(module);
        const token = await tokenOf(client);
        const other = new Client(url);
        const othersToken = await tokenOf(other);
        return {
          body: await postForm(client, token),
          header: (await client.post('/transfer', { 'x-csrf-token': token })).status,
          none: await postForm(client),
          wrong: await postForm(client, `${token.slice(0, -4)}AAAA`),
          othersToken: await postForm(client, othersToken),
          othersOwn: await postForm(other, othersToken),
          noCookie: await postForm(new Client(url), token),
          // The refused POST without a cookie still made a secret, and its session was saved.
          records: Object.keys(store.sessions).length,
        };
      });
      expect(seen['express-session']).toEqual({
        body: 200,
        header: 200,
        none: 403,
        wrong: 403,
        othersToken: 403,
        othersOwn: 200,
        noCookie: 403,
        records: 3,
      });
      expect(seen['@sess/express-session']).toEqual(seen['express-session']);
    });

    it('the secret lives in the session: the store holds it after the first GET, and a second browser gets a secret of its own', async () => {
      const seen = await onBoth(async (module) => {
        const { url, client, store } = await serve(module);
        await tokenOf(client);
        const first = secretsIn(store);
        await tokenOf(new Client(url));
        const both = secretsIn(store);
        return { first: first.length, both: both.length, distinct: new Set(both).size, kept: both.includes(first[0]) };
      });
      expect(seen['express-session']).toEqual({ first: 1, both: 2, distinct: 2, kept: true });
      expect(seen['@sess/express-session']).toEqual(seen['express-session']);
    });

    it('after sign-in with req.session.regenerate() the token from before is refused, with the new cookie or the old one; the new session gives tokens that work', async () => {
      const seen = await onBoth(async (module) => {
        const { url, client, store } = await serve(module);
        const before = await tokenOf(client);
        const [secretBefore] = secretsIn(store);
        const cookieBefore = client.jar.get('connect.sid') as string;
        const login = await client.request('/login', { method: 'POST', body: new URLSearchParams({ _csrf: before }) });
        const signedIn = JSON.parse(login.body) as { user: string; token: string };
        const oldCookie = new Client(url);
        oldCookie.jar.set('connect.sid', cookieBefore);
        return {
          login: [login.status, signedIn.user],
          newCookie: client.jar.get('connect.sid') !== cookieBefore,
          oldToken: await postForm(client, before),
          oldTokenOldCookie: await postForm(oldCookie, before),
          loginToken: await postForm(client, signedIn.token),
          formToken: await postForm(client, await tokenOf(client)),
          secretBeforeGone: !secretsIn(store).includes(secretBefore),
        };
      });
      expect(seen['express-session']).toEqual({
        login: [200, 'ada'],
        newCookie: true,
        oldToken: 403,
        oldTokenOldCookie: 403,
        loginToken: 200,
        formToken: 200,
        secretBeforeGone: true,
      });
      expect(seen['@sess/express-session']).toEqual(seen['express-session']);
    });

    it('GET /form again with the same cookie calls the store as express-session does, and keeps the same secret', async () => {
      const seen = await onBoth(async (module) => {
        const store = countingStore(new module.MemoryStore());
        const { client } = await serve(module, store);
        await tokenOf(client);
        const first = { calls: [...store.calls], secrets: secretsIn(store) };
        store.calls.length = 0;
        await tokenOf(client);
        await tokenOf(client);
        return { first: first.calls, again: store.calls, sameSecret: secretsIn(store).join() === first.secrets.join() };
      });
      expect(seen['express-session']).toEqual({ first: ['set'], again: ['get', 'touch', 'get', 'touch'], sameSecret: true });
      expect(seen['@sess/express-session']).toEqual(seen['express-session']);
    });
  });
});
