/**
 * Concurrent requests that change different keys all persist, over real HTTP: one session, the sess core behind
 * `node:http` (test/http.ts), the store on the standalone Redis. Gates order the requests (every request
 * has loaded the session before any saves), so the race is forced, not hoped for.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Store } from '@sess/core';
import { redisStore } from '../src/index.js';
import { connect, describeOn, testPrefix, type Connected } from './connect.js';
import { Browser, startApp } from './http.js';

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

describeOn('standalone', 'HTTP over redisStore', () => {
  let redis: Connected;
  const prefix = testPrefix('http');
  beforeAll(async () => {
    redis = await connect('ioredis 6', 'standalone');
  });
  afterAll(async () => {
    await redisStore({ client: redis.client, prefix }).clear();
    await redis.quit();
  });

  /** Signs in, then runs one /write per key, all loaded before any is let through to save. */
  async function concurrentWrites(store: Store) {
    const app = await startApp(store);
    try {
      const browser = new Browser(app.url);
      expect((await browser.request('/login', 'POST')).status).toBe(200);
      const id = (await browser.request('/id')).body;
      const replies = KEYS.map((key) => browser.request(`/write?key=${key}&value=${key}-value&gate=${key}`));
      await Promise.all(KEYS.map((key) => app.gates.arrival(key)));
      for (const key of KEYS) app.gates.release(key);
      expect((await Promise.all(replies)).map((reply) => reply.status)).toEqual(KEYS.map(() => 200));
      return (await store.get(id))?.data;
    } finally {
      await app.close();
    }
  }

  it('concurrent requests writing different keys of one session all persist', async () => {
    const data = await concurrentWrites(redisStore({ client: redis.client, prefix }));
    expect(data).toEqual({ userId: 'u1', ...Object.fromEntries(KEYS.map((key) => [key, `${key}-value`])) });
  });

  it('the same race loses updates when the store writes whole records (the test can fail)', async () => {
    const whole: Store = { ...redisStore({ client: redis.client, prefix }), capabilities: { deltaWrites: false } };
    const data = await concurrentWrites(whole);
    expect(KEYS.filter((key) => data?.[key] !== undefined).length).toBeLessThan(KEYS.length);
  });

  it('a slow request that saves after a concurrent sign-out does not revive the session', async () => {
    const store = redisStore({ client: redis.client, prefix });
    const app = await startApp(store);
    try {
      const browser = new Browser(app.url);
      await browser.request('/login', 'POST');
      const id = (await browser.request('/id')).body;
      const cookie = browser.cookie;
      const slow = browser.request('/write?key=late&value=1&gate=slow');
      await app.gates.arrival('slow');
      expect((await browser.request('/logout', 'POST')).status).toBe(200);
      expect(await store.get(id)).toBeUndefined();
      app.gates.release('slow');
      expect((await slow).status).toBe(200);
      expect(await store.get(id)).toBeUndefined();
      // The old cookie names nothing now: a later request gets a fresh session.
      const replay = new Browser(app.url);
      replay.cookie = cookie;
      expect((await replay.request('/id')).body).not.toBe(id);
    } finally {
      await app.close();
    }
  });
});
