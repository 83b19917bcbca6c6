/** Cookie sessions over real HTTP through Koa 3: the sealed session is the whole cookie. */
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { cookieSessions } from '@sess/core';
import { Client, closedAfterEach, COOKIE_SECRET, cookiesNamed, listen, SECRET } from '@sess/adapter-test';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}

const servers = closedAfterEach();

describe('Koa 3 with cookie sessions', () => {
  it('counts in the cookie, re-seals on each write, leaves reads alone, and clears on ctx.session = null', async () => {
    const app = new Koa();
    app.silent = true;
    app.use(session({ secret: SECRET, store: cookieSessions({ secret: COOKIE_SECRET }) }));
    app.use((ctx) => {
      if (ctx.path === '/count') ctx.session.n = (ctx.session.n ?? 0) + 1;
      if (ctx.path === '/big') ctx.session.n = 'x'.repeat(5000) as unknown as number;
      if (ctx.path === '/out') {
        ctx.session = null;
        ctx.body = 'bye';
        return;
      }
      ctx.body = String(ctx.session.n ?? 'none');
    });
    const served = await listen(app.callback());
    servers.push(served);
    const client = new Client(served.url);

    const values = new Set<string>();
    for (let n = 1; n <= 3; n++) {
      const reply = await client.request('/count');
      expect(reply.body).toBe(String(n));
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      values.add(client.jar.get('sid') as string);
    }
    expect(values.size).toBe(3);
    const read = await client.request('/read');
    expect(read.body).toBe('3');
    expect(cookiesNamed(read, 'sid')).toEqual([]);

    const big = await client.request('/big');
    expect(big.status).toBe(500);
    expect(cookiesNamed(big, 'sid')).toEqual([]);
    expect((await client.request('/read')).body).toBe('3');

    const out = await client.request('/out');
    expect(cookiesNamed(out, 'sid')[0]).toMatch(/Max-Age=0/);
    expect((await client.request('/read')).body).toBe('none');
  });
});
