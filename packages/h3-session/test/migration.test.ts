/**
 * Moving from h3's own sessions: a real h3 app (v2 and v1) using h3's `useSession` seals
 * sessions into cookies; the same browser then talks to an app on `@sess/h3-session` with the
 * same password. The session keeps its id, createdAt and data; iron runs once however many
 * requests carry the old cookie at once; afterwards the cookie is sess's signed id.
 *
 * iron's cost is counted where it is paid: PBKDF2 runs through WebCrypto's `deriveBits`, which
 * nothing else in these apps calls (sess signs with node:crypto's HMAC).
 */
import { randomUUID } from 'node:crypto';
import { H3, toNodeHandler, getSession as h3GetSession, useSession as h3UseSession } from 'h3';
import type { SessionConfig as H3Config } from 'h3';
import { createApp, eventHandler, getSession as v1GetSession, toNodeListener, useSession as v1UseSession } from 'h3v1';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen } from '@sess/adapter-test';
import type { InspectableStore, Served } from '@sess/adapter-test';
import type { Store } from '@sess/core';
import { redisStore } from '@sess/store-redis';
import type { SessionConfig } from '../src/index.js';
import type { H3V1Event } from '../src/v1.js';
import { PASSWORD, SIGNED_VALUE, v1Flavour, v2Flavour } from './apps.js';
import type { Flavour } from './apps.js';

type Body = { id: string; createdAt: number; data: Record<string, unknown> };

/** An app on h3's own sessions: `/set?json=...` updates the session; every route answers it. */
type OldApp = (config: H3Config) => Promise<Served>;

const oldV2: OldApp = (config) =>
  listen(
    toNodeHandler(
      new H3({ silent: true }).all('/**', async (event) => {
        const session = await h3UseSession(event, config);
        if (event.url.pathname === '/set') await session.update(JSON.parse(event.url.searchParams.get('json') as string));
        return { id: session.id, createdAt: (await h3GetSession(event, config)).createdAt, data: session.data };
      }),
    ),
  );

const oldV1: OldApp = (config) =>
  listen(
    toNodeListener(
      createApp().use(
        eventHandler(async (event) => {
          const session = await v1UseSession(event, config);
          const url = new URL(event.path, 'http://localhost');
          if (url.pathname === '/set') await session.update(JSON.parse(url.searchParams.get('json') as string));
          return { id: session.id, createdAt: (await v1GetSession(event, config)).createdAt, data: session.data };
        }),
      ),
    ),
  );

const servers = closedAfterEach();

/** The app on @sess/h3-session: every route answers the session. */
async function newApp(flavour: Flavour, config: SessionConfig | (() => SessionConfig)): Promise<Served> {
  const served = await flavour.serve(async ({ event }) => {
    const session = await flavour.api.useSession(event, typeof config === 'function' ? config() : config);
    const { createdAt } = await flavour.api.getSession(event, typeof config === 'function' ? config() : config);
    return { id: session.id, createdAt, data: session.data };
  });
  servers.push(served);
  return served;
}

async function oldSession(old: OldApp, config: H3Config, data: Record<string, unknown>): Promise<{ client: Client; body: Body }> {
  const served = await old(config);
  servers.push(served);
  const client = new Client(served.url);
  const reply = await client.request(`/set?json=${encodeURIComponent(JSON.stringify(data))}`);
  // h3 v2 splits a long seal over chunk cookies, the first naming how many.
  expect(client.jar.get(config.name ?? 'h3')).toMatch(/^(Fe26\.2\*|__chunked__\d+$)/);
  return { client, body: JSON.parse(reply.body) as Body };
}

/** The same browser (cookie jar), now talking to `served`. */
function sameBrowser(client: Client, served: Served): Client {
  const next = new Client(served.url);
  for (const [name, value] of client.jar) next.jar.set(name, value);
  return next;
}

