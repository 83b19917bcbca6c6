/**
 * The same app on h3's own sessions and on this package, side by side over HTTP: where h3's
 * documented behaviour is what an app sees, ours must show it too.
 */
import type { ServerResponse } from 'node:http';
import * as h3 from 'h3';
import { H3, toNodeHandler, clearSession as h3ClearSession, onResponse } from 'h3';
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

/**
 * h3's own session checklist (its session tests, and what its users build on), run as one app on
 * h3's sessions and on ours: each step compares what the client sees. The clock is faked for
 * `Date` only, so both sides stamp the same `createdAt` and ids come from a counter per side.
 */
describe.each(pairs)('$flavour.name: what the client sees, step by step', ({ flavour, real, h3Api }) => {
  const ours = (handler: Handler) => flavour.serve(({ event, url }) => handler(event, url));
  const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);

  /** A Set-Cookie line as a browser acts on it: deleted, or kept until when (null: browser close), with which attributes. */
  const cookieSeen = (line: string) => {
    const [pair = '', ...parts] = line.split(';').map((part) => part.trim());
    const name = pair.slice(0, pair.indexOf('='));
    const value = pair.slice(pair.indexOf('=') + 1);
    const attrs = new Map(parts.map((part) => [part.split('=')[0]?.toLowerCase() ?? '', part.split('=').slice(1).join('=')] as const));
    const maxAge = attrs.get('max-age');
    const expires = attrs.get('expires');
    const until = maxAge !== undefined ? Date.now() + Number(maxAge) * 1000 : expires !== undefined ? Date.parse(expires) : null;
    const deleted = value === '' || (until !== null && until <= Date.now());
    // h3 v1 sends no SameSite by default and h3 reads `sameSite: false` as none: here it is Lax (README).
    if (!attrs.has('samesite')) attrs.set('samesite', 'Lax');
    const kept = [...attrs].filter(([key]) => key !== 'max-age' && key !== 'expires').map(([key, v]) => `${key}=${v.toLowerCase()}`);
    // A deletion reaches the browser's cookie only with its path and domain.
    const scope = { path: attrs.get('path'), domain: attrs.get('domain')?.toLowerCase() };
    return { name, ...(deleted ? { deleted, ...scope } : { until, attributes: kept.sort() }) };
  };

  type CookieSeen = ReturnType<typeof cookieSeen>;
  type Side = 'h3' | 'ours';
  type App = (api: Api, config: SessionConfig, event: never, url: URL) => Promise<unknown>;

  /** The app on both, and a step that sends the same request from each side's browser. */
  async function sideBySide(config: SessionConfig, app: App, seenAs: (cookie: CookieSeen) => CookieSeen = (cookie) => cookie) {
    const side = (api: Api, serve: typeof real, cfg: SessionConfig) => {
      let made = 0;
      const withIds = { ...cfg, generateId: () => `id-${++made}` };
      return serving(serve, (event, url) => app(api, withIds, event as never, url));
    };
    const h3Browser = new Client((await side(h3Api, real, config)).url);
    const ourBrowser = new Client((await side(flavour.api, ours, { ...config, store: inspectableStore(fakeClock()) })).url);
    const seen = (reply: Awaited<ReturnType<Client['request']>>) => ({
      status: reply.status,
      body: reply.headers.get('content-type')?.includes('json') ? JSON.parse(reply.body) : reply.body,
      cookies: reply.setCookies.map((line) => seenAs(cookieSeen(line))),
    });
    return async (path: string, init: (browser: Client, side: Side) => RequestInit = () => ({}), label = path) => {
      const expected = seen(await h3Browser.request(path, init(h3Browser, 'h3')));
      const actual = seen(await ourBrowser.request(path, init(ourBrowser, 'ours')));
      expect(actual, label).toEqual(expected);
      return expected;
    };
  }

  const set = (data: unknown) => `/?set=${encodeURIComponent(JSON.stringify(data))}`;

  const at = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(ms);
    onTestFinished(() => void vi.useRealTimers());
  };

  it("h3's own session test: a new session, the same one back, data set by an update, three useSession at once, clear", async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD, name: 'h3-test' }, async (api, config, event, url) => {
      if (url.pathname === '/concurrent') {
        const sessions = await Promise.all([1, 2, 3].map(() => api.useSession(event, config)));
        return sessions.map((s) => ({ id: s.id, data: s.data }));
      }
      const session = await api.useSession(event, config);
      if (url.pathname === '/clear') {
        await session.clear();
        return { id: session.id ?? null, data: session.data };
      }
      const set = url.searchParams.get('set');
      if (set !== null) await session.update(JSON.parse(set));
      const { createdAt } = await api.getSession(event, config);
      return { id: session.id, createdAt, data: session.data };
    });
    expect((await step('/')).body).toEqual({ id: 'id-1', createdAt: T0, data: {} });
    expect((await step('/')).cookies).toEqual([]);
    expect((await step(set({ foo: 'bar' }))).body.data).toEqual({ foo: 'bar' });
    expect((await step('/')).body).toEqual({ id: 'id-1', createdAt: T0, data: { foo: 'bar' } });
    expect((await step('/concurrent')).body).toEqual([1, 2, 3].map(() => ({ id: 'id-1', data: { foo: 'bar' } })));
    const fresh = (browser: Client) => (browser.jar.clear(), {});
    expect((await step('/concurrent', fresh)).cookies).toHaveLength(1);
    expect((await step('/concurrent')).body).toEqual([1, 2, 3].map(() => ({ id: 'id-2', data: {} })));
    expect((await step('/clear')).cookies).toEqual([{ name: 'h3-test', deleted: true, path: '/', domain: undefined }]);
    expect((await step('/')).body).toEqual({ id: 'id-3', createdAt: T0, data: {} });
  });

  it('getSession alone sets no cookie on h3 v2 (v1 writes a new session at once); an updateSession after it persists', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      const session = await api.getSession(event, config);
      if (url.pathname === '/login') await api.updateSession(event, config, { user: 'alice' });
      return { id: session.id, data: session.data };
    });
    await step('/peek');
    expect((await step('/login')).body.data).toEqual({ user: 'alice' });
    expect((await step('/peek')).body.data).toEqual({ user: 'alice' });
  });

  it('update with an object, a function returning changes, one changing the data in place, undefined values and JSON types', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      const session = await api.useSession(event, config);
      switch (url.pathname) {
        case '/object':
          await session.update({ user: 'ada', n: 1, nested: { list: [1, 'two', null] }, when: new Date(T0), gone: undefined });
          break;
        case '/function':
          await session.update((data: Record<string, unknown>) => ({ n: (data.n as number) + 1 }));
          break;
        case '/in-place':
          await session.update((data: Record<string, unknown>) => {
            delete data.user;
            (data.nested as { list: unknown[] }).list.push(3);
          });
          break;
        case '/unset':
          await session.update({ n: undefined });
          break;
        case '/none':
          await api.updateSession(event, config);
          break;
      }
      const { data } = session;
      return { keys: Object.keys(data).sort(), types: Object.values(data).map((v) => typeof v), data };
    });
    for (const path of ['/object', '/', '/function', '/', '/in-place', '/', '/unset', '/', '/none', '/']) await step(path);
    expect((await step('/')).body.data).toEqual({ nested: { list: [1, 'two', null, 3] }, when: new Date(T0).toISOString() });
  });

  it('the next request sees what JSON makes of the data, as from h3 seal: toJSON used, functions and symbols gone, NaN null', async () => {
    at(T0);
    const user = { name: 'ada', toJSON: () => ({ kind: 'user', name: 'ada' }) };
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/set') {
        await session.update({ fn: () => 1, sym: Symbol('x'), nan: Number.NaN, map: new Map([[1, 2]]), list: [undefined, () => 1], user });
      }
      return { keys: Object.keys(session.data).sort(), json: JSON.stringify(session.data) };
    });
    await step('/set');
    expect((await step('/')).body).toEqual({
      keys: ['list', 'map', 'nan', 'user'],
      json: JSON.stringify({ nan: null, map: {}, list: [null, null], user: { kind: 'user', name: 'ada' } }),
    });
  });

  it('maxAge: the cookie ends maxAge seconds after createdAt, updates do not extend it, and past it a new session starts', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD, maxAge: 60 }, async (api, config, event, url) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/set') await session.update({ n: 1 });
      return { id: session.id, data: session.data };
    });
    expect((await step('/')).cookies).toEqual([expect.objectContaining({ until: T0 + 60_000 })]);
    vi.setSystemTime(T0 + 45_000);
    expect((await step('/set')).cookies).toEqual([expect.objectContaining({ until: T0 + 60_000 })]);
    await step('/');
    vi.setSystemTime(T0 + 61_000);
    expect((await step('/')).body).toEqual({ id: 'id-2', data: {} });
  });

  it('cookie.maxAge with maxAge: the cookie lives cookie.maxAge from each update; the session still ends maxAge after createdAt', async () => {
    at(T0);
    // h3's cookie may outlive the session (its seal stops opening at maxAge); ours ends with it.
    const sessionEnd = (cookie: CookieSeen) =>
      'until' in cookie ? { ...cookie, until: Math.min(cookie.until as number, T0 + 60_000) } : cookie;
    const step = await sideBySide(
      { password: PASSWORD, maxAge: 60, cookie: { maxAge: 30 } },
      async (api, config, event, url) => {
        const session = await api.useSession(event, config);
        if (url.pathname === '/set') await session.update({ n: 1 });
        return { id: session.id, data: session.data };
      },
      sessionEnd,
    );
    await step('/');
    vi.setSystemTime(T0 + 20_000);
    await step('/set');
    vi.setSystemTime(T0 + 45_000);
    await step('/set');
    vi.setSystemTime(T0 + 61_000);
    expect((await step('/')).body.id).toBe('id-2');
  });

  it.each([
    { path: '/app', domain: 'example.test', sameSite: 'strict', secure: false, httpOnly: false, priority: 'high' },
    { sameSite: 'none', secure: true, partitioned: true },
    { sameSite: true, httpOnly: true },
  ] as const)('cookie options %o reach the cookie, and clear deletes it with the same path and domain', async (cookie) => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD, cookie: cookie as never }, async (api, config, event, url) => {
      if (url.pathname.endsWith('/clear')) await api.clearSession(event, config);
      else await api.useSession(event, config);
      return {};
    });
    expect((await step('/')).cookies).toHaveLength(1);
    const deletion = [expect.objectContaining({ name: 'h3', deleted: true, path: 'path' in cookie ? cookie.path : '/' })];
    expect((await step('/clear')).cookies).toEqual(deletion);
    // With no session to find, the deletion still carries the cookie's path and domain.
    expect((await step('/clear', (browser) => (browser.jar.clear(), {}))).cookies).toEqual(deletion);
  });

  it('sessionHeader: the value sealSession gives names the session in x-h3-session or a header of its own, before any cookie', async () => {
    at(T0);
    const token = new Map<Client, string>();
    for (const sessionHeader of [undefined, 'X-Session-Token']) {
      const header = (sessionHeader ?? 'x-h3-session').toLowerCase();
      const step = await sideBySide({ password: PASSWORD, ...(sessionHeader && { sessionHeader }) }, async (api, config, event, url) => {
        const session = await api.useSession(event, config);
        if (url.pathname === '/set') await session.update({ user: 'ada' });
        return {
          id: session.id,
          data: session.data,
          ...(url.pathname === '/token' && { token: (await api.sealSession(event, config)) !== '' }),
        };
      });
      await step('/set');
      await step('/token');
      const withToken = (browser: Client) => {
        const value = browser.jar.get('h3') as string;
        token.set(browser, value);
        browser.jar.clear();
        return { headers: { [header]: value } };
      };
      expect((await step('/', withToken)).body).toEqual({ id: 'id-1', data: { user: 'ada' } });
      // A header naming nothing wins over the cookie: a new session.
      const garbage = (browser: Client) => {
        browser.jar.set('h3', token.get(browser) as string);
        return { headers: { [header]: 'not-a-session' } };
      };
      expect((await step('/', garbage)).body).toEqual({ id: 'id-2', data: {} });
    }
  });

  it('a cookie that names no session starts a new one, whose cookie replaces it', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event) => ({ id: (await api.useSession(event, config)).id }));
    const foreign = (browser: Client) => {
      browser.jar.set('h3', 'Fe26.2**not-a-seal');
      return {};
    };
    expect((await step('/', foreign)).body).toEqual({ id: 'id-1' });
    expect((await step('/')).cookies).toEqual([]);
  });

  it('two cookies of the session name (another path left one): the first is read, as h3 reads it', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event) => ({ id: (await api.useSession(event, config)).id }));
    await step('/');
    const twice = (order: (own: string) => string) => (browser: Client) => {
      const own = browser.jar.get('h3') as string;
      browser.jar.clear();
      return { headers: { cookie: order(own) } };
    };
    expect(
      (
        await step(
          '/',
          twice((own) => `h3=${own}; h3=stale`),
        )
      ).body,
    ).toEqual({ id: 'id-1' });
    expect(
      (
        await step(
          '/',
          twice((own) => `h3=stale; h3=${own}`),
        )
      ).body,
    ).toEqual({ id: 'id-2' });
  });

  it('named sessions: each its own cookie, header and context entry', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      const a = await api.useSession(event, { ...config, name: 'A' });
      const b = await api.useSession(event, config);
      if (url.pathname === '/set') await a.update({ in: 'A' });
      const { sessions } = (event as { context: { sessions: Record<string, { id: string }> } }).context;
      return { a: [a.id, a.data], b: [b.id, b.data], context: Object.keys(sessions).sort() };
    });
    expect((await step('/set')).cookies.map((c) => c.name)).toEqual(['h3', 'A']);
    await step('/');
  });

  it.runIf(flavour.name === 'h3 v2')(
    'idleTimeout: a session in use slides past half its window, an idle one ends, maxAge bounds both',
    async () => {
      at(T0);
      for (const maxAge of [undefined, 150]) {
        const step = await sideBySide(
          { password: PASSWORD, idleTimeout: 60, ...(maxAge && { maxAge }) },
          async (api, config, event, url) => {
            const session = await api.useSession(event, config);
            if (url.pathname === '/set') await session.update({ n: 1 });
            return { id: session.id, data: session.data };
          },
        );
        for (const [seconds, path] of [
          [0, '/'],
          [20, '/'],
          [40, '/'],
          [50, '/set'],
          [105, '/'],
          [140, '/'],
          [171, '/'],
          [250, '/'],
        ] as const) {
          vi.setSystemTime(T0 + seconds * 1000);
          await step(path, undefined, `${path} at ${seconds}s, maxAge ${maxAge}`);
        }
      }
    },
  );

  it('a session the header brings is read without a cookie: none to slide it, none to delete one the browser holds', async () => {
    at(T0);
    // What sealSession gave each side's app: an h3 seal, or our signed id.
    const tokens = new Map<Side, string>();
    const config: SessionConfig = { password: PASSWORD, maxAge: 600, ...(flavour.name === 'h3 v2' && { idleTimeout: 60 }) };
    const step = await sideBySide(config, async (api, config, event, url) => {
      if (url.pathname === '/peek') return { id: (await api.getSession(event, config)).id };
      const session = await api.useSession(event, config);
      if (url.pathname === '/token') tokens.set(api === h3Api ? 'h3' : 'ours', await api.sealSession(event, config));
      return { id: session.id };
    });
    const byHeader = (_browser: Client, side: Side) => ({ headers: { 'x-h3-session': tokens.get(side) as string } });
    await step('/token');
    for (const seconds of [20, 40]) {
      vi.setSystemTime(T0 + seconds * 1000);
      // Past half the window (h3 v2): h3 re-sends the cookie only for a session the cookie brought.
      const headerOnly = (browser: Client, side: Side) => (browser.jar.clear(), byHeader(browser, side));
      expect((await step('/', headerOnly, `by header at ${seconds}s`)).body).toEqual({ id: 'id-1' });
    }
    // The token is out of time; the browser's own cookie names a live session.
    vi.setSystemTime(T0 + 700_000);
    expect((await step('/')).body).toEqual({ id: 'id-2' });
    await step('/peek', byHeader, 'a header naming a session that is gone');
    // h3 v1 writes the new session getSession starts: its cookie replaces the browser's.
    expect((await step('/')).body).toEqual({ id: flavour.name === 'h3 v2' ? 'id-2' : 'id-3' });
  });

  it("the app's own cookies and a redirect after an update: every cookie reaches the browser", async () => {
    at(T0);
    const helpers = h3Api as unknown as {
      setCookie(event: never, name: string, value: string): void;
      sendRedirect(event: never, location: string): unknown;
    };
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      helpers.setCookie(event, 'before', '1');
      const session = await api.useSession(event, config);
      helpers.setCookie(event, 'between', '1');
      await session.update({ user: 'ada' });
      helpers.setCookie(event, 'after', '1');
      if (url.pathname === '/login') return helpers.sendRedirect(event, '/home');
      await session.update({ again: true });
      return { data: session.data };
    });
    expect((await step('/login')).cookies.map((cookie) => cookie.name).sort()).toEqual(['after', 'before', 'between', 'h3']);
    expect((await step('/')).cookies.map((cookie) => cookie.name).sort()).toEqual(['after', 'before', 'between', 'h3']);
  });

  it('a handler that throws after an update: the error answer carries the cookie, and the update holds', async () => {
    at(T0);
    // h3 v1 logs the error the handler throws.
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    onTestFinished(() => spy.mockRestore());
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      const session = await api.useSession(event, config);
      if (url.pathname === '/fail') {
        await session.update({ user: 'ada' });
        throw new Error('after the update');
      }
      return { data: session.data };
    });
    const failed = await step('/fail');
    expect([failed.status, failed.cookies.map((cookie) => cookie.name)]).toEqual([500, ['h3']]);
    expect((await step('/')).body).toEqual({ data: { user: 'ada' } });
  });

  it('unsealSession opens what sealSession gave: the id, createdAt and data; a value that opens nothing throws', async () => {
    at(T0);
    const step = await sideBySide({ password: PASSWORD }, async (api, config, event, url) => {
      const session = await api.useSession(event, config);
      await session.update({ user: 'ada' });
      const value = url.pathname === '/bad' ? 'not-a-session' : await api.sealSession(event, config);
      return api.unsealSession(event, config, value).then(
        ({ id, createdAt, data }) => ({ id, createdAt, data }),
        () => ({ threw: true }),
      );
    });
    expect((await step('/')).body).toEqual({ id: 'id-1', createdAt: T0, data: { user: 'ada' } });
    expect((await step('/bad')).body).toEqual({ threw: true });
  });
});

