/**
 * The session beside h3 v2's own features where they meet the commit: `onDispose` on a runtime
 * without Node's response (Bun, Deno, Workers: h3 answers through `app.fetch`), an error-catching
 * middleware mounted before the session's, and a Response made once at start-up.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { H3, HTTPError, html, noContent, onDispose, onError, redirect, toNodeHandler } from 'h3';
import type { H3Event } from 'h3';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import type { InspectableStore } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}

const servers = closedAfterEach();

/**
 * Serves `app` over real HTTP the way a runtime without Node's response does: each request
 * reaches `app.fetch` as a plain `Request`, so h3 sees no `event.runtime.node`.
 */
function fetchListener(app: H3) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(name, value);
    const response = await app.fetch(new Request(`http://${req.headers.host}${req.url}`, { method: req.method ?? 'GET', headers }));
    res.writeHead(response.status, [...response.headers].flat());
    res.end(Buffer.from(await response.arrayBuffer()));
  };
}

async function start(listener: (app: H3) => (req: IncomingMessage, res: ServerResponse) => unknown, routes: (app: H3) => void) {
  const store = inspectableStore(fakeClock());
  const app = new H3({ silent: true });
  routes(app);
  const served = await listen((req, res) => void listener(app)(req, res));
  servers.push(served);
  return { store, url: served.url };
}

const sessionOf = (store: InspectableStore) => session({ secret: SECRET, store });
const writes = async (event: H3Event) => void ((await useSession(event)).data.n = 1);
const stored = async (store: InspectableStore, client: Client) => (await store.peek(client.jar.get('sid')?.split('.')[0] ?? ''))?.data;

describe.each([
  ['on a Node server', toNodeHandler],
  ['through app.fetch (Bun, Deno, Workers)', fetchListener],
] as const)('h3 v2 %s', (_, listener) => {
  it("a streamed Response returned after onDispose() carries the cookie and saves: h3's watch on the body is not the app's read of it", async () => {
    let store!: InspectableStore;
    const { url } = await start(listener, (app) => {
      store = inspectableStore(fakeClock());
      app.use(sessionOf(store));
      app.get('/', async (event) => {
        await writes(event);
        onDispose(event, () => undefined);
        return new Response(new Response('streamed').body);
      });
    });
    const client = new Client(url);
    const reply = await client.request('/');
    expect([reply.status, reply.body, cookiesNamed(reply, 'sid').length, await stored(store, client)]).toEqual([
      200,
      'streamed',
      1,
      { n: 1 },
    ]);
  });

  it('an error-catching middleware before the session that answers with a value, a redirect or a Response carries the cookie of the commit', async () => {
    let store!: InspectableStore;
    const { url } = await start(listener, (app) => {
      store = inspectableStore(fakeClock());
      app.use(
        onError((error, event) => {
          const kind = event.url.pathname.slice(1);
          if (kind === 'value') return { failed: error.status };
          if (kind === 'redirect') return redirect('/form');
          return new Response('failed', { status: kind === 'error-response' ? 422 : 200 });
        }),
      );
      app.use(sessionOf(store));
      app.get('/**', async (event) => {
        await writes(event);
        throw new HTTPError({ status: 422 });
      });
    });
    const answers: unknown[] = [];
    for (const kind of ['value', 'redirect', 'response', 'error-response']) {
      const client = new Client(url);
      const reply = await client.request(`/${kind}`);
      answers.push([kind, reply.status, cookiesNamed(reply, 'sid').length, await stored(store, client)]);
    }
    expect(answers).toEqual([
      ['value', 200, 1, { n: 1 }],
      ['redirect', 302, 1, { n: 1 }],
      ['response', 200, 1, { n: 1 }],
      ['error-response', 422, 1, { n: 1 }],
    ]);
  });

  it("h3's html(), noContent() and redirect() made once at start-up never carry one visitor's cookie to another", async () => {
    const made = { '/html': html`<p>hi</p>`, '/none': noContent(), '/go': redirect('/elsewhere') };
    const { url } = await start(listener, (app) => {
      app.use(sessionOf(inspectableStore(fakeClock())));
      app.get('/**', async (event) => (await writes(event), made[event.url.pathname as keyof typeof made]));
    });
    for (const path of Object.keys(made)) {
      const [first, second] = [await new Client(url).request(path), await new Client(url).request(path)];
      expect([cookiesNamed(first, 'sid').length, cookiesNamed(second, 'sid').length]).toEqual([1, 1]);
      expect(cookiesNamed(second, 'sid')).not.toEqual(cookiesNamed(first, 'sid'));
    }
  });
});
