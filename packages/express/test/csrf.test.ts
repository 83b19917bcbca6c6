/**
 * CSRF protection that keeps its secret in the session, on `session({ secret })` over real HTTP
 * on Express 4 and 5: csurf 1.11 (`req.session.csrfSecret`, its default session storage) and
 * lusca 1.7's `csrf()` (`req.session._csrfSecret`), as express-session apps run them.
 */
import csurf from 'csurf';
import express5 from 'express';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import express4 from 'express4';
import lusca from 'lusca';
import { describe, expect, it } from 'vitest';
import { session } from '../src/index.js';
import { Client, closedAfterEach, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import type { InspectableStore } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
  }
}

const servers = closedAfterEach();

/** sess's cookie name. */
const COOKIE = 'sid';

/** Each library's middleware, and the session key it keeps its secret under. */
const LIBRARIES: ReadonlyArray<readonly [string, () => RequestHandler, string]> = [
  ['csurf', () => csurf(), 'csrfSecret'],
  ['lusca.csrf()', () => lusca.csrf(), '_csrfSecret'],
];

/** csurf's refusal carries its status; lusca's sets the response's before passing its error on. */
const errorHandler: ErrorRequestHandler = (error: Error & { status?: number }, _req, res, _next) => {
  res.status(error.status ?? (res.statusCode >= 400 ? res.statusCode : 500)).send(`error: ${error.message}`);
};

describe.each([
  ['Express 4', express4],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  describe.each(LIBRARIES)('%s', (_, csrf, secretKey) => {
    /** The app: a form page, a protected POST, and a sign-in that regenerates and answers a new token; its store counts its calls. */
    async function serve() {
      const clock = fakeClock();
      const store = inspectableStore(clock);
      const app: Express = express();
      app.use(express.urlencoded({ extended: false }));
      app.use(session({ secret: SECRET, store, clock: clock.now }));
      app.use(csrf());
      app.get('/form', (req, res) => res.json({ token: req.csrfToken() }));
      app.post('/transfer', (_req, res) => res.send('transferred'));
      app.post('/login', (req, res, next) =>
        req.session.regenerate((error) => {
          if (error) return next(error);
          req.session.user = 'ada';
          // The page after sign-in carries a token of the new session.
          res.json({ user: 'ada', token: req.csrfToken() });
        }),
      );
      app.use(errorHandler);
      const served = await listen(app);
      servers.push(served);
      return { url: served.url, client: new Client(served.url), store };
    }

    /** GET /form's token. */
    const tokenOf = async (client: Client) => (JSON.parse((await client.request('/form')).body) as { token: string }).token;

    /** POST /transfer with `token` as the form's `_csrf` field (or none): its status. */
    const postForm = async (client: Client, token?: string) =>
      (await client.request('/transfer', { method: 'POST', body: new URLSearchParams(token === undefined ? {} : { _csrf: token }) }))
        .status;

    /** The session id this browser's cookie names. */
    const idOf = (client: Client) => client.jar.get(COOKIE)?.split('.')[0] as string;

    /** The secret the store holds under `id`. */
    const secretUnder = async (store: InspectableStore, id: string) => (await store.get(id))?.data[secretKey];

    it('GET /form gives a token that a POST carries in the body or the X-CSRF-Token header; none, a wrong one or another session’s is refused with 403', async () => {
      const { url, client } = await serve();
      const token = await tokenOf(client);
      const other = new Client(url);
      const othersToken = await tokenOf(other);
      expect(await postForm(client, token)).toBe(200);
      expect((await client.post('/transfer', { 'x-csrf-token': token })).status).toBe(200);
      expect(await postForm(client)).toBe(403);
      expect(await postForm(client, `${token.slice(0, -4)}AAAA`)).toBe(403);
      expect(await postForm(client, othersToken)).toBe(403);
      expect(await postForm(other, othersToken)).toBe(200);
      expect(await postForm(new Client(url), token)).toBe(403);
    });

    it('the secret lives in the session: the store holds it after the first GET, and a second browser gets a secret of its own', async () => {
      const { url, client, store } = await serve();
      const first = await tokenOf(client);
      const secret = await secretUnder(store, idOf(client));
      expect(typeof secret).toBe('string');
      expect(store.size).toBe(1);
      const second = new Client(url);
      await tokenOf(second);
      const secondSecret = await secretUnder(store, idOf(second));
      expect(typeof secondSecret).toBe('string');
      expect(secondSecret).not.toBe(secret);
      expect(store.size).toBe(2);
      expect(await postForm(client, first)).toBe(200);
    });

    it('after sign-in with req.session.regenerate() the token from before is refused, with the new cookie or the old one; the new session gives tokens that work, as on express-session', async () => {
      const { url, client, store } = await serve();
      const before = await tokenOf(client);
      const idBefore = idOf(client);
      const secretBefore = await secretUnder(store, idBefore);
      const cookieBefore = client.jar.get(COOKIE) as string;
      const login = await client.request('/login', { method: 'POST', body: new URLSearchParams({ _csrf: before }) });
      const signedIn = JSON.parse(login.body) as { user: string; token: string };
      expect([login.status, signedIn.user]).toEqual([200, 'ada']);
      expect(idOf(client)).not.toBe(idBefore);
      expect(await store.get(idBefore)).toBeUndefined();
      const secretAfter = await secretUnder(store, idOf(client));
      expect(typeof secretAfter).toBe('string');
      expect(secretAfter).not.toBe(secretBefore);
      expect(await postForm(client, before)).toBe(403);
      const oldCookie = new Client(url);
      oldCookie.jar.set(COOKIE, cookieBefore);
      expect(await postForm(oldCookie, before)).toBe(403);
      expect(await postForm(client, signedIn.token)).toBe(200);
      expect(await postForm(client, await tokenOf(client))).toBe(200);
      expect(await secretUnder(store, idOf(client))).toBe(secretAfter);
    });

    it('GET /form again with the same cookie writes nothing more once the secret is saved, and its token still works', async () => {
      const { client, store } = await serve();
      await tokenOf(client);
      expect(store.calls.set).toBe(1);
      const saved = { ...store.calls };
      const again = [await tokenOf(client), await tokenOf(client)];
      expect(store.calls).toEqual({ ...saved, get: saved.get + 2 });
      for (const token of again) expect(await postForm(client, token)).toBe(200);
      expect(store.calls.set + store.calls.touch + store.calls.destroy).toBe(saved.set + saved.touch + saved.destroy);
    });
  });
});