describe('h3 v2: a seal of an older h3 (iron with 1 iteration)', () => {
  const legacy = {
    encryption: { saltBits: 256, algorithm: 'aes-256-cbc', iterations: 1, minPasswordlength: 32 },
    integrity: { saltBits: 256, algorithm: 'sha256', iterations: 1, minPasswordlength: 32 },
  };
  const sealOf = async (config: SessionConfig) => {
    let sealed = '';
    const app = await serving(realV2, async (event) => {
      const e = event as never;
      await h3.updateSession(e, { ...config, seal: { ...legacy, ttl: 0, timestampSkewSec: 60, localtimeOffsetMsec: 0 } } as never, {
        user: 'ada',
      });
      sealed = await h3.sealSession(e, { ...config, seal: { ...legacy, ttl: 0, timestampSkewSec: 60, localtimeOffsetMsec: 0 } } as never);
      return 'sealed';
    });
    await new Client(app.url).request('/');
    return sealed;
  };

  it.each([undefined, false])('opens with legacySealFallback %s as h3 does: the session kept, or a new one', async (legacySealFallback) => {
    const config: SessionConfig = { password: PASSWORD, ...(legacySealFallback === false && { legacySealFallback }) };
    const sealed = await sealOf({ password: PASSWORD });
    const app = (api: Api, cfg: SessionConfig) => async (event: unknown) => {
      const { id, data } = await api.useSession(event as never, cfg);
      return { id: id !== '' && id !== undefined, data };
    };
    const h3App = await serving(realV2, app(h3 as unknown as Api, config));
    const oursApp = await serving(
      (handler) => v2Flavour.serve(({ event, url }) => handler(event, url)),
      app(v2Flavour.api, { ...config, store: inspectableStore(fakeClock()) }),
    );
    const init = { headers: { cookie: `h3=${sealed}` } };
    const [expected, actual] = [await new Client(h3App.url).request('/', init), await new Client(oursApp.url).request('/', init)];
    expect(JSON.parse(expected.body)).toEqual({ id: true, data: legacySealFallback === false ? {} : { user: 'ada' } });
    expect(JSON.parse(actual.body)).toEqual(JSON.parse(expected.body));
  });
});

