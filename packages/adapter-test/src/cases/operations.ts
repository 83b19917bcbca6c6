/** Design §2.4: the operations, observed over HTTP and in the store. */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import type { CaseEnv } from '../env.js';

const DELETION = 'Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax';

export function operationCases(env: CaseEnv): void {
  it('regenerate moves the data to a new id and the old id is dead', async () => {
    const { client, newClient, store, idInJar } = await env.start();
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
    expect(await store.peek(before)).toBeUndefined();
    const attacker = newClient();
    attacker.jar.set('sid', oldValue);
    expect((await attacker.request('/me')).body).toBe('nobody');
  });

  it('destroy deletes the record and the cookie, with the path and domain it was set with', async () => {
    const { client, store } = await env.start({ cookie: { path: '/app', domain: 'sess.example' } });
    const login = await client.post('/login');
    expect(cookiesNamed(login, 'sid')).toEqual([expect.stringContaining('; Domain=sess.example; Path=/app;')]);
    const logout = await client.post('/logout');
    expect(logout.status).toBe(200);
    expect(cookiesNamed(logout, 'sid')).toEqual([
      'sid=; Max-Age=0; Domain=sess.example; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax',
    ]);
    expect(client.jar.has('sid')).toBe(false);
    expect(store.size).toBe(0);
    expect((await client.request('/me')).body).toBe('nobody');
  });

  it('a session emptied by the app is destroyed and its cookie deleted', async () => {
    const { client, store } = await env.start();
    await client.request('/count');
    const reply = await client.post('/clear');
    expect(reply.body).toBe('cleared');
    expect(cookiesNamed(reply, 'sid')).toEqual([`sid=; ${DELETION}`]);
    expect(store.size).toBe(0);
    expect(store.calls.destroy).toBe(1);
  });

  it('save writes an unchanged session without re-sending the cookie', async () => {
    const { client, store } = await env.start();
    await client.request('/count');
    expect(store.calls.set).toBe(1);
    const reply = await client.post('/save');
    expect(reply.body).toBe('saved');
    expect(reply.setCookies).toEqual([]);
    expect(store.calls.set).toBe(2);
  });

  it('reload drops unsaved changes and reads the record again', async () => {
    const { client, store } = await env.start();
    await client.request('/count');
    const reply = await client.post('/reload');
    expect(reply.body).toBe('1');
    expect((await client.request('/read')).body).toBe('1');
    expect(store.calls.set).toBe(1);
  });

  it('touch extends the record and re-sends the cookie with the new expiry', async () => {
    const { client, clock, store } = await env.start();
    await client.request('/count');
    clock.advance(3_600_000);
    const reply = await client.request('/touch');
    expect(cookiesNamed(reply, 'sid')).toEqual([expect.stringContaining(`Expires=${new Date(clock.now() + 86_400_000).toUTCString()}`)]);
    expect(store.calls.touch + store.calls.set).toBe(2);
  });

  it('the test cookie round trip works without a store record', async () => {
    const { client, store } = await env.start();
    expect((await client.request('/test-cookie/check')).body).toBe('false');
    const set = await client.request('/test-cookie/set');
    expect(cookiesNamed(set, 'sid.test')).toEqual(['sid.test=1; Path=/; HttpOnly; SameSite=Lax']);
    expect(cookiesNamed(set, 'sid')).toEqual([]);
    expect((await client.request('/test-cookie/check')).body).toBe('true');
    const deleted = await client.request('/test-cookie/delete');
    expect(cookiesNamed(deleted, 'sid.test')).toEqual([`sid.test=; ${DELETION}`]);
    expect((await client.request('/test-cookie/check')).body).toBe('false');
    expect(store.calls.set).toBe(0);
    expect(store.size).toBe(0);
  });
}
