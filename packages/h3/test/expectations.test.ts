/**
 * What users expect of the session around h3's own ways of answering, on both majors: redirects
 * after a sign-in or sign-out, 4xx, 204, 304, HEAD, mounted apps, the app's `onError` reading
 * the session after a failed store read, and clients that leave while the commit waits on the store.
 */
import { H3, HTTPError, handleCacheHeaders, noContent, readBody, redirect, toNodeHandler } from 'h3';
import type { H3Event } from 'h3';
import * as h3v1 from 'h3v1';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, escapesWatched, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import type { InspectableStore, Served } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';
import * as v1 from '../src/v1.js';
import { holdWrites } from './held-writes.js';
import { captureFrameworkLogs } from './logs.js';

const servers = closedAfterEach();
const escaped = escapesWatched();

/** One app per major with the same routes: `/login` stores `n: 1`, `/n` reads it, `/x/...` as named. */
type Start = (onError?: (event: never) => Promise<void>) => Promise<{ client: Client; store: InspectableStore; served: Served }>;

const v2: Start = async (onError) => {
  const store = inspectableStore(fakeClock());
  const app = new H3({ silent: true, onError: async (_, event) => onError?.(event as never) });
  app.use(session({ secret: SECRET, store }));
  const n = async (event: H3Event) => (await useSession(event)).data;
  app.get('/login', async (event) => String(((await n(event)).n = 1)));
  app.get('/n', async (event) => String((await n(event)).n));
  app.get('/x/regenerate', async (event) => (await (await useSession(event)).regenerate(), redirect('/n')));
  app.get('/x/destroy', async (event) => (await (await useSession(event)).destroy(), redirect('/n')));
  app.get('/x/422', async (event) => {
    (await n(event)).n = 2;
    throw new HTTPError({ status: 422 });
  });
  app.post('/x/json', async (event) => {
    (await n(event)).n = 3;
    return readBody(event);
  });
  app.get('/x/204', async (event) => (((await n(event)).n = 4), noContent()));
  app.get('/x/cached', async (event) => {
    (await n(event)).n = 5;
    return handleCacheHeaders(event, { etag: '"v1"' }) ? null : 'fresh';
  });
  const sub = new H3();
  sub.get('/n', async (event) => String(((await n(event)).n = 6)));
  app.mount('/x/mounted', sub);
  const served = await listen(toNodeHandler(app));
  servers.push(served);
  return { client: new Client(served.url), store, served };
};

const v1App: Start = async (onError) => {
  const { eventHandler, sendRedirect } = h3v1;
  const store = inspectableStore(fakeClock());
  const app = h3v1.createApp({ onError: async (_, event) => onError?.(event as never) });
  app.use(v1.session({ secret: SECRET, store }));
  const n = async (event: h3v1.H3Event) => (await v1.useSession(event)).data;
  const router = h3v1.createRouter();
  // Any method, HEAD included: h3 v1's router matches HEAD only where it is named.
  router.use(
    '/login',
    eventHandler(async (event) => String(((await n(event)).n = 1))),
  );
  router.get(
    '/n',
    eventHandler(async (event) => String((await n(event)).n)),
  );
  router.get(
    '/x/regenerate',
    eventHandler(async (event) => (await (await v1.useSession(event)).regenerate(), sendRedirect(event, '/n'))),
  );
  router.get(
    '/x/destroy',
    eventHandler(async (event) => (await (await v1.useSession(event)).destroy(), sendRedirect(event, '/n'))),
  );
  router.get(
    '/x/422',
    eventHandler(async (event) => {
      (await n(event)).n = 2;
      throw h3v1.createError({ statusCode: 422 });
    }),
  );
  router.post(
    '/x/json',
    eventHandler(async (event) => {
      (await n(event)).n = 3;
      return h3v1.readBody(event);
    }),
  );
  router.get(
    '/x/204',
    eventHandler(async (event) => (((await n(event)).n = 4), h3v1.sendNoContent(event))),
  );
  router.get(
    '/x/cached',
    eventHandler(async (event) => {
      (await n(event)).n = 5;
      return h3v1.handleCacheHeaders(event, { etag: '"v1"' }) ? null : 'fresh';
    }),
  );
  const sub = h3v1.createRouter();
  sub.get(
    '/n',
    eventHandler(async (event) => String(((await n(event)).n = 6))),
  );
  router.get('/x/mounted/**', h3v1.useBase('/x/mounted', sub.handler));
  app.use(router);
  const served = await listen(h3v1.toNodeListener(app));
  servers.push(served);
  return { client: new Client(served.url), store, served };
};