describe('h3 v2: the session manager in an onResponse middleware', () => {
  // The manager the handler made, used again once h3 has made the handler's answer: h3 has a new
  // `event.res` by then, and the middleware's answer is made from it.
  const app = (api: Api, config: SessionConfig) =>
    new H3({ silent: true })
      .use(
        onResponse(async (_response, event) => {
          const session = (event.context as { session?: Awaited<ReturnType<Api['useSession']>> }).session;
          if (event.url.pathname === '/sign-out') await session?.clear();
          if (event.url.pathname === '/restart') await (await session?.clear())?.update({ fresh: true });
        }),
      )
      .all('/**', async (event) => {
        const session = await api.useSession(event, config);
        Object.assign(event.context, { session });
        if (event.url.pathname === '/set') await session.update({ old: true });
        return { data: session.data };
      });

  it('clear and update there reach the browser, as in h3: they answer on the response h3 sends then', async () => {
    const config: SessionConfig = { password: PASSWORD };
    const browserOf = async (served: H3) => {
      const server = await listen(toNodeHandler(served));
      servers.push(server);
      return new Client(server.url);
    };
    const h3Browser = await browserOf(app(h3 as unknown as Api, config));
    const ourBrowser = await browserOf(app(v2Flavour.api, { ...config, store: inspectableStore(fakeClock()) }));
    const step = async (path: string) => [await h3Browser.request(path), await ourBrowser.request(path)] as const;
    await step('/set');
    const signedOut = await step('/sign-out');
    for (const reply of signedOut) expect(cookiesNamed(reply, 'h3')).toEqual([expect.stringMatching(/^h3=;/)]);
    await step('/set');
    const restarted = await step('/restart');
    for (const reply of restarted) expect(cookiesNamed(reply, 'h3')).toEqual([expect.stringMatching(/^h3=[^;]/)]);
    const [expected, actual] = await step('/');
    // h3 brings the cleared session's data back with the update (README: a session cleared is gone).
    expect(JSON.parse(expected.body)).toEqual({ data: { old: true, fresh: true } });
    expect(JSON.parse(actual.body)).toEqual({ data: { fresh: true } });
  });
});

