/** Design §2.2 and §6: a cookie the server can't vouch for is a fresh session, never an error. */
import { expect, it } from 'vitest';
import { cookiesNamed } from '../client.js';
import { DAY_MS } from '../env.js';
import type { CaseEnv, ServerEnv } from '../env.js';

/** Anything the client keeps for `sid` must be a deletion, never a new value. */
function expectNoNewSessionCookie(lines: string[]): void {
  for (const line of lines) expect(line).toMatch(/^sid=; Max-Age=0/);
}

export function clientInputCases(env: CaseEnv): void {
  it('a tampered cookie gives a fresh session, with no store call until it is written', async () => {
    const context = await env.start();
    const { client, newClient, idInJar } = context;
    await client.request('/count');
    const id = idInJar() as string;
    const value = client.jar.get('sid') as string;
    const forger = newClient();
    forger.jar.set('sid', `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`);
    const calls = context.sessions === 'server' ? { ...context.store.calls } : { ...context.hookCalls };
    const read = await forger.request('/read');
    expect(read.status).toBe(200);
    expect(read.body).toBe('0');
    expectNoNewSessionCookie(cookiesNamed(read, 'sid'));
    // Cookie sessions: a value that does not open is not worth a revocation lookup either.
    expect(context.sessions === 'server' ? context.store.calls : context.hookCalls).toEqual(calls);
    const write = await forger.request('/count');
    expect(write.body).toBe('views 1');
    expect(idInJar(forger)).not.toBe(id);
    expect((await context.sessionOf())?.data).toEqual({ views: 1 });
    expect((await client.request('/read')).body).toBe('1');
  });

  it('an expired session gives a fresh one with a new id', async () => {
    const { client, clock, idInJar } = await env.start();
    await client.request('/count');
    const id = idInJar();
    clock.advance(DAY_MS + 1_000);
    expect((await client.request('/read')).body).toBe('0');
    const write = await client.request('/count');
    expect(write.body).toBe('views 1');
    expect(idInJar()).not.toBe(id);
  });

  it('a malformed Cookie header is no session, not an error', async () => {
    const { client } = await env.start();
    const reply = await client.request('/read', { headers: { cookie: 'sid="%E0%A4%A; __proto__=1; sid=x.y; ;;=' } });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('0');
  });

  // A signed id whose record is missing has no cookie-session counterpart: a sealed cookie
  // carries its record. Sealed payloads of the wrong shape are in stored-data.ts.
  if (env.sessions === 'server') unknownIdCases(env);
}

function unknownIdCases(env: ServerEnv): void {
  it('a validly signed cookie for an unknown id gives a fresh session and creates nothing under that id', async () => {
    const { client, store, signer, idInJar } = await env.start();
    const unknown = 'U'.repeat(32);
    client.jar.set('sid', signer.sign('sid', unknown));
    const read = await client.request('/read');
    expect(read.body).toBe('0');
    expectNoNewSessionCookie(cookiesNamed(read, 'sid'));
    expect(store.calls.set).toBe(0);
    expect(store.size).toBe(0);
    const write = await client.request('/count');
    expect(write.body).toBe('views 1');
    expect(idInJar()).toBeDefined();
    expect(idInJar()).not.toBe(unknown);
    expect(await store.peek(unknown)).toBeUndefined();
  });
}
