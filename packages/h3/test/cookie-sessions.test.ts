/** Cookie sessions over real HTTP through h3 v2: sealed with AES-GCM keys derived once, not PBKDF2 per request. */
import { H3, toNodeHandler } from 'h3';
import { describe, expect, it } from 'vitest';
import { cookieSessions } from '@sess/core';
import { Client, closedAfterEach, COOKIE_SECRET, cookiesNamed, listen, SECRET } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}

const servers = closedAfterEach();

describe('h3 v2 with cookie sessions', () => {
  it('counts in the cookie, re-seals on each write, leaves reads alone, refuses tampering, and clears on destroy', async () => {
    const app = new H3({ silent: true });
    app.use(session({ secret: SECRET, store: cookieSessions({ secret: COOKIE_SECRET, mode: 'sign' }) }));
    app.all('/**', async (event) => {
      const s = await useSession(event);
      if (event.url.pathname === '/count') s.data.n = (s.data.n ?? 0) + 1;
      if (event.url.pathname === '/out') await s.destroy();
      return String(s.data.n ?? 'none');
    });
    const served = await listen(toNodeHandler(app));
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

    // Sign mode: the payload is readable, but changing it breaks the MAC.
    const [body, mac] = (client.jar.get('sid') as string).split('.');
    // The payload is the list [id, data, createdAt, touchedAt, expiresAt].
    const payload = JSON.parse(Buffer.from(body as string, 'base64url').toString('utf8')) as [string, { n: number }];
    expect(payload[1].n).toBe(3);
    payload[1].n = 1000;
    client.jar.set('sid', `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`);
    expect((await client.request('/read')).body).toBe('none');

    await client.request('/count');
    const out = await client.request('/out');
    expect(cookiesNamed(out, 'sid')[0]).toMatch(/Max-Age=0/);
    expect((await client.request('/read')).body).toBe('none');
  });
});
