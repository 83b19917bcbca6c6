/** session() together with Hono's own middleware that rewrite or replay responses, over real HTTP on node-server 1 and 2. */
import { getRequestListener } from '@hono/node-server';
import { getRequestListener as getRequestListenerV1 } from 'hono-node-server1';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';
import { etag } from 'hono/etag';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { SessionEnv } from '../src/index.js';
import { quietErrors } from './routes.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}

const SECRET = 'hono-adapter-test-secret-of-at-least-32-bytes!';
const servers = closedAfterEach();

/** An app with `around` mounted ahead of session() or behind it. */
function appWith(around: MiddlewareHandler, ahead: boolean) {
  const store = inspectableStore(fakeClock());
  const app = new Hono<SessionEnv>();
  app.onError(quietErrors);
  if (ahead) app.use(around);
  app.use(session({ secret: SECRET, store }));
  if (!ahead) app.use(around);
  return { app, store };
}

const bump = async (c: Context<SessionEnv>) => {
  const s = await c.get('session').load();
  s.data.n = (s.data.n ?? 0) + 1;
  return s.data.n;
};

describe.each([
  ['node-server 2', getRequestListener],
  ['node-server 1', getRequestListenerV1],
])('on %s', (_name, requestListener) => {
  async function serve(app: Hono<SessionEnv>) {
    const served = await listen(requestListener(app.fetch));
    servers.push(served);
    return { client: new Client(served.url), url: served.url };
  }

  it('etag() behind session(): a 304 saves the change and carries a new id’s cookie (a sign-in)', async () => {
    const { app, store } = appWith(etag(), false);
    app.get('/count', async (c) => (await bump(c), c.text('same body')));
    app.get('/sign-in', async (c) => {
      await c.get('session').load();
      await c.get('session').regenerate();
      return c.text('same body');
    });
    const { client } = await serve(app);
    const first = await client.request('/count');
    const conditional = { headers: { 'if-none-match': first.headers.get('etag') as string } };
    const unchanged = await client.request('/count', conditional);
    expect([unchanged.status, unchanged.setCookies]).toEqual([304, []]);
    expect((await store.peek(client.jar.get('sid')?.split('.')[0] as string))?.data).toEqual({ n: 2 });
    const signedIn = await client.request('/sign-in', conditional);
    expect([signedIn.status, cookiesNamed(signedIn, 'sid').length]).toEqual([304, 1]);
    expect((await store.peek(client.jar.get('sid')?.split('.')[0] as string))?.data).toEqual({ n: 2 });
  });

  it('compress() ahead of or behind session(): the gzipped answer carries the cookie; a failed write cancels the producer through the gzip stream', async () => {
    for (const ahead of [true, false]) {
      const { app, store } = appWith(compress({ threshold: 0 }), ahead);
      let cancelled: () => void = () => undefined;
      const producerCancelled = new Promise<void>((resolve) => (cancelled = resolve));
      app.get('/', async (c) => {
        const n = await bump(c);
        // Endless, as a live feed is: only a cancel ends it.
        const body = new ReadableStream<Uint8Array>({
          start: (controller) => controller.enqueue(new TextEncoder().encode(`n=${n};`)),
          pull: (controller) => (n > 1 ? controller.enqueue(new Uint8Array(16 * 1024)) : controller.close()),
          cancel: cancelled,
        });
        return c.body(body, 200, { 'content-type': 'text/plain' });
      });
      const { client } = await serve(app);
      const reply = await client.request('/', { headers: { 'accept-encoding': 'gzip' } });
      // fetch decodes the gzip; the header says it was sent so.
      expect([reply.status, reply.body, reply.headers.get('content-encoding')]).toEqual([200, 'n=1;', 'gzip']);
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      store.failing.add('set');
      const failed = await client.request('/', { headers: { 'accept-encoding': 'gzip' } });
      expect([failed.status, failed.body]).toEqual([503, 'Session store unavailable']);
      await producerCancelled;
    }
  });

  describe('cache() on a Cache API', () => {
    /** The Cache API node lacks, as Workers and Deno have it: one cache, keyed by URL. */
    function withCaches(run: () => Promise<void>) {
      return async () => {
        const entries = new Map<string, Response>();
        const global = globalThis as { caches?: unknown };
        global.caches = {
          open: async () => ({
            match: async (key: string) => entries.get(key)?.clone(),
            put: async (key: string, response: Response) => void entries.set(key, response),
          }),
        };
        try {
          await run();
        } finally {
          delete global.caches;
        }
      };
    }

    it(
      'never replays one visitor’s Set-Cookie to another, ahead of session() or behind it; ahead, it caches no page that used the session',
      withCaches(async () => {
        const { cache } = await import('hono/cache');
        for (const ahead of [true, false]) {
          const { app } = appWith(cache({ cacheName: 'pages', wait: true }), ahead);
          app.get('/count', async (c) => c.text(`n=${await bump(c)}`));
          app.get('/read', async (c) => c.text(`n=${(await c.get('session').load()).data.n}`));
          const { client: ada, url } = await serve(app);
          const bob = new Client(url);
          await ada.request('/count');
          const bobs = [await bob.request('/count'), await bob.request('/count')];
          expect(bobs.flatMap((reply) => reply.setCookies).filter((line) => line.includes(ada.jar.get('sid') as string))).toEqual([]);
          if (ahead) {
            // The session's Set-Cookie, Vary: Cookie and Cache-Control: private keep these pages out of the cache.
            expect(bobs.map((reply) => `${reply.body} ${cookiesNamed(reply, 'sid').length}`)).toEqual(['n=1 1', 'n=2 0']);
            expect([(await ada.request('/read')).body, (await bob.request('/read')).body]).toEqual(['n=1', 'n=2']);
          }
        }
      }),
    );
  });
});
