/**
 * Design §2.2 and §6: what comes back from the store is data, never code or prototype. Keys
 * named like the session's methods don't shadow them, `__proto__` stays a key, and a record of
 * the wrong shape is treated as missing: a fresh session, never a 5xx. For cookie sessions the
 * record comes back from the cookie: the same cases seal it there with the app's own secret
 * (what a leaked secret, or a bug in an older release, would let through the seal).
 */
import { expect, it } from 'vitest';
import type { SessionRecord } from '@sess/core';
import { DAY_MS } from '../env.js';
import type { CaseContext, CaseEnv } from '../env.js';
import { expectPrototypeClean, prototypeKeys } from './hostile-input.js';

const PLANTED_ID = 'P'.repeat(32);

function meta(context: CaseContext) {
  const now = context.clock.now();
  return { createdAt: now, touchedAt: now, expiresAt: now + DAY_MS };
}

/**
 * Puts `data` in the store under `PLANTED_ID` and gives the client its signed cookie, or for
 * cookie sessions gives the client the record sealed.
 */
async function plantSession(context: CaseContext, data: Record<string, unknown>): Promise<void> {
  if (context.sessions === 'cookie') {
    context.client.jar.set('sid', context.sealer.seal({ id: PLANTED_ID, data, meta: meta(context) }));
    return;
  }
  await context.store.set(PLANTED_ID, { data, meta: meta(context) }, DAY_MS);
  context.client.jar.set('sid', context.signer.sign('sid', PLANTED_ID));
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Makes the store answer `raw` for `id` and gives the client its signed cookie, or for cookie
 * sessions seals `raw` with the id (`raw` alone when it is no object, as a cookie could hold).
 */
function plantRaw(context: CaseContext, id: string, raw: unknown): void {
  if (context.sessions === 'cookie') {
    context.client.jar.set('sid', context.sealer.seal(isObject(raw) ? { id, ...raw } : raw));
    return;
  }
  context.store.plant(id, raw as SessionRecord);
  context.client.jar.set('sid', context.signer.sign('sid', id));
}

/** Data as JSON.parse makes it from a hostile record: `__proto__` is an own key. */
const HOSTILE = JSON.parse(
  '{"views":5,"save":1,"destroy":"x","regenerate":null,"reload":[],"touch":{},"cookie":"c","setExpiry":0,' +
    '"id":"forged","constructor":{"prototype":{"polluted":true}},"__proto__":{"polluted":true},"toString":"t"}',
) as Record<string, unknown>;

export function storedDataCases(env: CaseEnv): void {
  it('stored keys named save, destroy, regenerate, cookie or __proto__ shadow no method and no prototype', async () => {
    const context = await env.start();
    const { client, idInJar } = context;
    const before = prototypeKeys();
    await plantSession(context, HOSTILE);
    expect((await client.request('/read')).body).toBe('5');
    const saved = await client.post('/save');
    expect(saved.status).toBe(200);
    expect(saved.body).toBe('saved');
    expect((await client.request('/count')).body).toBe('views 6');
    const login = await client.post('/login');
    expect(login.status).toBe(200);
    expect(login.body).toBe(idInJar());
    expect(idInJar()).not.toBe(PLANTED_ID);
    expect((await client.request('/me')).body).toBe('ada');
    const stored = (await context.sessionOf())?.data as Record<string, unknown>;
    expect(Object.hasOwn(stored, '__proto__')).toBe(true);
    expect(stored['save']).toBe(1);
    const logout = await client.post('/logout');
    expect(logout.status).toBe(200);
    expect(logout.body).toBe('bye');
    if (context.sessions === 'server') expect(context.store.size).toBe(0);
    else expect(client.jar.has('sid')).toBe(false);
    expectPrototypeClean(before);
  });

  it('a record of the wrong shape is treated as missing: a fresh session, no 5xx', async () => {
    const context = await env.start();
    const { client, idInJar } = context;
    const good = meta(context);
    const corrupt: Array<readonly [string, unknown]> = [
      ['a string of bad JSON', '{"data":{"views":1},"meta":'],
      ['null', null],
      ['a number', 42],
      ['an array', [{ views: 1 }]],
      ['data null', { data: null, meta: good }],
      ['data an array', { data: [1, 2], meta: good }],
      ['data a string', { data: '{"views":1}', meta: good }],
      ['no meta', { data: { views: 1 } }],
      ['meta times as strings', { data: { views: 1 }, meta: { createdAt: 'now', touchedAt: 'now', expiresAt: 'never' } }],
      ['meta times NaN', { data: { views: 1 }, meta: { ...good, expiresAt: Number.NaN } }],
      ['a bad expiry kind', { data: { views: 1 }, meta: { ...good, expiry: { kind: 'forever' } } }],
      ['a __proto__ record', JSON.parse(`{"__proto__":{"data":{"views":1},"meta":${JSON.stringify(good)}}}`)],
    ];
    const plants: Array<readonly [string, () => void]> = corrupt.map(([label, raw]) => [
      label,
      () => plantRaw(context, `C${label.replace(/[^A-Za-z0-9]/g, '_')}`.padEnd(32, 'c'), raw),
    ]);
    if (context.sessions === 'cookie') {
      // A sealed cookie names its id itself: one that is missing or malformed is refused too.
      const record = { data: { views: 1 }, meta: good };
      for (const [label, id] of [
        ['no id', undefined],
        ['a numeric id', 42],
        ['an id too short', 'a'.repeat(21)],
        ['an id with ../', `../../etc/passwd${'a'.repeat(16)}`],
        ['an id of 129 characters', 'a'.repeat(129)],
      ] as const) {
        plants.push([label, () => client.jar.set('sid', context.sealer.seal({ id, ...record }))]);
      }
    }
    const before = prototypeKeys();
    for (const [label, plant] of plants) {
      plant();
      const id = idInJar();
      const read = await client.request('/read');
      expect(read.status, label).toBe(200);
      expect(read.body, label).toBe('0');
      const write = await client.request('/count');
      expect(write.status, label).toBe(200);
      expect(write.body, label).toBe('views 1');
      expect(idInJar(), label).not.toBe(id);
    }
    expectPrototypeClean(before);
  });
}