describe.each([
  ['h3 v2', v2],
  ['h3 v1', v1App],
] as const)('%s', (_, start) => {
  it('a redirect right after regenerate() carries the new id, and after destroy() the deletion', async () => {
    const { client, store } = await start();
    await client.request('/login');
    const before = client.jar.get('sid');
    const regenerated = await client.request('/x/regenerate');
    expect([regenerated.status, cookiesNamed(regenerated, 'sid')]).toEqual([302, [expect.stringMatching(/^sid=[^;]/)]]);
    expect(client.jar.get('sid')).not.toBe(before);
    expect([(await client.request('/n')).body, store.size]).toEqual(['1', 1]);
    const destroyed = await client.request('/x/destroy');
    expect([destroyed.status, cookiesNamed(destroyed, 'sid')]).toEqual([302, [expect.stringMatching(/^sid=; Max-Age=0;/)]]);
    expect([client.jar.has('sid'), store.size]).toEqual([false, 0]);
  });

  it('a 4xx after a change saves it, whether thrown or from a body that is not JSON; a 204 and a 304 carry a new cookie; so does a mounted app', async () => {
    const { client } = await start();
    const answers: unknown[] = [];
    const requests: Array<[string, RequestInit?]> = [
      ['/x/422'],
      ['/x/json', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' }],
      ['/x/204'],
      ['/x/cached', { headers: { 'if-none-match': '"v1"' } }],
      ['/x/mounted/n'],
    ];
    for (const [path, init] of requests) {
      client.jar.clear();
      const reply = await client.request(path, init);
      answers.push([path, reply.status, cookiesNamed(reply, 'sid').length, (await client.request('/n')).body]);
    }
    expect(answers).toEqual([
      ['/x/422', 422, 1, '2'],
      ['/x/json', 400, 1, '3'],
      ['/x/204', 204, 1, '4'],
      ['/x/cached', 304, 1, '5'],
      ['/x/mounted/n', 200, 1, '6'],
    ]);
  });

  it('a HEAD request that writes the session gets its cookie', async () => {
    const { client, store } = await start();
    const reply = await client.request('/login', { method: 'HEAD' });
    expect([reply.status, cookiesNamed(reply, 'sid').length, store.size]).toEqual([200, 1, 1]);
  });

  it("the app's onError reads the session after a failed store read as an empty one: the 503 goes out, nothing escapes", async () => {
    const read: unknown[] = [];
    const { client, store, served } = await start(async (event) => {
      // As an app writes it: a throw here would replace the 503 (v2) or leave the request hanging (v1).
      read.push({ ...(await (start === v2 ? useSession(event) : v1.useSession(event))).data });
    });
    await client.request('/login');
    store.failing.add('get');
    const logs = captureFrameworkLogs();
    const reply = await client.request('/n', { signal: AbortSignal.timeout(3_000) });
    await served.idle();
    logs.stop();
    expect([reply.status, read, escaped]).toEqual([503, [{}], []]);
  });
});

describe.each([
  ['h3 v2', v2],
  ['h3 v1', v1App],
] as const)('%s: a client that leaves while the commit waits on a slow store', (_, start) => {
  it.each([
    ['succeeds', true],
    ['fails', false],
  ])('when the write then %s: no crash, no unhandled rejection, and the server goes on serving', async (_, succeeds) => {
    const { client, store, served } = await start();
    const { written, open, restore } = holdWrites(store, !succeeds);
    const leaving = new AbortController();
    const reply = fetch(`${served.url}/login`, { signal: leaving.signal }).catch((error: Error) => error.name);
    await written;
    leaving.abort();
    expect(await reply).toBe('AbortError');
    const logs = captureFrameworkLogs();
    open();
    await served.idle();
    logs.stop();
    expect([store.size, escaped]).toEqual([succeeds ? 1 : 0, []]);
    restore();
    expect((await client.request('/login')).status).toBe(200);
  });
});

it("h3 v2: a change in the app's onResponse hook, after the commit, is dropped and heard as lateChange; h3 v1's onBeforeResponse comes before it and is saved", async () => {
  const store = inspectableStore(fakeClock());
  const events: string[] = [];
  const onEvent = (event: { type: string }) => void events.push(event.type);
  const app = new H3({ silent: true, onResponse: async (_, event) => void ((await useSession(event)).data.n = 2) });
  app.use(session({ secret: SECRET, store, onEvent }));
  app.get('/', async (event) => String(((await useSession(event)).data.n = 1)));
  const old = h3v1.createApp({ onBeforeResponse: async (event) => void ((await v1.useSession(event)).data.n = 2) });
  old.use(v1.session({ secret: SECRET, store, onEvent }));
  old.use(h3v1.eventHandler(async (event) => String(((await v1.useSession(event)).data.n = 1))));
  const stored: unknown[] = [];
  for (const listener of [toNodeHandler(app), h3v1.toNodeListener(old)]) {
    const served = await listen(listener);
    servers.push(served);
    const client = new Client(served.url);
    expect((await client.request('/')).body).toBe('1');
    stored.push((await store.peek(client.jar.get('sid')?.split('.')[0] as string))?.data);
  }
  expect(stored).toEqual([{ n: 1 }, { n: 2 }]);
  expect(events).toEqual(['created', 'lateChange', 'created']);
});
