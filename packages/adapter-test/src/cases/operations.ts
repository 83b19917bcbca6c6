/**
 * Design §2.4: the operations, observed over HTTP and in the store, or for cookie sessions in
 * the cookie and the app's revocation list (what "the old id is dead" means without a store).
 */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import type { CaseEnv } from '../env.js';

const DELETION = 'Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax';

export function operationCases(env: CaseEnv): void {
  it('regenerate moves the data to a new id and the old id is dead', async () => {
    const context = await env.start();
    const { client, newClient, idInJar } = context;
    await client.request('/count');
    const before = idInJar() as string;
    const oldValue = client.jar.get('sid') as string;
    const login = await client.post('/login');
    const after = idInJar() as string;
    expect(cookiesNamed(login, 'sid')).toHaveLength(1);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(login.body).toBe(after);
    expect((await client.request('/me')).body).toBe('ada');
    expect((await client.request('/count')).body).toBe('views 2');
    if (context.sessions === 'server') expect(await context.store.peek(before)).toBeUndefined();
    else expect(context.revoked.has(before)).toBe(true);
    const attacker = newClient();
    attacker.jar.set('sid', oldValue);
    expect((await attacker.request('/me')).body).toBe('nobody');
    // The old cookie held views 1: it is dead, not merely without a user.
    expect((await attacker.request('/read')).body).toBe('0');
  });

  // Cookie sessions refuse the option: a sealed cookie has no record to keep for a grace window.
  if (env.sessions === 'server') {
    it('with regenerateGraceMs, a request in flight with the old cookie reads its old session, gets no cookie and cannot write', async () => {
      const GRACE_MS = 5_000;
      const context = await env.start({ regenerateGraceMs: GRACE_MS });
      const { client, newClient, idInJar, store, clock } = context;
      await client.request('/count');
      const before = idInJar() as string;
      const oldValue = client.jar.get('sid') as string;
      await client.post('/login');
      const inFlight = newClient();
      inFlight.jar.set('sid', oldValue);
      const read = await inFlight.request('/read');
      expect(read.body).toBe('1');
      expect(cookiesNamed(read, 'sid')).toEqual([]);
      // The old id never sees what the new one holds: fixation still gains nothing.
      expect((await inFlight.request('/me')).body).toBe('nobody');
      const write = await inFlight.request('/count');
      expect(write.status).toBeGreaterThanOrEqual(500);
      expect(cookiesNamed(write, 'sid')).toEqual([]);
      expect((await store.peek(before))?.meta).toMatchObject({ retired: true, expiresAt: clock.now() + GRACE_MS });
      expect((await client.request('/me')).body).toBe('ada');
      clock.advance(GRACE_MS);
      expect((await inFlight.request('/read')).body).toBe('0');
      expect(await store.peek(before)).toBeUndefined();
    });
  }

  it('destroy deletes the record and the cookie, with the path and domain it was set with', async () => {
    const context = await env.start({ cookie: { path: '/app', domain: 'sess.example' } });
    const { client, idInJar } = context;
    const login = await client.post('/login');
    const id = idInJar() as string;
    expect(cookiesNamed(login, 'sid')).toEqual([expect.stringContaining('; Domain=sess.example; Path=/app;')]);
    const logout = await client.post('/logout');
    expect(logout.status).toBe(200);
    expect(cookiesNamed(logout, 'sid')).toEqual([
      'sid=; Max-Age=0; Domain=sess.example; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax',
    ]);
    expect(client.jar.has('sid')).toBe(false);
    if (context.sessions === 'server') expect(context.store.size).toBe(0);
    else expect([...context.revoked.keys()]).toEqual([id]);
    expect((await client.request('/me')).body).toBe('nobody');
  });

  it('a session emptied by the app is destroyed and its cookie deleted', async () => {
    const context = await env.start();
    const { client, idInJar } = context;
    await client.request('/count');
    const id = idInJar() as string;
    const reply = await client.post('/clear');
    expect(reply.body).toBe('cleared');
    expect(cookiesNamed(reply, 'sid')).toEqual([`sid=; ${DELETION}`]);
    if (context.sessions === 'server') {
      expect(context.store.size).toBe(0);
      expect(context.store.calls.destroy).toBe(1);
    } else {
      expect([...context.revoked.keys()]).toEqual([id]);
      expect(context.hookCalls.onRevoke).toBe(1);
    }
  });

  // A sealed record is re-sent whenever it is saved: for cookie sessions the cookie is the write.
  const save =
    env.sessions === 'server'
      ? 'save writes an unchanged session without re-sending the cookie'
      : 'save re-seals an unchanged session and re-sends the cookie';
  it(save, async () => {
    const context = await env.start();
    const { client, clock } = context;
    await client.request('/count');
    const createdAt = clock.now();
    if (context.sessions === 'server') expect(context.store.calls.set).toBe(1);
    clock.advance(1_000);
    const reply = await client.post('/save');
    expect(reply.body).toBe('saved');
    if (context.sessions === 'server') {
      expect(reply.setCookies).toEqual([]);
      expect(context.store.calls.set).toBe(2);
    } else {
      expect(cookiesNamed(reply, 'sid')).toHaveLength(1);
      expect(await context.sessionOf()).toEqual({
        data: { views: 1 },
        meta: { createdAt, touchedAt: clock.now(), expiresAt: clock.now() + 86_400_000 },
      });
    }
  });

  it('reload drops unsaved changes and reads the record again', async () => {
    const context = await env.start();
    const { client } = context;
    await client.request('/count');
    const reply = await client.post('/reload');
    expect(reply.body).toBe('1');
    // Nothing changed in the end, so nothing is written: no store set, no re-sealed cookie.
    expect(reply.setCookies).toEqual([]);
    expect((await client.request('/read')).body).toBe('1');
    if (context.sessions === 'server') expect(context.store.calls.set).toBe(1);
  });

  it('touch extends the record and re-sends the cookie with the new expiry', async () => {
    const context = await env.start();
    const { client, clock } = context;
    await client.request('/count');
    const createdAt = clock.now();
    clock.advance(3_600_000);
    const reply = await client.request('/touch');
    expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringContaining(`Expires=${new Date(clock.now() + 86_400_000).toUTCString()}`)]);
    if (context.sessions === 'server') expect(context.store.calls.touch + context.store.calls.set).toBe(2);
    expect(await context.sessionOf()).toEqual({
      data: { views: 1 },
      meta: { createdAt, touchedAt: clock.now(), expiresAt: clock.now() + 86_400_000 },
    });
  });

  it('the test cookie round trip works without a store record', async () => {
    const context = await env.start();
    const { client } = context;
    expect((await client.request('/test-cookie/check')).body).toBe('false');
    const set = await client.request('/test-cookie/set');
    expect(cookiesNamed(set, 'sid.test')).toEqual(['sid.test=1; Path=/; HttpOnly; SameSite=Lax']);
    expect(cookiesNamed(set, 'sid')).toEqual([]);
    expect((await client.request('/test-cookie/check')).body).toBe('true');
    const deleted = await client.request('/test-cookie/delete');
    expect(cookiesNamed(deleted, 'sid.test')).toEqual([`sid.test=; ${DELETION}`]);
    expect((await client.request('/test-cookie/check')).body).toBe('false');
    if (context.sessions === 'server') {
      expect(context.store.calls.set).toBe(0);
      expect(context.store.size).toBe(0);
    }
    expect(client.jar.has('sid')).toBe(false);
  });
}