/** How many PBKDF2 derivations `work` made: iron's cost. */
async function ironCost(work: () => Promise<unknown>): Promise<number> {
  const derive = vi.spyOn(globalThis.crypto.subtle, 'deriveBits');
  try {
    await work();
    return derive.mock.calls.length;
  } finally {
    derive.mockRestore();
  }
}

/** Sends `count` requests at once, each with the Cookie header `cookie`. */
async function parallel(served: Served, cookie: string, count: number) {
  const replies = await Promise.all(Array.from({ length: count }, () => fetch(`${served.url}/`, { headers: { cookie } })));
  return Promise.all(
    replies.map(async (reply) => ({ body: (await reply.json()) as Body, setCookies: reply.headers.getSetCookie(), status: reply.status })),
  );
}

/** A bare event of `flavour`'s major, for calling `unsealSession` outside a request. */
const bareEvent = (flavour: Flavour) =>
  (flavour === v2Flavour ? { req: new Request('http://localhost/') } : { headers: new Headers(), context: {} }) as never;

afterEach(() => void vi.useRealTimers());

/** h3's own getSession of each major, as an app mixing it with ours calls it. */
type H3GetSession = (event: never, config: H3Config) => Promise<{ id: string; data: Record<string, unknown> }>;

const pairs = [
  { name: 'h3 v2 to @sess/h3-session', old: oldV2, flavour: v2Flavour, h3Get: h3GetSession as unknown as H3GetSession },
  { name: 'h3 v1 to @sess/h3-session/v1', old: oldV1, flavour: v1Flavour, h3Get: v1GetSession as unknown as H3GetSession },
] as const;

/** Collects the process's unhandled rejections while `work` runs: any one would end a Node server by default. */
async function unhandledDuring(work: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const record = (reason: unknown) => void unhandled.push(reason);
  process.on('unhandledRejection', record);
  try {
    await work();
  } finally {
    process.off('unhandledRejection', record);
  }
  return unhandled;
}

