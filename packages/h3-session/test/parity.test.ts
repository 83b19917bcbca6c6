/**
 * The same app on h3's own sessions and on this package, side by side over HTTP: where h3's
 * documented behaviour is what an app sees, ours must show it too.
 */
import type { ServerResponse } from 'node:http';
import * as h3 from 'h3';
import { H3, toNodeHandler, clearSession as h3ClearSession } from 'h3';
import * as h3v1 from 'h3v1';
import { clearSession as v1ClearSession, createApp, eventHandler, toNodeListener } from 'h3v1';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen } from '@sess/adapter-test';
import type { Served } from '@sess/adapter-test';
import type { SessionConfig } from '../src/index.js';
import { PASSWORD, v1Flavour, v2Flavour } from './apps.js';
import type { Api } from './apps.js';

const servers = closedAfterEach();

type Handler = (event: unknown, url: URL) => Promise<unknown>;

const realV2 = (handler: Handler) =>
  listen(toNodeHandler(new H3({ silent: true }).all('/**', (event) => handler(event, new URL(event.url.href)) as never)));
const realV1 = (handler: Handler) =>
  listen(toNodeListener(createApp().use(eventHandler((event) => handler(event, new URL(event.path, 'http://localhost')) as never))));

const pairs = [
  { flavour: v2Flavour, real: realV2, realClear: h3ClearSession as unknown as Api['clearSession'], h3Api: h3 as unknown as Api },
  { flavour: v1Flavour, real: realV1, realClear: v1ClearSession as unknown as Api['clearSession'], h3Api: h3v1 as unknown as Api },
] as const;

async function serving(serve: (handler: Handler) => Promise<Served>, handler: Handler): Promise<Served> {
  const served = await serve(handler);
  servers.push(served);
  return served;
}

describe.each(pairs)('$flavour.name', ({ flavour, real, realClear }) => {
  const ours = (handler: Handler) => flavour.serve(({ event, url }) => handler(event, url));

  it('clearSession deletes the session cookie whatever the request carried: none, a foreign value, or a session already gone', async () => {
    const store = inspectableStore(fakeClock());
    const config: SessionConfig = { password: PASSWORD, store };
    // A signed id whose record is gone: written, then destroyed behind the browser's back.
    const app = await serving(ours, async (event) => ({ id: (await flavour.api.useSession(event as never, config)).id }));
    const browser = new Client(app.url);
    await browser.request('/');
    const gone = browser.jar.get('h3') as string;
    await store.destroy(gone.split('.')[0] as string);

    const clearing = (clear: typeof realClear, cfg: SessionConfig) => async (event: unknown) => {
      await clear(event as never, cfg);
      return 'cleared';
    };
    const h3App = await serving(real, clearing(realClear, { password: PASSWORD }));
    const oursApp = await serving(ours, clearing(flavour.api.clearSession, config));
    for (const cookie of [undefined, 'h3=not-a-session', `h3=${gone}`]) {
      const init = cookie === undefined ? {} : { headers: { cookie } };
      const [expected, actual] = [await new Client(h3App.url).request('/', init), await new Client(oursApp.url).request('/', init)];
      // h3 v2 deletes the cookie (Max-Age=0); h3 v1 overwrites it with an empty value.
      expect(cookiesNamed(expected, 'h3')).toEqual([expect.stringMatching(/^h3=;/)]);
      expect(cookiesNamed(actual, 'h3'), `cookie: ${cookie}`).toEqual([expect.stringMatching(/^h3=; Max-Age=0; Path=\/;/)]);
    }
  });
});

describe.each(pairs)('$flavour.name: an update function that throws', ({ flavour, real, h3Api }) => {
  const ours = (handler: Handler) => flavour.serve(({ event, url }) => handler(event, url));
  const config: SessionConfig = { password: PASSWORD };
  const app = (api: Api, cfg: SessionConfig) => async (event: unknown) => {
    const e = event as never;
    const thrown = await api
      .updateSession(e, cfg, () => {
        throw new Error('the app failed');
      })
      .then(
        () => 'none',
        (error: Error) => error.message,
      );
    // The app goes on: the session is still new, so useSession writes it and sends its cookie.
    const session = await api.useSession(e, cfg);
    return { thrown, id: session.id };
  };

  it('leaves a new session new: a later useSession in the request writes it and sends its cookie, as in h3', async () => {
    const store = inspectableStore(fakeClock());
    const h3Browser = new Client((await serving(real, app(h3Api, config))).url);
    const ourBrowser = new Client((await serving(ours, app(flavour.api, { ...config, store }))).url);
    const [expected, actual] = [await h3Browser.request('/'), await ourBrowser.request('/')];
    expect(JSON.parse(expected.body)).toEqual({ thrown: 'the app failed', id: expect.any(String) });
    expect(JSON.parse(actual.body)).toEqual({ thrown: 'the app failed', id: expect.any(String) });
    expect(cookiesNamed(expected, 'h3')).toHaveLength(1);
    expect(cookiesNamed(actual, 'h3')).toHaveLength(1);
    expect(store.size).toBe(1);
    // The next request finds the session the first one wrote.
    for (const [browser, reply] of [
      [h3Browser, expected],
      [ourBrowser, actual],
    ] as const) {
      expect(JSON.parse((await browser.request('/')).body).id).toBe(JSON.parse(reply.body).id);
    }
  });
});

