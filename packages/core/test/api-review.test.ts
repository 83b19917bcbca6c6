/**
 * An adversarial pass over the session API: app calls awaited or not, stores that answer
 * strangely, and the clock. Each `describe` is a defect found (the first four) or a sequence
 * worth keeping pinned.
 */
import { describe, expect, it } from 'vitest';
import { SessConfigError, cookieSessions, createSessionManager } from '../src/index.js';
import type { HttpEffect, StandardSchemaV1 } from '../src/index.js';
import { SECRET, setup } from './fixtures.js';

const MINUTE = 60_000;
const types = (effects: readonly HttpEffect[]) => effects.map((effect) => effect.type);
const sessionCookie = (effects: readonly HttpEffect[]) =>
  effects.find((effect) => (effect.type === 'cookie.set' || effect.type === 'cookie.delete') && effect.name === 'sid');

/** A visitor who already holds a session. */
async function signedIn(options: Parameters<typeof setup>[0] = {}, storeOptions: Parameters<typeof setup>[1] = {}) {
  const world = setup(options, storeOptions);
  const { session } = await world.request((s) => s.set('user', 'ada'));
  world.store.calls.length = 0;
  const begin = () => world.manager.begin({ cookieHeader: world.jar.header(), secure: false });
  return { ...world, begin, id: session.id as string };
}

describe('a store whose destroy answers false (`destroy: (id) => map.delete(id)` on a record already gone)', () => {
  it.each([false, true])('still signs out and deletes the cookie (synchronous store: %s)', async (synchronous) => {
    const { begin, store, id } = await signedIn({}, { synchronous });
    const destroy = store.destroy;
    store.destroy = (key) => {
      destroy(key);
      return false as unknown as void;
    };
    const signOut = begin();
    await signOut.destroy();
    expect(sessionCookie(await signOut.commit({ status: 200 }))).toMatchObject({ type: 'cookie.delete' });
    // An emptied session is destroyed by the commit: its cookie goes too, rather than naming nothing.
    const emptied = begin();
    await emptied.load();
    emptied.clear();
    expect(sessionCookie(await emptied.commit({ status: 200 }))).toMatchObject({ type: 'cookie.delete' });
    expect(store.peek(id)).toBeUndefined();
  });
});

describe('a commit made while an operation waits for its load', () => {
  it('does not overtake a regenerate() the app did not await: the fixation defence still happens', async () => {
    const { begin, store, id } = await signedIn();
    const session = begin();
    const regenerating = session.regenerate();
    const effects = await session.commit({ status: 200 });
    await regenerating;
    expect(session.id).not.toBe(id);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    expect(store.peek(id)).toBeUndefined();
    expect(store.peek(session.id as string)?.data).toEqual({ user: 'ada' });
  });

  it('does not overtake a regenerate() queued behind a saveNow() in flight', async () => {
    const { begin, store, id } = await signedIn();
    const session = begin();
    await session.load();
    session.set('n', 1);
    const saving = session.saveNow();
    const regenerating = session.regenerate();
    const effects = await session.commit({ status: 200 });
    await Promise.all([saving, regenerating]);
    expect(session.id).not.toBe(id);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    expect(store.peek(id)).toBeUndefined();
  });

  it('names the call the app made when it comes too late', async () => {
    const { begin } = await signedIn();
    const session = begin();
    await session.load();
    await session.commit({ status: 200 });
    await expect(session.regenerate()).rejects.toThrow(/^\[sess\] regenerate is not allowed now/);
    await expect(session.reload()).rejects.toThrow(/^\[sess\] reload is not allowed now/);
  });
});

describe('cookie sessions: reload() after saveNow()', () => {
  it('drops the changes made after the save, as on a server store', async () => {
    const world = setup({ store: cookieSessions({ secret: 'cookie-session-secret-at-least-32-bytes!' }) });
    await world.request((s) => s.set('a', 0));
    const { result, effects } = await world.request(async (s) => {
      await s.load();
      s.set('a', 1);
      await s.saveNow();
      s.set('a', 2);
      s.set('b', 3);
      await s.reload();
      return [s.get('a'), s.get('b')];
    });
    expect(result).toEqual([1, undefined]);
    const next = await world.request(async (s) => {
      await s.load();
      return s.keys().map((key) => [key, s.get(key)]);
    });
    expect([types(effects), next.result]).toEqual([['cookie.set', 'header.vary', 'header.cacheControl'], [['a', 1]]]);
  });
});

