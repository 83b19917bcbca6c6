/**
 * A change the app makes inside an object or array it read from the session
 * (`req.session.basket.items.push(item)`) is saved as an assigned value is, as express-session,
 * koa-session and @fastify/session save it; a value read and left as it was saves nothing, and a
 * 5xx saves nothing. Observed in the store, or for cookie sessions in the cookie.
 */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import type { CaseContext, CaseEnv } from '../env.js';

/** The store's writes; a cookie session writes only its cookie, which each case checks on the reply. */
const writesOf = (context: CaseContext) =>
  context.sessions === 'server' ? { set: context.store.calls.set, touch: context.store.calls.touch } : {};

export function inPlaceCases(env: CaseEnv): void {
  it('a change made inside a value read from the session is saved and read back', async () => {
    const context = await env.start();
    const { client } = context;
    expect((await client.request('/basket/add')).body).toBe('basket 1');
    const pushed = await client.request('/basket/add');
    expect(pushed.body).toBe('basket 1,2');
    if (context.sessions === 'server') expect(context.store.calls.set).toBe(2);
    else expect(cookiesNamed(pushed, 'sid')).toHaveLength(1);
    expect((await context.sessionOf())?.data).toEqual({ basket: { items: ['1', '2'] } });
    expect((await client.request('/basket')).body).toBe('basket 1,2');
    expect((await client.request('/basket/add')).body).toBe('basket 1,2,3');
    expect((await client.request('/basket')).body).toBe('basket 1,2,3');
  });

  it('a value read from the session and left as it was writes nothing', async () => {
    const context = await env.start();
    const { client } = context;
    await client.request('/basket/add');
    const before = writesOf(context);
    const cookie = client.jar.get('sid');
    for (let i = 0; i < 2; i++) {
      const read = await client.request('/basket');
      expect(read.body).toBe('basket 1');
      expect(cookiesNamed(read, 'sid')).toEqual([]);
    }
    expect(writesOf(context)).toEqual(before);
    expect(client.jar.get('sid')).toBe(cookie);
    expect((await context.sessionOf())?.data).toEqual({ basket: { items: ['1'] } });
  });

  it('a change made inside a value read from the session on a 500 response is not saved', async () => {
    const context = await env.start();
    const { client } = context;
    await client.request('/basket/add');
    const before = writesOf(context);
    const boom = await client.request('/basket/boom');
    expect(boom.status).toBe(500);
    expect(cookiesNamed(boom, 'sid')).toEqual([]);
    expect(writesOf(context)).toEqual(before);
    expect((await context.sessionOf())?.data).toEqual({ basket: { items: ['1'] } });
    expect((await client.request('/basket')).body).toBe('basket 1');
  });
}
