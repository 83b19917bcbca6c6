/**
 * Design §2.4 and §2.6 under attack: session fixation, replay after sign-out, client-side
 * times, and a store that keeps records past their TTL. What the other case files already
 * prove (regenerate kills the old id, destroy clears the cookie with its path and domain, idle
 * and absolute timeouts on the fake clock) is not repeated here.
 *
 * Cookie sessions run fixation and replay with their revocation hooks on (the dead id is in the
 * app's revocation list instead of gone from a store). A lagging store has no counterpart: the
 * expiry is sealed in the cookie, and a browser that keeps the cookie past it is in
 * cookie-sessions.ts.
 */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import { DAY_MS } from '../env.js';
import type { CaseContext, CaseEnv, ServerEnv } from '../env.js';
import { rawRequest } from '../raw.js';

/** Whether `id` is dead on the server: gone from the store, or on the revocation list. */
async function isDead(context: CaseContext, id: string): Promise<boolean> {
  return context.sessions === 'server' ? (await context.store.peek(id)) === undefined : context.revoked.has(id);
}

export function lifecycleAttackCases(env: CaseEnv): void {
  it('fixation: a session id planted by an attacker before sign-in is dead after it', async () => {
    const context = await env.start();
    const { client: victim, newClient, idInJar } = context;
    const attacker = newClient();
    await attacker.request('/count');
    const planted = attacker.jar.get('sid') as string;
    const plantedId = idInJar(attacker) as string;
    victim.jar.set('sid', planted);
    const login = await victim.post('/login');
    expect(login.status).toBe(200);
    expect(idInJar(victim)).not.toBe(plantedId);
    expect(cookiesNamed(login, 'sid')).toHaveLength(1);
    expect(await isDead(context, plantedId)).toBe(true);
    // The attacker replays the planted cookie: an empty session, not the victim's.
    expect((await attacker.request('/me')).body).toBe('nobody');
    expect((await attacker.request('/read')).body).toBe('0');
    expect((await victim.request('/me')).body).toBe('ada');
  });

  it('sign-out: the old cookie replayed afterwards gets an empty session and recreates nothing', async () => {
    const context = await env.start();
    const { client, newClient, idInJar } = context;
    await client.post('/login');
    const stolen = client.jar.get('sid') as string;
    const id = idInJar() as string;
    const logout = await client.post('/logout');
    expect(logout.status).toBe(200);
    expect(cookiesNamed(logout, 'sid')).toEqual([expect.stringMatching(/^sid=; Max-Age=0; Path=\/;/)]);
    expect(await isDead(context, id)).toBe(true);
    const thief = newClient();
    thief.jar.set('sid', stolen);
    expect((await thief.request('/me')).body).toBe('nobody');
    const write = await thief.request('/count');
    expect(write.body).toBe('views 1');
    expect(idInJar(thief)).not.toBe(id);
    expect(await isDead(context, id)).toBe(true);
  });

  it('client-side times change nothing: cookie attributes sent by the client do not extend an idle session', async () => {
    const { client, url, clock } = await env.start({ idleTimeoutMs: 60_000 });
    await client.request('/count');
    const value = client.jar.get('sid') as string;
    const forged = `sid=${value}; Expires=Fri, 31 Dec 9999 23:59:59 GMT; Max-Age=999999999; Path=/; expiresAt=99999999999999; touchedAt=99999999999999; createdAt=99999999999999`;
    clock.advance(30_000);
    expect((await rawRequest(url, '/read', forged)).body).toBe('1');
    clock.advance(60_001);
    const late = await rawRequest(url, '/read', forged);
    expect(late.status).toBe(200);
    expect(late.body).toBe('0');
  });

  it('idle timeout: exactly 1 ms past it the session is over', async () => {
    const { client, clock } = await env.start({ idleTimeoutMs: 60_000 });
    await client.request('/count');
    clock.advance(60_000 - 1);
    expect((await client.request('/read')).body).toBe('1');
    clock.advance(60_000 + 1);
    expect((await client.request('/read')).body).toBe('0');
  });

  it('absolute timeout: a request every 10 s for the whole lifetime does not keep the session alive', async () => {
    const { client, clock } = await env.start({ absoluteTimeoutMs: 120_000, idleTimeoutMs: 30_000, rolling: true });
    await client.request('/count');
    for (let elapsed = 10_000; elapsed < 120_000; elapsed += 10_000) {
      clock.advance(10_000);
      expect((await client.request('/read')).body, `${elapsed} ms`).toBe('1');
    }
    clock.advance(10_000);
    expect((await client.request('/read')).body).toBe('0');
  });

  if (env.sessions === 'server') storeOnlyCases(env);
}

/** An id the store never had, and a store that keeps records late: server-side stores only. */
function storeOnlyCases(env: ServerEnv): void {
  it('fixation: a planted cookie for an id the store never had does not become the signed-in id', async () => {
    const { client: victim, signer, store, idInJar } = await env.start();
    const plantedId = 'F'.repeat(32);
    victim.jar.set('sid', signer.sign('sid', plantedId));
    await victim.post('/login');
    expect(idInJar(victim)).not.toBe(plantedId);
    expect(await store.peek(plantedId)).toBeUndefined();
  });

  it('a record the store returns after its expiry (TTL lag) is treated as missing', async () => {
    const { client, store, clock, idInJar } = await env.start();
    store.lagMs = 30 * DAY_MS;
    await client.post('/login');
    const id = idInJar() as string;
    clock.advance(DAY_MS + 1);
    expect(await store.peek(id)).toBeDefined();
    expect((await client.request('/me')).body).toBe('nobody');
    const write = await client.request('/count');
    expect(write.body).toBe('views 1');
    expect(idInJar()).not.toBe(id);
  });

  it('a lagging store does not extend an idle timeout either', async () => {
    const { client, store, clock } = await env.start({ idleTimeoutMs: 60_000 });
    store.lagMs = 30 * DAY_MS;
    await client.post('/login');
    clock.advance(60_001);
    expect((await client.request('/me')).body).toBe('nobody');
  });
}
