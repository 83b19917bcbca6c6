/**
 * Redis goes away and comes back. A private redis-server is killed (SIGKILL), frozen (SIGSTOP)
 * and restarted on the same port. With the clients' default settings (offline queue on) the
 * store's own fail-fast and timeout are what is tested; with the README's recommended settings,
 * that they work too. The same client object must recover by itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshId, makeRecord } from '@sess/store-test';
import { RedisStoreError, redisStore } from '../src/index.js';
import { LIBRARIES, connectUrl, describeOn } from './connect.js';
import { freePort, startServer, waitFor, type RedisServer } from './servers.js';
import { Browser, startApp } from './http.js';

const TIMEOUT_MS = 2_000;

describeOn('binaries', 'outages of a private server', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sess-redis-outage-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const CASES = LIBRARIES.flatMap((library) => [
    { library, recommended: false, settings: 'default settings' },
    { library, recommended: true, settings: 'recommended settings (no offline queue)' },
  ]);

  describe.each(CASES)('outage with $library, $settings', ({ library, recommended }) => {
    // A server per test, so a test that fails with Redis down or frozen cannot fail the next one.
    let server: RedisServer;
    let port: number;
    beforeEach(async () => {
      port = await freePort();
      server = await startServer(port, dir);
    });
    afterEach(() => server.kill());

    it('fails fast while Redis is down, with a typed error, and recovers on the same client', async () => {
      const redis = await connectUrl(library, `redis://127.0.0.1:${port}`, recommended);
      const store = redisStore({ client: redis.client, prefix: 'outage:', timeoutMs: TIMEOUT_MS });
      const app = await startApp(store);
      try {
        const browser = new Browser(app.url);
        expect((await browser.request('/write?key=a&value=1')).status).toBe(200);
        const id = (await browser.request('/id')).body;
        expect((await store.get(id))?.data).toEqual({ a: '1' });

        await server.kill();
        // The client learns of the loss from its socket; the store reports it from the next call on.
        await waitFor('the store to report Redis unavailable', async () => {
          const error = await store.get(id).then(
            () => undefined,
            (e: unknown) => e,
          );
          return error instanceof RedisStoreError && error.reason === 'unavailable';
        });

        const startedAt = performance.now();
        const reply = await browser.request('/write?key=b&value=2');
        expect(performance.now() - startedAt).toBeLessThan(1_000);
        expect(reply.status).toBe(503);
        expect(JSON.parse(reply.body)).toEqual({ name: 'SessStoreError', code: 'store_failed', cause: 'unavailable' });
        for (const call of [() => store.get(id), () => store.set(id, makeRecord({}, 1), 60_000), () => store.destroy(id)]) {
          const callStartedAt = performance.now();
          await expect(call()).rejects.toMatchObject({ name: 'RedisStoreError', code: 'store_failed', reason: 'unavailable' });
          expect(performance.now() - callStartedAt).toBeLessThan(1_000);
        }

        server = await startServer(port, dir);
        // The same client reconnects on its own; poll the app until a write goes through again.
        await waitFor(
          'the app to write again after Redis came back',
          async () => (await browser.request('/write?key=c&value=3')).status === 200,
          15_000,
        );
        const fresh = (await browser.request('/id')).body;
        // The server kept nothing (no persistence): the write made a new session, stored in Redis.
        expect((await store.get(fresh))?.data).toMatchObject({ c: '3' });
      } finally {
        await app.close();
        await redis.quit();
      }
    }, 30_000);

    it('a Redis that accepts the connection but never answers fails after timeoutMs, not later', async () => {
      const redis = await connectUrl(library, `redis://127.0.0.1:${port}`, recommended);
      const store = redisStore({ client: redis.client, prefix: 'outage:', timeoutMs: 300 });
      const id = freshId();
      await store.set(id, makeRecord({ a: 1 }, Date.now()), 60_000);
      server.process.kill('SIGSTOP');
      try {
        const startedAt = performance.now();
        await expect(store.get(id)).rejects.toMatchObject({ name: 'RedisStoreError', code: 'store_timeout', reason: 'timeout' });
        const elapsed = performance.now() - startedAt;
        expect(elapsed).toBeGreaterThanOrEqual(290);
        expect(elapsed).toBeLessThan(1_000);
      } finally {
        server.process.kill('SIGCONT');
      }
      await waitFor('the frozen server to answer again', async () => (await store.get(id)) !== undefined);
      await redis.quit();
    });
  });
});