describe.each(pairs)('$name', ({ old, flavour, h3Get }) => {
  const setup = (extra: Partial<H3Config> = {}) => {
    const store = inspectableStore(fakeClock());
    const oldConfig: H3Config = { password: PASSWORD, ...extra };
    return { store, oldConfig, config: { ...oldConfig, store } as SessionConfig };
  };

  it('the session h3 sealed keeps its id, createdAt and data, and its cookie becomes a signed id', async () => {
    const { store, oldConfig, config } = setup();
    const { client, body } = await oldSession(old, oldConfig, { user: 'ada', visits: 2, nested: { deep: [1, 2] } });
    const browser = sameBrowser(client, await newApp(flavour, config));
    const moved = await browser.request('/');
    expect(JSON.parse(moved.body)).toEqual(body);
    expect(cookiesNamed(moved, 'h3')).toHaveLength(1);
    const signed = browser.jar.get('h3') as string;
    expect(signed).toMatch(SIGNED_VALUE);
    expect((await store.peek(signed.split('.')[0] as string))?.data).toEqual(body);
    const writes = store.calls.set;
    const again = await ironCost(async () => {
      const next = await browser.request('/');
      expect(JSON.parse(next.body)).toEqual(body);
      expect(next.setCookies).toEqual([]);
    });
    expect(again).toBe(0);
    expect(store.calls.set).toBe(writes);
  });

  it('eight requests at once carrying the old cookie run iron once, make one session, and each gets the same signed cookie', async () => {
    const { store, oldConfig, config } = setup();
    const { client, body } = await oldSession(old, oldConfig, { user: 'grace' });
    const sealed = client.jar.get('h3') as string;
    const oneOpen = await ironCost(() => flavour.api.unsealSession(bareEvent(flavour), config, sealed));
    expect(oneOpen).toBeGreaterThanOrEqual(2);
    const served = await newApp(flavour, config);
    let replies: Awaited<ReturnType<typeof parallel>> = [];
    const cost = await ironCost(async () => void (replies = await parallel(served, `h3=${sealed}`, 8)));
    expect(cost).toBe(oneOpen);
    expect(store.calls.set).toBe(1);
    expect(store.size).toBe(1);
    const values = new Set<string>();
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual(body);
      const [line] = reply.setCookies;
      const value = line?.slice('h3='.length, line.indexOf(';'));
      expect(value).toMatch(SIGNED_VALUE);
      values.add(value as string);
    }
    expect(values.size).toBe(1);
    // A straggler still sending the old cookie later reaches the same session, with no iron.
    expect(await ironCost(async () => expect((await parallel(served, `h3=${sealed}`, 1))[0]?.body).toEqual(body))).toBe(0);
    expect(store.size).toBe(1);
  });

  it('configs written inline, a new object per request, still open a seal once', async () => {
    const store = inspectableStore(fakeClock());
    const { client, body } = await oldSession(old, { password: PASSWORD }, { n: 1 });
    const sealed = client.jar.get('h3') as string;
    const served = await newApp(flavour, () => ({ password: PASSWORD, store }));
    const oneOpen = await ironCost(() => flavour.api.unsealSession(bareEvent(flavour), { password: PASSWORD, store }, sealed));
    let replies: Awaited<ReturnType<typeof parallel>> = [];
    expect(await ironCost(async () => void (replies = await parallel(served, `h3=${sealed}`, 4)))).toBe(oneOpen);
    expect(replies.map((reply) => reply.body)).toEqual([body, body, body, body]);
    expect(store.size).toBe(1);
  });

  it('configs written inline with a new generateId each time still open a seal once, into one session', async () => {
    const store = inspectableStore(fakeClock());
    const { client, body } = await oldSession(old, { password: PASSWORD }, { n: 1 });
    const sealed = client.jar.get('h3') as string;
    const inline = (): SessionConfig => ({ password: PASSWORD, store, cookie: { sameSite: 'lax' }, generateId: () => randomUUID() });
    const served = await newApp(flavour, inline);
    const oneOpen = await ironCost(() => flavour.api.unsealSession(bareEvent(flavour), inline(), sealed));
    let replies: Awaited<ReturnType<typeof parallel>> = [];
    expect(await ironCost(async () => void (replies = await parallel(served, `h3=${sealed}`, 4)))).toBe(oneOpen);
    expect(replies.map((reply) => reply.body)).toEqual([body, body, body, body]);
    expect(store.size).toBe(1);
  });

  it('maxAge still counts from the createdAt h3 gave the session', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const start = Date.UTC(2026, 5, 1, 12, 0, 0);
    vi.setSystemTime(start);
    const { oldConfig, config } = setup({ maxAge: 3600 });
    const { client, body } = await oldSession(old, oldConfig, { n: 1 });
    expect(body.createdAt).toBe(start);
    vi.setSystemTime(start + 600_000);
    const browser = sameBrowser(client, await newApp(flavour, config));
    const moved = await browser.request('/');
    expect(JSON.parse(moved.body)).toEqual(body);
    expect(cookiesNamed(moved, 'h3')[0]).toContain(`Max-Age=3000; Path=/; Expires=${new Date(start + 3_600_000).toUTCString()}`);
    vi.setSystemTime(start + 3_601_000);
    expect(JSON.parse((await browser.request('/')).body).id).not.toBe(body.id);
  });

  it('a seal that does not open (another password) starts a new session, as h3 does, without a second iron run for its twins', async () => {
    const { oldConfig } = setup();
    const { client } = await oldSession(old, oldConfig, { n: 1 });
    const sealed = client.jar.get('h3') as string;
    const other = { password: `${PASSWORD}-rotated`, store: inspectableStore(fakeClock()) };
    const oneOpen = await ironCost(() => flavour.api.unsealSession(bareEvent(flavour), other, sealed).catch(() => undefined));
    const served = await newApp(flavour, other);
    let replies: Awaited<ReturnType<typeof parallel>> = [];
    expect(await ironCost(async () => void (replies = await parallel(served, `h3=${sealed}`, 3)))).toBe(oneOpen);
    for (const reply of replies) {
      expect(reply.status).toBe(200);
      expect(reply.body.data).toEqual({});
      expect(reply.setCookies[0]?.slice('h3='.length, reply.setCookies[0].indexOf(';'))).toMatch(SIGNED_VALUE);
    }
  });

  it("an old seal on a request whose session h3's own getSession already read: a store failure rejects nothing unheard", async () => {
    const { store, oldConfig, config } = setup();
    const { client, body } = await oldSession(old, oldConfig, { user: 'ada' });
    const served = await flavour.serve(async ({ event, url }) => {
      // h3's own getSession puts the session (opened from the seal) on the context first.
      if (url.pathname === '/mixed') await h3Get(event as never, oldConfig);
      return (await flavour.api.getSession(event, config)).data;
    });
    servers.push(served);
    const browser = sameBrowser(client, served);
    store.failing.add('set');
    const unhandled = await unhandledDuring(async () => {
      const mixed = await browser.request('/mixed');
      expect([mixed.status, JSON.parse(mixed.body)]).toEqual([200, body.data]);
      // This request's move fails in turn (sharing any move still under way): once it has
      // answered, every earlier move has settled and any rejection nobody heard was reported.
      expect((await browser.request('/')).status).toBe(503);
    });
    expect(unhandled).toEqual([]);
    store.failing.clear();
    expect(JSON.parse((await browser.request('/')).body)).toEqual(body.data);
    expect(browser.jar.get('h3')).toMatch(SIGNED_VALUE);
  });

  it("an app that catches the 503 of a failed move and updates anyway keeps the seal's session and data, as h3 would", async () => {
    const { store, oldConfig, config } = setup();
    const { client, body } = await oldSession(old, oldConfig, { user: 'ada' });
    const served = await flavour.serve(async ({ event }) => {
      const failed = await flavour.api.useSession(event, config).then(
        () => false,
        (error: { status?: number; statusCode?: number }) => (error.status ?? error.statusCode) === 503,
      );
      // The store is back by the time the app tries again.
      store.failing.clear();
      const session = await flavour.api.updateSession(event, config, { added: true });
      return { failed, id: session.id, data: session.data };
    });
    servers.push(served);
    const browser = sameBrowser(client, served);
    store.failing.add('set');
    const reply = await browser.request('/');
    expect(JSON.parse(reply.body)).toEqual({ failed: true, id: body.id, data: { ...body.data, added: true } });
    expect(store.size).toBe(1);
    expect(JSON.parse((await browser.request('/')).body)).toEqual({ failed: false, id: body.id, data: { ...body.data, added: true } });
  });

  it('a named session moves under its own name', async () => {
    const { store, oldConfig, config } = setup({ name: 'app-session' });
    const { client, body } = await oldSession(old, oldConfig, { n: 2 });
    const browser = sameBrowser(client, await newApp(flavour, config));
    expect(JSON.parse((await browser.request('/')).body)).toEqual(body);
    expect(browser.jar.get('app-session')).toMatch(SIGNED_VALUE);
    expect(store.size).toBe(1);
  });
});