describe.each(pairs)('$flavour.name: one session name, several configs', ({ flavour, real, h3Api }) => {
  const ours = (handler: Handler) => flavour.serve(({ event, url }) => handler(event, url));
  // A route helper with its own config (a maxAge here) for the session the handler already
  // uses: h3 keeps one session per name in a request, whichever config each call passes.
  const plain: SessionConfig = { password: PASSWORD };
  const withMaxAge: SessionConfig = { password: PASSWORD, maxAge: 3600 };
  const app = (api: Api) => async (event: unknown, url: URL) => {
    const e = event as never;
    if (url.pathname === '/parallel') {
      const [a, b] = await Promise.all([api.getSession(e, plain), api.getSession(e, withMaxAge)]);
      return { same: a.id !== '' && a.id === b.id, data: b.data };
    }
    const first = await api.useSession(e, plain);
    if (url.pathname === '/set') {
      await first.update({ a: 1 });
      await (await api.useSession(e, withMaxAge)).update({ b: 2 });
    }
    const other = await api.useSession(e, withMaxAge);
    return { same: first.id === other.id, data: other.data };
  };

  it("a request's calls share the session of that name, new or stored, and keep every update", async () => {
    const h3Browser = new Client((await serving(real, app(h3Api))).url);
    const ourBrowser = new Client((await serving(ours, app(flavour.api))).url);
    for (const path of ['/set', '/', '/set', '/parallel']) {
      const [expected, actual] = [await h3Browser.request(path), await ourBrowser.request(path)];
      expect(JSON.parse(expected.body), path).toEqual({ same: true, data: { a: 1, b: 2 } });
      expect(JSON.parse(actual.body), path).toEqual(JSON.parse(expected.body));
      expect(cookiesNamed(actual, 'h3'), path).toHaveLength(cookiesNamed(expected, 'h3').length);
    }
  });
});

describe('h3 v1: updateSession on a stream', () => {
  const ours = (handler: Handler) => v1Flavour.serve(({ event, url }) => handler(event, url));
  const app = (api: Api, config: SessionConfig) => async (event: unknown) => {
    const { res } = (event as { node: { res: ServerResponse } }).node;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('streaming;');
    const outcome = api.updateSession(event as never, config, { n: 1 });
    res.end(
      await outcome.then(
        () => 'updated',
        () => 'threw',
      ),
    );
  };

  it('a new session is refused, as h3 v1 refuses it, and nothing is stored', async () => {
    const store = inspectableStore(fakeClock());
    const h3App = await serving(realV1, app(h3v1 as unknown as Api, { password: PASSWORD }));
    const oursApp = await serving(ours, app(v1Flavour.api, { password: PASSWORD, store }));
    const [expected, actual] = [await new Client(h3App.url).request('/'), await new Client(oursApp.url).request('/')];
    expect(expected.body).toBe('streaming;threw');
    expect(actual.body).toBe(expected.body);
    expect([store.calls.set, store.size]).toEqual([0, 0]);
  });
});

describe.each(pairs)('$flavour.name: signing out while the store fails', ({ flavour, real, h3Api }) => {
  const ours = (handler: Handler) => flavour.serve(({ event, url }) => handler(event, url));
  const app = (api: Api, config: SessionConfig, failing: () => void) => async (event: unknown, url: URL) => {
    const e = event as never;
    const session = await api.useSession(e, config);
    if (url.pathname === '/clear') {
      failing();
      await session.clear();
    } else if (url.pathname === '/clearSession') {
      failing();
      await api.clearSession(e, config);
    } else await session.update({ user: 'ada' });
    return 'ok';
  };

  it('clear and clearSession delete the cookie all the same, as h3 always does, answering 503 rather than 2xx', async () => {
    const store = inspectableStore(fakeClock());
    const h3Browser = new Client(
      (
        await serving(
          real,
          app(h3Api, { password: PASSWORD }, () => {}),
        )
      ).url,
    );
    const ourBrowser = new Client(
      (
        await serving(
          ours,
          app(flavour.api, { password: PASSWORD, store }, () => store.failing.add('destroy')),
        )
      ).url,
    );
    // h3 v1 logs an error that answers 5xx: each must be the store failure.
    const logged: unknown[] = [];
    const spy = vi
      .spyOn(console, 'error')
      .mockImplementation((...args: unknown[]) => void logged.push(args.find((arg) => arg instanceof Error)));
    onTestFinished(() => spy.mockRestore());
    for (const path of ['/clear', '/clearSession']) {
      store.failing.clear();
      await h3Browser.request('/');
      await ourBrowser.request('/');
      const [expected, actual] = [await h3Browser.request(path), await ourBrowser.request(path)];
      expect([expected.status, cookiesNamed(expected, 'h3')], path).toEqual([200, [expect.stringMatching(/^h3=;/)]]);
      expect([actual.status, cookiesNamed(actual, 'h3')], path).toEqual([503, [expect.stringMatching(/^h3=; Max-Age=0; Path=\/;/)]]);
      // The browser signed out holds no session cookie (h3 v1 leaves an empty one).
      expect([h3Browser.jar.get('h3') ?? '', ourBrowser.jar.has('h3')], path).toEqual(['', false]);
    }
    expect(
      logged.map((error) => (error as Error | undefined)?.message).filter((message) => message !== 'Session store unavailable'),
    ).toEqual([]);
  });
});