describe.each(pairs)('$flavour.name: an id or createdAt the app assigns', ({ flavour, real, h3Api }) => {
  const ours = (handler: Handler) => flavour.serve(({ event, url }) => handler(event, url));
  const config: SessionConfig = { password: PASSWORD };

  // Sloppy-mode code, as CommonJS runs it: each assignment goes through without a word.
  it.each(['session.id = 42', 'session.createdAt = new Date()'])(
    '%s: h3 keeps the session; here the update fails loudly rather than store one no request can read',
    async (assignment) => {
      const assign = new Function('session', assignment) as (session: unknown) => void;
      const app = (api: Api, cfg: SessionConfig) => async (event: unknown, url: URL) => {
        const e = event as never;
        const session = await api.useSession(e, cfg);
        if (url.pathname === '/set') await session.update({ user: 'ada' });
        if (url.pathname !== '/assign') return { data: session.data };
        assign(await api.getSession(e, cfg));
        return api.updateSession(e, cfg, { assigned: true }).then(
          () => 'updated',
          (error: Error) => `refused: ${error.message}`,
        );
      };
      const h3Browser = new Client((await serving(real, app(h3Api, config))).url);
      const ourBrowser = new Client((await serving(ours, app(flavour.api, { ...config, store: inspectableStore(fakeClock()) }))).url);
      const step = async (path: string) => [(await h3Browser.request(path)).body, (await ourBrowser.request(path)).body] as const;
      await step('/set');
      const [expected, actual] = await step('/assign');
      expect(expected).toBe('updated');
      expect(actual).toMatch(/^refused: .*(id must be a non-empty string|createdAt must be a number)/);
      const [h3Next, ourNext] = await step('/');
      expect(JSON.parse(h3Next)).toEqual({ data: { user: 'ada', assigned: true } });
      // The session as last written, not a new, empty one.
      expect(JSON.parse(ourNext)).toEqual({ data: { user: 'ada' } });
    },
  );
});