describe('h3 v2 to @sess/h3-session: chunked seals', () => {
  it('a seal h3 split over chunk cookies moves whole, and the chunk cookies are deleted', async () => {
    const store = inspectableStore(fakeClock());
    const token = 'x'.repeat(5000);
    const { client, body } = await oldSession(oldV2, { password: PASSWORD }, { token });
    expect([...client.jar.keys()].sort()).toEqual(['h3', 'h3.1', 'h3.2']);
    const browser = sameBrowser(client, await newApp(v2Flavour, { password: PASSWORD, store }));
    const moved = await browser.request('/');
    expect(JSON.parse(moved.body)).toEqual(body);
    expect(cookiesNamed(moved, 'h3.1')).toEqual([expect.stringMatching(/^h3\.1=; Max-Age=0; Path=\//)]);
    expect(cookiesNamed(moved, 'h3.2')).toEqual([expect.stringMatching(/^h3\.2=; Max-Age=0; Path=\//)]);
    expect([...browser.jar.keys()]).toEqual(['h3']);
    expect(browser.jar.get('h3')).toMatch(SIGNED_VALUE);
  });

  it('a chunk count past the 100 h3 reads names no chunk cookies: the response deletes none, as in h3', async () => {
    const served = await newApp(v2Flavour, { password: PASSWORD, store: inspectableStore(fakeClock()) });
    const reply = await fetch(served.url, { headers: { cookie: 'h3=__chunked__20000' }, signal: AbortSignal.timeout(3_000) });
    expect(reply.status).toBe(200);
    expect(reply.headers.getSetCookie()).toEqual([expect.stringMatching(/^h3=[^;]+\.[^;]+; /)]);
  });
});

describe('h3 v1 to @sess/h3-session/v1, on a stream', () => {
  it('a seal first read once the headers are sent still opens: the new cookie waits for a later response', async () => {
    const store = inspectableStore(fakeClock());
    const config: SessionConfig = { password: PASSWORD, store };
    const { client, body } = await oldSession(oldV1, { password: PASSWORD }, { user: 'ada' });
    const served = await v1Flavour.serve(async ({ event }) => {
      const { res } = (event as unknown as H3V1Event).node;
      res.writeHead(200, { 'content-type': 'application/json' });
      const outcome = await v1Flavour.api.getSession(event, config).then(
        ({ id, createdAt, data }) => ({ id, createdAt, data }),
        (error: Error) => ({ error: error.message }),
      );
      res.end(JSON.stringify(outcome));
    });
    servers.push(served);
    const browser = sameBrowser(client, served);
    for (let request = 0; request < 2; request++) {
      const reply = await browser.request('/');
      expect(JSON.parse(reply.body)).toEqual(body);
      expect(reply.setCookies).toEqual([]);
    }
    expect(store.size).toBe(1);
  });
});

describe('with Redis as the store', () => {
  const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  const prefix = `sess-h3-session-test:${randomUUID()}:`;
  let store: Store;
  const keys = async () => {
    const found: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) found.push(...batch);
    return found;
  };

  beforeAll(async () => {
    await redis.connect();
    store = redisStore({ client: redis, prefix });
  });
  afterAll(async () => {
    const left = await keys();
    if (left.length > 0) await redis.del(left);
    await redis.quit();
  });

  it.each(pairs)(
    '$name: the session moves into Redis, iron runs once for parallel requests, and the signed cookie reads it back',
    async ({ old, flavour }) => {
      const config: SessionConfig = { password: PASSWORD, store };
      const { client, body } = await oldSession(old, { password: PASSWORD }, { user: 'linus', roles: ['admin'] });
      const sealed = client.jar.get('h3') as string;
      const oneOpen = await ironCost(() => flavour.api.unsealSession(bareEvent(flavour), config, sealed));
      const served = await newApp(flavour, config);
      const before = (await keys()).length;
      let replies: Awaited<ReturnType<typeof parallel>> = [];
      expect(await ironCost(async () => void (replies = await parallel(served, `h3=${sealed}`, 6)))).toBe(oneOpen);
      expect((await keys()).length).toBe(before + 1);
      for (const reply of replies) expect(reply.body).toEqual(body);
      const signed = replies[0]?.setCookies[0]?.slice('h3='.length, replies[0].setCookies[0].indexOf(';')) as string;
      expect(signed).toMatch(SIGNED_VALUE);
      expect((await store.get(signed.split('.')[0] as string))?.data).toEqual(body);
      const browser = new Client(served.url);
      browser.jar.set('h3', signed);
      expect(await ironCost(async () => expect(JSON.parse((await browser.request('/')).body)).toEqual(body))).toBe(0);
    },
  );
});

// Keeps the type import honest: the inspectable store is a sess store.
export type { InspectableStore };