describe('a load whose record cannot be judged (a schema that turns asynchronous)', () => {
  it('fails the load, and the error page still commits, writing nothing, instead of "not loaded yet"', async () => {
    const laterAsync: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => (Object.keys(value as object).length === 0 ? { value } : Promise.resolve({ value })),
      },
    };
    const { store, clock, jar, id } = await signedIn();
    const manager = createSessionManager({ secret: SECRET, store, clock: clock.now, schema: laterAsync });
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await expect(session.load()).rejects.toBeInstanceOf(SessConfigError);
    expect(await session.commit({ status: 500 })).toEqual([]);
    expect(store.calls).toEqual([`get ${id}`]);
  });
});

describe('a request that runs longer than the idle timeout (a slow upload)', () => {
  it('saves a record that lives from the save, not one already dead when it is written', async () => {
    const { request, clock } = await signedIn({ idleTimeoutMs: 5 * MINUTE });
    await request(async (s) => {
      await s.load();
      s.set('upload', 'started');
      await s.saveNow();
      clock.advance(6 * MINUTE);
      s.set('upload', 'done');
    });
    const { result } = await request(async (s) => {
      await s.load();
      return [s.get('user'), s.get('upload')];
    });
    expect(result).toEqual(['ada', 'done']);
  });

  it('a new session created at the end of a long request gets a cookie that expires a lifetime from then', async () => {
    const { request, clock } = setup({ maxAgeMs: 60 * MINUTE });
    const { effects } = await request((s) => {
      s.set('user', 'ada');
      clock.advance(61 * MINUTE);
    });
    expect(sessionCookie(effects)).toMatchObject({ attributes: { expires: clock.now() + 60 * MINUTE, maxAgeMs: 60 * MINUTE } });
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBe('ada');
  });
});

describe('a generateId that throws mid-request', () => {
  it('leaves the session as it was: a retried change is saved under a real id, never "undefined"', async () => {
    let failing = false;
    const { request, store } = setup({
      generateId: () => {
        if (failing) throw new Error('entropy pool unavailable');
        return crypto.randomUUID();
      },
    });
    failing = true;
    const { session, effects } = await request((s) => {
      expect(() => s.set('user', 'ada')).toThrow(/entropy pool unavailable/);
      failing = false;
      s.set('user', 'ada');
    });
    expect(session.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(store.peek(session.id as string)?.data).toEqual({ user: 'ada' });
    expect(store.peek('undefined')).toBeUndefined();
    expect(sessionCookie(effects)?.type).toBe('cookie.set');
  });
});

describe('sequences that hold (kept pinned)', () => {
  it('a flash set and taken in one request leaves nothing to save', async () => {
    const { request, store } = setup();
    const { result, effects } = await request((s) => {
      s.flash('info', 'saved');
      s.flash('info', 'twice');
      return s.takeFlash('info');
    });
    expect([result, effects, store.calls]).toEqual([['saved', 'twice'], [{ type: 'header.vary', value: 'Cookie' }], []]);
  });

  it('regenerate({ keepData: false }) twice signs out: the old record goes, nothing is saved, the cookie is deleted', async () => {
    const { request, store, id } = await signedIn();
    const { effects, session } = await request(async (s) => {
      await s.regenerate({ keepData: false });
      const first = s.id;
      await s.regenerate({ keepData: false });
      expect(s.id).not.toBe(first);
    });
    expect(store.calls).toEqual([`get ${id}`, `destroy ${id}`]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.delete' });
    expect(session.keys()).toEqual([]);
  });

  it('destroy() then set() starts a new session; the destroyed one never comes back', async () => {
    const { request, store, id } = await signedIn();
    const { session } = await request(async (s) => {
      await s.destroy();
      s.set('cart', 1);
    });
    expect(store.peek(id)).toBeUndefined();
    expect(store.peek(session.id as string)?.data).toEqual({ cart: 1 });
  });

  it('setExpiry with a Date already past ends the session: no record lives, the cookie goes with Max-Age=0', async () => {
    const { request, store, clock } = setup();
    const { effects, session } = await request((s) => {
      s.set('a', 1);
      s.setExpiry(new Date(clock.now() - 1000));
    });
    expect(store.peek(session.id as string)).toBeUndefined();
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set', attributes: { maxAgeMs: 0 } });
  });

  it.each([null, 'junk', [], { data: [], meta: {} }, { data: {}, meta: { createdAt: '1', touchedAt: 1, expiresAt: 2 } }])(
    'a malformed record (%j) is no session: the app starts afresh, the cookie naming it is deleted',
    async (junk) => {
      const { begin, store } = await signedIn();
      store.get = () => Promise.resolve(junk as never);
      const session = begin();
      await session.load();
      expect(session.keys()).toEqual([]);
      expect(sessionCookie(await session.commit({ status: 200 }))).toMatchObject({ type: 'cookie.delete' });
    },
  );
});
