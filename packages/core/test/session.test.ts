import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  SessConfigError,
  SessStoreError,
  SessUsageError,
  cookieSessions,
  createSessionManager,
  createSigner,
  hashId,
} from '../src/index.js';
import type { HttpEffect, Session, SessionEvent, SessionManagerOptions, StandardSchemaV1 } from '../src/index.js';
import { OLD_SECRET, SECRET, setup, testStore } from './fixtures.js';

const DAY = 86_400_000;
const types = (effects: readonly HttpEffect[]) => effects.map((effect) => effect.type);
const sessionCookie = (effects: readonly HttpEffect[], name = 'sid') =>
  effects.find((effect) => (effect.type === 'cookie.set' || effect.type === 'cookie.delete') && effect.name === name);

/** A visitor who already holds a session with `data`. */
async function signedIn(options: Parameters<typeof setup>[0] = {}, data: Record<string, unknown> = { user: 'ada' }) {
  const world = setup(options);
  const { session } = await world.request((s) => {
    for (const [key, value] of Object.entries(data)) s.set(key, value);
  });
  world.store.calls.length = 0;
  return { ...world, id: session.id as string };
}

describe('untouched sessions', () => {
  it('a visitor who never touches the session gets no cookie, no Vary and no store call', async () => {
    const { request, store } = setup();
    const { effects } = await request(() => undefined);
    expect(effects).toEqual([]);
    expect(store.calls).toEqual([]);
  });

  it('a returning visitor whose session is never touched causes no store call', async () => {
    const { request, store } = await signedIn();
    const { effects } = await request(() => undefined);
    expect(effects).toEqual([]);
    expect(store.calls).toEqual([]);
  });

  it('a read of a new session varies by Cookie but writes nothing', async () => {
    const { request, store } = setup();
    const { effects } = await request((s) => s.get('x'));
    expect(effects).toEqual([{ type: 'header.vary', value: 'Cookie' }]);
    expect(store.calls).toEqual([]);
  });
});

describe('first write', () => {
  it('saves under a fresh id and sets a signed cookie with the secure defaults', async () => {
    const { request, store, clock } = setup();
    const { effects, session } = await request((s) => s.set('views', 1));
    const id = session.id as string;
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(store.peek(id)?.data).toEqual({ views: 1 });
    expect(effects).toEqual([
      {
        type: 'cookie.set',
        name: 'sid',
        value: createSigner(SECRET).sign('sid', id),
        attributes: { path: '/', httpOnly: true, sameSite: 'lax', secure: false, expires: clock.now() + DAY, maxAgeMs: DAY },
      },
      { type: 'header.vary', value: 'Cookie' },
      { type: 'header.cacheControl', value: 'private' },
    ]);
  });

  it('marks the cookie Secure on a secure request', async () => {
    const { request } = setup();
    const { effects } = await request((s) => s.set('a', 1), { secure: true });
    expect(sessionCookie(effects)).toMatchObject({ attributes: { secure: true } });
  });

  it('leaves Cache-Control alone when the app set one', async () => {
    const { request } = setup();
    const { effects } = await request((s) => s.set('a', 1), { sharedCachesKeptOut: true });
    expect(types(effects)).not.toContain('header.cacheControl');
  });

  it('does not overwrite a session Set-Cookie the app already wrote, but still saves', async () => {
    const { request, store } = setup();
    const { effects, session } = await request((s) => s.set('a', 1), { cookieAlreadySet: true });
    expect(sessionCookie(effects)).toBeUndefined();
    expect(store.peek(session.id as string)).toBeDefined();
  });
});

describe('returning visitors', () => {
  it('a read loads once and re-sends nothing', async () => {
    const { request, store, id } = await signedIn();
    const { result, effects } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBe('ada');
    expect(effects).toEqual([{ type: 'header.vary', value: 'Cookie' }]);
    expect(store.calls).toEqual([`get ${id}`]);
  });

  it('a write saves without re-sending a valid cookie (Duck)', async () => {
    const { request, store, id } = await signedIn();
    const { effects } = await request(async (s) => {
      await s.load();
      s.set('views', 2);
    });
    expect(sessionCookie(effects)).toBeUndefined();
    expect(store.calls).toEqual([`get ${id}`, `set ${id}`]);
    expect(store.peek(id)?.data).toEqual({ user: 'ada', views: 2 });
  });

  it('reading before load() when a cookie came in is a usage error', async () => {
    const { manager, jar } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    expect(() => session.get('user')).toThrow(SessUsageError);
  });

  it('a change after commit is dropped and reported, not thrown where a timer would crash the process', async () => {
    const events: SessionEvent[] = [];
    const { request, store } = setup({ onEvent: (event) => void events.push(event) });
    const { session } = await request((s) => s.set('a', 1));
    const id = session.id as string;
    session.set('b', 2);
    session.delete('a');
    session.touch();
    session.save();
    session.setExpiry(60);
    session.setTestCookie();
    session.flash('info', 'late');
    expect([session.keys(), session.expiresAt]).toEqual([['a'], store.peek(id)?.meta.expiresAt]);
    expect(await session.commit({ status: 200 })).toEqual([]);
    // The operations that return a promise reject, and are reported as well: a bare call hears nothing else.
    for (const late of [() => session.regenerate(), () => session.reload(), () => session.saveNow()])
      await expect(late()).rejects.toThrow(/the commit has begun/);
    expect(store.peek(id)?.data).toEqual({ a: 1 });
    const late = events.filter((event) => event.type === 'lateChange');
    expect(late).toEqual(
      ['set', 'delete', 'touch', 'save', 'setExpiry', 'setTestCookie', 'set', 'regenerate', 'reload', 'save'].map((operation) => ({
        type: 'lateChange',
        operation,
        idHash: hashId(id),
      })),
    );
  });

  it('a change while the commit writes is dropped: the record is the one the commit saved', async () => {
    const { request, store, manager, jar } = setup();
    await request((s) => s.set('a', 1));
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    session.set('a', 2);
    store.hold = true;
    const committing = session.commit({ status: 200 });
    await vi.waitFor(() => expect(store.held.length).toBe(1));
    session.set('a', 3);
    expect(session.get('a')).toBe(2);
    store.held.shift()?.release();
    await committing;
    expect(store.peek(session.id as string)?.data).toEqual({ a: 2 });
  });

  it('a second commit changes nothing', async () => {
    const { session } = await setup().request((s) => s.set('a', 1));
    expect(await session.commit({ status: 500 })).toEqual([]);
  });
});

describe('cookies the server cannot vouch for', () => {
  it.each([
    ['tampered', (value: string) => `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`],
    ['unsigned', (value: string) => value.split('.')[0] as string],
    ['garbage', () => '%E0%A4%A'],
  ])('a %s cookie is never looked up and a write gets a fresh id', async (_, mangle) => {
    const { request, store, jar, id } = await signedIn();
    const cookie = jar.cookies.get('sid');
    jar.cookies.set('sid', { value: mangle(cookie?.value as string), attributes: {} });
    const { session, effects } = await request((s) => s.set('x', 1));
    expect(store.calls.filter((call) => call.startsWith('get'))).toEqual([]);
    expect(session.id).not.toBe(id);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
  });

  it('an unknown id never becomes a record (Django CVE-2015-5143)', async () => {
    const { request, store, jar } = setup();
    const forged = 'A'.repeat(32);
    jar.cookies.set('sid', { value: createSigner(SECRET).sign('sid', forged), attributes: {} });
    const { session, effects } = await request(async (s) => {
      await s.load();
      s.set('x', 1);
    });
    expect(session.id).not.toBe(forged);
    expect(store.peek(forged)).toBeUndefined();
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
  });

  it('a signed cookie whose record is gone is deleted once the session is used (Django)', async () => {
    const { request, jar } = setup();
    jar.cookies.set('sid', { value: createSigner(SECRET).sign('sid', 'B'.repeat(32)), attributes: {} });
    const { effects } = await request(async (s) => {
      await s.load();
      return s.get('x');
    });
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.delete', attributes: { path: '/' } });
  });

  it('a rejected cookie is never deleted: it may be a junk cookie planted on a longer path, and ours would go with it', async () => {
    const { request, jar, store } = setup();
    jar.cookies.set('sid', { value: 'nonsense', attributes: {} });
    const { effects } = await request((s) => s.get('x'));
    expect(sessionCookie(effects)).toBeUndefined();
    expect(types(effects)).toEqual(['header.vary']);
    expect(store.calls).toEqual([]);
  });

  it('a record past its own expiresAt is missing even if the store returns it (TTL lag)', async () => {
    const { request, store, id } = await signedIn();
    const record = store.peek(id);
    if (record === undefined) throw new Error('no record');
    store.records.set(id, { json: JSON.stringify({ ...record, meta: { ...record.meta, expiresAt: 0 } }), expiresAt: Infinity });
    const { result } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBeUndefined();
  });

  it.each([
    ['null', null],
    ['array', []],
    ['no meta', { data: {} }],
    ['bad times', { data: {}, meta: { createdAt: 'x' } }],
  ])('a corrupt record (%s) is treated as missing', async (_, corrupt) => {
    const { request, store, id } = await signedIn();
    store.records.set(id, { json: JSON.stringify(corrupt), expiresAt: Infinity });
    const { result, session } = await request(async (s) => {
      await s.load();
      s.set('fresh', true);
      return s.get('user');
    });
    expect(result).toBeUndefined();
    expect(session.id).not.toBe(id);
  });
});

describe('emptying and destroying', () => {
  it('a session emptied by the app is destroyed and its cookie deleted with the same path and domain', async () => {
    const { request, store, id } = await signedIn({ cookie: { path: '/app', domain: 'example.com' } });
    const { effects } = await request(async (s) => {
      await s.load();
      s.clear();
    });
    expect(store.peek(id)).toBeUndefined();
    expect(sessionCookie(effects)).toEqual({
      type: 'cookie.delete',
      name: 'sid',
      attributes: { path: '/app', domain: 'example.com', httpOnly: true, sameSite: 'lax', secure: false },
    });
  });

  it('destroy deletes the record in one round trip, without loading it, and deletes the cookie', async () => {
    const { request, store, id, jar } = await signedIn();
    const { effects } = await request((s) => s.destroy());
    expect(store.calls).toEqual([`destroy ${id}`]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.delete' });
    expect(jar.cookies.has('sid')).toBe(false);
  });

  it('a write after destroy starts a new session under a new id', async () => {
    const { request, store, id } = await signedIn();
    const { session } = await request(async (s) => {
      await s.destroy();
      s.set('again', true);
    });
    expect(session.id).not.toBe(id);
    expect(store.peek(id)).toBeUndefined();
    expect(store.peek(session.id as string)?.data).toEqual({ again: true });
  });

  it("a destroy the app doesn't await leaves the session usable at once: empty, and a write starts a new session", async () => {
    const { manager, jar, store, id } = await signedIn();
    store.hold = true;
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    // Koa's `ctx.session = null`, express-session's `req.session.destroy()` without its callback.
    const destroying = session.destroy();
    expect([session.get('user'), session.keys(), session.id]).toEqual([undefined, [], undefined]);
    session.set('again', true);
    const newId = session.id;
    expect(newId).toBeDefined();
    expect(newId).not.toBe(id);
    store.hold = false;
    for (const call of store.held.splice(0)) call.release();
    await destroying;
    const effects = await session.commit({ status: 200 });
    expect(store.peek(id)).toBeUndefined();
    expect([session.id, store.peek(newId as string)?.data]).toEqual([newId, { again: true }]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
  });

  it('a destroy that fails after the app wrote meanwhile keeps the new session', async () => {
    const { manager, jar, store, id } = await signedIn();
    store.hold = true;
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    const destroying = session.destroy();
    session.set('again', true);
    store.hold = false;
    for (const call of store.held.splice(0)) call.fail();
    await expect(destroying).rejects.toBeInstanceOf(SessStoreError);
    expect(session.get('again')).toBe(true);
    await session.commit({ status: 200 });
    expect(store.peek(session.id as string)?.data).toEqual({ again: true });
    expect(session.id).not.toBe(id);
  });

  it('a failed destroy rejects, and the commit still clears the cookie', async () => {
    const { manager, jar, store } = await signedIn();
    store.failing.add('destroy');
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await expect(session.destroy()).rejects.toBeInstanceOf(SessStoreError);
    const effects = await session.commit({ status: 500 });
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.delete' });
  });
});

describe('sign-out after the response (destroy once the commit has begun)', () => {
  it("destroys the record the commit left, as express-session's destroy does after res.end", async () => {
    const { manager, jar, store, id } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    expect(session.get('user')).toBe('ada');
    expect(await session.commit({ status: 302 })).toEqual([{ type: 'header.vary', value: 'Cookie' }]);
    await session.destroy();
    expect(store.peek(id)).toBeUndefined();
    expect([session.id, session.keys()]).toEqual([undefined, []]);
    // The browser's cookie now names nothing: its next request is a new visitor.
    const next = manager.begin({ cookieHeader: jar.header(), secure: false });
    await next.load();
    expect(next.get('user')).toBeUndefined();
  });

  it('destroys the record the commit itself saved, under a new id after regenerate', async () => {
    const { manager, jar, store, id } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    await session.regenerate();
    session.set('role', 'admin');
    await session.commit({ status: 200 });
    const newId = session.id as string;
    expect(store.peek(newId)?.data).toEqual({ user: 'ada', role: 'admin' });
    store.calls.length = 0;
    await session.destroy();
    expect(store.calls).toEqual([`destroy ${newId}`]);
    expect([store.peek(newId), store.peek(id)]).toEqual([undefined, undefined]);
  });

  it('after a 5xx that moved nothing from a regenerate, destroys the client record the browser still names', async () => {
    const { manager, jar, store, id } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    await session.regenerate();
    await session.commit({ status: 500 });
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });
    store.calls.length = 0;
    await session.destroy();
    expect(store.calls).toEqual([`destroy ${id}`]);
    expect(store.peek(id)).toBeUndefined();
  });

  it("after a commit whose write failed, destroys both the new id's record and the client's", async () => {
    const { manager, jar, store, id } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    await session.regenerate();
    store.failing.add('set');
    await expect(session.commit({ status: 200 })).rejects.toBeInstanceOf(SessStoreError);
    const newId = session.id as string;
    store.failing.delete('set');
    store.calls.length = 0;
    await session.destroy();
    expect(store.calls).toEqual([`destroy ${newId}`, `destroy ${id}`]);
    expect(store.peek(id)).toBeUndefined();
  });

  it('after a failed load, a second load and reads answer as an empty session (an error page reads nobody), and a change is dropped', async () => {
    const { manager, jar, store } = await signedIn();
    store.failing.add('get');
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await expect(session.load()).rejects.toBeInstanceOf(SessStoreError);
    expect([session.get('user'), session.has('user'), session.keys()]).toEqual([undefined, false, []]);
    session.set('user', 'mallory');
    expect(session.get('user')).toBeUndefined();
    await session.load();
    expect(session.keys()).toEqual([]);
    expect(await session.commit({ status: 503 })).toEqual([]);
    expect(session.get('user')).toBeUndefined();
  });

  it('after a failed load, destroys the record the cookie names', async () => {
    const { manager, jar, store, id } = await signedIn();
    store.failing.add('get');
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await expect(session.load()).rejects.toBeInstanceOf(SessStoreError);
    store.failing.delete('get');
    await session.destroy();
    expect(store.peek(id)).toBeUndefined();
    expect(await session.commit({ status: 503 })).toEqual([]);
  });

  it('waits for a commit still writing, then destroys what it wrote', async () => {
    const { manager, jar, store, id } = await signedIn();
    store.hold = true;
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    const loading = session.load();
    for (const call of store.held.splice(0)) call.release();
    await loading;
    session.set('views', 1);
    const committing = session.commit({ status: 200 });
    const destroying = session.destroy();
    store.hold = false;
    for (const call of store.held.splice(0)) call.release();
    await committing;
    await destroying;
    expect(store.peek(id)).toBeUndefined();
  });

  it('asks nothing of the store when the commit left no record, and a second sign-out joins the first', async () => {
    const { manager, store } = setup();
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    await session.load();
    session.get('user');
    await session.commit({ status: 200 });
    await session.destroy();
    await session.destroy();
    expect(store.calls).toEqual([]);
  });

  it('rejects with the store failure, and the session is still the empty one', async () => {
    const { manager, jar, store } = await signedIn();
    store.failing.add('destroy');
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    await session.commit({ status: 200 });
    await expect(session.destroy()).rejects.toBeInstanceOf(SessStoreError);
    expect(session.keys()).toEqual([]);
  });

  it('is refused on a read-only request, and with cookie sessions, whose record is the cookie that has already left', async () => {
    const { manager, jar, store, id } = await signedIn();
    const readOnly = manager.begin({ cookieHeader: jar.header(), secure: false, readOnly: true });
    await readOnly.load();
    await readOnly.commit({ status: 200 });
    await expect(readOnly.destroy()).rejects.toThrow(/read-only/);
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });

    const cookies = setup({ store: cookieSessions({ secret: SECRET }) });
    await cookies.request((s) => s.set('user', 'ada'));
    const inCookie = cookies.manager.begin({ cookieHeader: cookies.jar.header(), secure: false });
    await inCookie.load();
    await inCookie.commit({ status: 200 });
    await expect(inCookie.destroy()).rejects.toThrow(/the commit has begun/);
  });
});

describe('regenerate', () => {
  it('moves the data to a new id, saves it, then destroys the old record', async () => {
    const { request, store, id } = await signedIn();
    const { session, effects } = await request((s) => s.regenerate());
    const newId = session.id as string;
    expect(newId).not.toBe(id);
    expect(store.calls).toEqual([`get ${id}`, `set ${newId}`, `destroy ${id}`]);
    expect(store.peek(newId)?.data).toEqual({ user: 'ada' });
    expect(store.peek(id)).toBeUndefined();
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set', value: createSigner(SECRET).sign('sid', newId) });
  });

  it('can drop the data', async () => {
    const { request, store } = await signedIn();
    const { session } = await request(async (s) => {
      await s.regenerate({ keepData: false });
      s.set('fresh', 1);
    });
    expect(store.peek(session.id as string)?.data).toEqual({ fresh: 1 });
  });

  it('on a 500 nothing moves: the old session stays valid', async () => {
    const { request, store, id, jar } = await signedIn();
    const before = jar.cookies.get('sid');
    const { effects } = await request((s) => s.regenerate(), { status: 500 });
    expect(store.peek(id)).toBeDefined();
    expect(sessionCookie(effects)).toBeUndefined();
    expect(jar.cookies.get('sid')).toEqual(before);
  });
});

describe('regenerate with a grace window', () => {
  const GRACE = 5_000;

  /** Signs in under a first id, then regenerates; returns the cookie header the old id travelled in. */
  async function rotated(options: Parameters<typeof setup>[0] = {}) {
    const world = await signedIn({ regenerateGraceMs: GRACE, ...options });
    const oldCookie = world.jar.header();
    const { session } = await world.request(async (s) => {
      await s.regenerate();
      s.set('user', 'ada (signed in)');
    });
    world.store.calls.length = 0;
    /** A request that left the browser before the regenerate response came back. */
    const inFlight = async (handle: (s: Session) => unknown) => {
      const old = world.manager.begin({ cookieHeader: oldCookie, secure: false });
      await old.load();
      const result = await handle(old);
      return { result, effects: await old.commit({ status: 200 }), session: old };
    };
    return { ...world, newId: session.id as string, inFlight };
  }

  it('keeps the old record as loaded, marked retired, for the grace window only', async () => {
    const { request, store, id, clock } = await signedIn({ regenerateGraceMs: GRACE });
    const before = store.peek(id);
    const { session } = await request(async (s) => {
      await s.regenerate();
      s.set('user', 'ada (signed in)');
    });
    const newId = session.id as string;
    expect(store.calls).toEqual([`get ${id}`, `set ${newId}`, `touch ${id}`]);
    expect(store.peek(id)).toEqual({ data: before?.data, meta: { ...before?.meta, expiresAt: clock.now() + GRACE, retired: true } });
    expect(store.peek(newId)?.data).toEqual({ user: 'ada (signed in)' });
  });

  it('an in-flight request with the old cookie reads the old data and sends no cookie, writes nothing', async () => {
    const { inFlight, store } = await rotated();
    const { result, effects } = await inFlight((s) => s.get('user'));
    // The data as it was before regenerate: what the new id holds never leaks to the old one.
    expect(result).toBe('ada');
    expect(effects).toEqual([{ type: 'header.vary', value: 'Cookie' }]);
    expect(store.calls.filter((call) => !call.startsWith('get '))).toEqual([]);
  });

  it('refuses a change to the retired session, since it would be saved nowhere', async () => {
    const { inFlight } = await rotated();
    await expect(inFlight((s) => s.set('cart', 1))).rejects.toThrow(SessUsageError);
  });

  it('a saveNow() the store refuses (a racing regenerate retired the record) deletes no cookie, as a refused commit write', async () => {
    const world = await signedIn({ regenerateGraceMs: GRACE });
    const slow = world.manager.begin({ cookieHeader: world.jar.header(), secure: false });
    await slow.load();
    // The racing sign-in commits first: the browser now holds the new id's cookie.
    const { session: signIn } = await world.request(async (s) => {
      await s.regenerate();
      s.set('user', 'ada (signed in)');
    });
    slow.set('cart', 1);
    await slow.saveNow();
    const effects = await slow.commit({ status: 200 });
    // Deleting "the" session cookie would sign the browser out of the racing request's new session.
    expect(sessionCookie(effects)).toBeUndefined();
    expect(world.store.peek(signIn.id as string)?.data).toEqual({ user: 'ada (signed in)' });
  });

  it('never retires the old id with what the new id holds, even after saveNow() and reload() (a store without touch)', async () => {
    const world = setup({ regenerateGraceMs: GRACE });
    // `touch` is optional: without it the retire re-saves the record it carries.
    delete (world.store as { touch?: unknown }).touch;
    await world.request((s) => s.set('user', 'ada'));
    const oldCookie = world.jar.header();
    await world.request(async (s) => {
      await s.load();
      await s.regenerate();
      s.set('user', 'ada (signed in)');
      s.set('token', 'signed-in secret');
      await s.saveNow();
      await s.reload();
    });
    const old = world.manager.begin({ cookieHeader: oldCookie, secure: false });
    await old.load();
    expect([old.get('user'), old.get('token')]).toEqual(['ada', undefined]);
  });

  it('lets a racing sign-in regenerate from the retired session, and a racing sign-out destroy it', async () => {
    const { inFlight, store, id, newId } = await rotated();
    const signIn = await inFlight(async (s) => {
      await s.regenerate();
      s.set('user', 'ada again');
    });
    const thirdId = signIn.session.id as string;
    expect(store.peek(thirdId)?.data).toEqual({ user: 'ada again' });
    expect(sessionCookie(signIn.effects)).toMatchObject({ type: 'cookie.set', value: createSigner(SECRET).sign('sid', thirdId) });
    const signOut = await inFlight((s) => s.destroy());
    expect(store.peek(id)).toBeUndefined();
    expect(sessionCookie(signOut.effects)).toMatchObject({ type: 'cookie.delete' });
    expect(store.peek(newId)).toBeDefined();
  });

  it('after the window the old cookie finds nothing, and a retired record never outlives its own expiry', async () => {
    const { inFlight, clock } = await rotated();
    clock.advance(GRACE);
    const { result } = await inFlight((s) => s.get('user'));
    expect(result).toBeUndefined();

    const short = await signedIn({ regenerateGraceMs: GRACE, maxAgeMs: 2_000 });
    const expiresAt = short.store.peek(short.id)?.meta.expiresAt;
    await short.request((s) => s.regenerate());
    expect(short.store.peek(short.id)?.meta).toMatchObject({ expiresAt, retired: true });
  });

  it('is off by default and refuses a bad value or cookie sessions', () => {
    const store = testStore(Date.now);
    expect(() => createSessionManager({ secret: SECRET, store, regenerateGraceMs: -1 })).toThrow(SessConfigError);
    expect(() => createSessionManager({ secret: SECRET, store, regenerateGraceMs: Number.NaN })).toThrow(SessConfigError);
    expect(() => createSessionManager({ secret: SECRET, store: cookieSessions({ secret: SECRET }), regenerateGraceMs: 1 })).toThrow(
      SessConfigError,
    );
  });
});

describe('server errors', () => {
  it('a response >= 500 saves nothing (Django #3881)', async () => {
    const { request, store } = setup();
    const { effects } = await request((s) => s.set('a', 1), { status: 500 });
    expect(store.calls).toEqual([]);
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('saveOnServerError saves anyway', async () => {
    const { request, store } = setup({ saveOnServerError: true });
    const { session } = await request((s) => s.set('a', 1), { status: 503 });
    expect(store.peek(session.id as string)).toBeDefined();
  });

  it('a commit after the headers left writes nothing, even with saveOnServerError', async () => {
    const { manager, store } = setup({ saveOnServerError: true });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    session.set('a', 1);
    const effects = await session.commit({ status: 200, headersSent: true });
    expect(store.calls).toEqual([]);
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('a failed save rejects the commit and sends no cookie', async () => {
    const { manager, store } = setup();
    store.failing.add('set');
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    session.set('a', 1);
    await expect(session.commit({ status: 200 })).rejects.toMatchObject({ code: 'store_failed', op: 'set', statusHint: 503 });
  });

  it('a store that never answers times out with a typed error', async () => {
    vi.useFakeTimers();
    const { manager, store, jar } = await signedIn({ storeTimeoutMs: 1000 });
    store.hold = true;
    const loading = manager.begin({ cookieHeader: jar.header(), secure: false }).load();
    const outcome = expect(loading).rejects.toMatchObject({ code: 'store_timeout', op: 'get' });
    await vi.advanceTimersByTimeAsync(1000);
    await outcome;
  });

  it("a store's own timeout reaches the app as store_timeout, the store's error as its cause", async () => {
    const events: SessionEvent[] = [];
    const { manager, store, jar } = await signedIn({ onEvent: (event) => void events.push(event) });
    store.hold = true;
    const loading = manager.begin({ cookieHeader: jar.header(), secure: false }).load();
    const timeout = new SessStoreError('test', 'get', new Error('statement timeout'), true);
    store.held[0]?.fail(timeout);
    await expect(loading).rejects.toMatchObject({ code: 'store_timeout', op: 'get', statusHint: 503, cause: timeout });
    expect(events.filter((event) => event.type === 'storeError')).toMatchObject([{ op: 'get', code: 'store_timeout' }]);
  });
});

afterEach(() => void vi.useRealTimers());

describe('expiry', () => {
  it('setExpiry(0) makes a browser-session cookie', async () => {
    const { request } = setup();
    const { effects } = await request((s) => {
      s.set('a', 1);
      s.setExpiry(0);
    });
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    expect(sessionCookie(effects)).not.toHaveProperty('attributes.maxAgeMs');
  });

  it("endsWithBrowser follows the session's own setting, then the request default, then the manager default, and a loaded record keeps it", async () => {
    const seen: boolean[] = [];
    const { request } = await signedIn();
    await request(async (s) => {
      await s.load();
      seen.push(s.endsWithBrowser);
      s.setExpiry(0);
      seen.push(s.endsWithBrowser);
    });
    await request(async (s) => {
      await s.load();
      seen.push(s.endsWithBrowser);
      s.setExpiry(60);
      seen.push(s.endsWithBrowser);
    });
    expect(seen).toEqual([false, true, true, false]);
    const browserByDefault = setup({ expireAtBrowserClose: true });
    await browserByDefault.request((s) => void seen.push(s.endsWithBrowser));
    seen.push(setup().manager.begin({ cookieHeader: undefined, secure: false, maxAgeMs: null }).endsWithBrowser);
    expect(seen.slice(4)).toEqual([true, true]);
  });

  it('expireAtBrowserClose makes every cookie a browser-session cookie', async () => {
    const { request } = setup({ expireAtBrowserClose: true });
    const { effects } = await request((s) => s.set('a', 1));
    expect(sessionCookie(effects)).not.toHaveProperty('attributes.expires');
  });

  it('setExpiry(seconds) re-sends the cookie and sets the record TTL', async () => {
    const { request, store, id, clock } = await signedIn();
    const { effects } = await request(async (s) => {
      await s.load();
      s.setExpiry(60);
    });
    expect(sessionCookie(effects)).toMatchObject({ attributes: { maxAgeMs: 60_000 } });
    expect(store.records.get(id)?.expiresAt).toBe(clock.now() + 60_000);
    expect(store.peek(id)?.meta.expiry).toEqual({ kind: 'duration', ms: 60_000 });
  });

  it('setExpiry(Date) ends the session at that instant', async () => {
    const { request, clock } = setup();
    const at = new Date(clock.now() + 3_600_000);
    const { effects } = await request((s) => {
      s.set('a', 1);
      s.setExpiry(at);
    });
    expect(sessionCookie(effects)).toMatchObject({ attributes: { expires: at.getTime() } });
  });

  it('setExpiry(null) goes back to the default', async () => {
    const { request, store, id } = await signedIn();
    await request(async (s) => {
      await s.load();
      s.setExpiry(0);
    });
    const { effects } = await request(async (s) => {
      await s.load();
      s.setExpiry(null);
    });
    expect(sessionCookie(effects)).toMatchObject({ attributes: { maxAgeMs: DAY } });
    expect(store.peek(id)?.meta.expiry).toBeUndefined();
  });

  it.each([
    ['reload() of a session never saved drops its setExpiry with its data', false],
    ['reload() after saveNow() takes the lifetime saved, dropping a later setExpiry', true],
  ] as const)('%s', async (_, savedFirst) => {
    const { request, store } = setup();
    const { effects, session } = await request(async (s) => {
      s.set('a', 1);
      if (savedFirst) await s.saveNow();
      s.setExpiry(0);
      await s.reload();
      s.set('b', 2);
    });
    expect(sessionCookie(effects)).toMatchObject({ attributes: { maxAgeMs: DAY } });
    expect(store.peek(session.id as string)?.meta.expiry).toBeUndefined();
  });

  it('a session started after sign-out takes the default lifetime, not the signed-out one', async () => {
    const { request, store } = await signedIn();
    await request(async (s) => {
      await s.load();
      s.setExpiry(0);
    });
    const { effects, session } = await request(async (s) => {
      await s.load();
      await s.destroy();
      s.set('cart', ['book']);
    });
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set', attributes: { maxAgeMs: DAY } });
    expect(store.peek(session.id as string)?.meta.expiry).toBeUndefined();
  });

  it('a session started after a dead record on reload takes the default lifetime', async () => {
    const { request, store, clock } = await signedIn({ idleTimeoutMs: 60_000 });
    await request(async (s) => {
      await s.load();
      s.setExpiry(0);
    });
    const { effects, session } = await request(async (s) => {
      await s.load();
      clock.advance(61_000);
      await s.reload();
      s.set('cart', ['book']);
    });
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set', attributes: { maxAgeMs: DAY } });
    expect(store.peek(session.id as string)?.meta.expiry).toBeUndefined();
  });

  it('rejects a non-finite expiry', () => {
    const session = setup().manager.begin({ cookieHeader: undefined, secure: false });
    expect(() => session.setExpiry(Number.NaN)).toThrow(SessUsageError);
    expect(() => session.setExpiry(new Date(Number.NaN))).toThrow(SessUsageError);
  });
});

describe('timeouts, enforced from the stored record', () => {
  it('an idle session ends one ms after the idle timeout', async () => {
    const { request, clock } = await signedIn({ idleTimeoutMs: 60_000, touchAfterMs: 10_000 });
    clock.advance(60_000);
    const { result } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBeUndefined();
  });

  it('activity keeps an idle-timeout session alive with a touch', async () => {
    const { request, clock, store, id } = await signedIn({ idleTimeoutMs: 60_000, touchAfterMs: 10_000 });
    for (let minute = 0; minute < 5; minute++) {
      clock.advance(50_000);
      const { result } = await request(async (s) => {
        await s.load();
        return s.get('user');
      });
      expect(result).toBe('ada');
    }
    expect(store.calls.filter((call) => call.startsWith('touch'))).toHaveLength(5);
    expect(store.calls).not.toContain(`set ${id}`);
  });

  it('the absolute timeout ends a session despite constant activity', async () => {
    const { request, clock } = await signedIn({ absoluteTimeoutMs: 120_000, rolling: true });
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(50_000);
      const { result } = await request(async (s) => {
        await s.load();
        return s.get('user');
      });
      seen.push(result);
    }
    expect(seen).toEqual(['ada', 'ada', undefined]);
  });

  it('rolling touches the record and re-sends the cookie on every use', async () => {
    const { request, store, id } = await signedIn({ rolling: true });
    const { effects } = await request(async (s) => {
      await s.load();
      s.get('user');
    });
    expect(store.calls).toEqual([`get ${id}`, `touch ${id}`]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
  });

  it('rolling with the default touchAfterMs (0) still touches a record stamped a little ahead of this clock', async () => {
    // Another server's clock ran a second fast (well within the skew tolerance), or this one stepped back.
    const { request, store, id, clock } = await signedIn({ rolling: true });
    clock.advance(-1_000);
    const { effects } = await request(async (s) => {
      await s.load();
      s.get('user');
    });
    expect(store.calls).toEqual([`get ${id}`, `touch ${id}`]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
  });

  it('touch() re-sends the cookie without rolling', async () => {
    const { request, store, id } = await signedIn();
    const { effects } = await request(async (s) => {
      await s.load();
      s.touch();
    });
    expect(store.calls).toEqual([`get ${id}`, `touch ${id}`]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
  });

  it('saveEveryRequest leaves a prefetched but unused session alone', async () => {
    const { request, store, id } = await signedIn({ saveEveryRequest: true, rolling: true });
    const { effects } = await request((s) => s.load());
    expect(store.calls).toEqual([`get ${id}`]);
    expect(effects).toEqual([]);
  });

  it('saveEveryRequest saves a used session even unchanged', async () => {
    const { request, store, id } = await signedIn({ saveEveryRequest: true });
    await request(async (s) => {
      await s.load();
      s.get('user');
    });
    expect(store.calls).toEqual([`get ${id}`, `set ${id}`]);
  });

  it('saveEveryRequest does not write again a session saveNow() wrote and nothing changed since; a change since is written', async () => {
    const { request, store, id } = await signedIn({ saveEveryRequest: true });
    await request(async (s) => {
      await s.load();
      s.get('user');
      await s.saveNow();
    });
    expect(store.calls).toEqual([`get ${id}`, `set ${id}`]);
    store.calls.length = 0;
    await request(async (s) => {
      await s.load();
      await s.saveNow();
      s.set('user', 'grace');
    });
    expect(store.calls).toEqual([`get ${id}`, `set ${id}`, `set ${id}`]);
  });
});

describe('the test cookie', () => {
  it('round-trips through its own cookie without touching the store', async () => {
    const { request, store } = setup();
    const first = await request((s) => {
      s.setTestCookie();
      return s.testCookieWorked();
    });
    expect(first.result).toBe(false);
    expect(sessionCookie(first.effects, 'sid.test')).toMatchObject({ type: 'cookie.set', value: '1' });
    const second = await request((s) => {
      const worked = s.testCookieWorked();
      s.deleteTestCookie();
      return worked;
    });
    expect(second.result).toBe(true);
    expect(sessionCookie(second.effects, 'sid.test')).toMatchObject({ type: 'cookie.delete' });
    expect(store.calls).toEqual([]);
  });

  it('works before a returning visitor is loaded', async () => {
    const { request, store } = await signedIn();
    const { effects } = await request((s) => s.setTestCookie());
    expect(types(effects)).toEqual(['cookie.set', 'header.vary', 'header.cacheControl']);
    expect(store.calls).toEqual([]);
  });
});

describe('secret rotation', () => {
  it('accepts a cookie signed with an old secret and re-signs it with the new one', async () => {
    const { store, jar, id, clock } = await signedIn({ secret: OLD_SECRET });
    const rotated = createSessionManager({ secret: [SECRET, OLD_SECRET], store, clock: clock.now });
    const session = rotated.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    expect(session.get('user')).toBe('ada');
    const effects = await session.commit({ status: 200 });
    expect(sessionCookie(effects)).toMatchObject({ value: createSigner(SECRET).sign('sid', id) });
  });

  it('leaves it as it is on a read-only request: a writer in parallel may have moved the browser to a new id since', async () => {
    const { store, jar, clock } = await signedIn({ secret: OLD_SECRET });
    const rotated = createSessionManager({ secret: [SECRET, OLD_SECRET], store, clock: clock.now });
    const session = rotated.begin({ cookieHeader: jar.header(), secure: false, readOnly: true });
    await session.load();
    expect(session.get('user')).toBe('ada');
    expect(types(await session.commit({ status: 200 }))).toEqual(['header.vary']);
  });

  it('rejects it once the old secret is removed', async () => {
    const { store, jar, clock } = await signedIn({ secret: OLD_SECRET });
    const rotated = createSessionManager({ secret: SECRET, store, clock: clock.now });
    const session = rotated.begin({ cookieHeader: jar.header(), secure: false });
    expect(session.get('user')).toBeUndefined();
  });
});

describe('data', () => {
  it('keeps hostile keys as data and leaves Object.prototype alone', async () => {
    const { request, store } = setup();
    const { session } = await request((s) => {
      s.set('__proto__', { polluted: true });
      s.set('constructor', 'x');
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const reloaded = await request(async (s) => {
      await s.load();
      return [s.get('__proto__'), s.keys()];
    });
    expect(reloaded.result).toEqual([{ polluted: true }, ['__proto__', 'constructor']]);
    expect(store.peek(session.id as string)).toBeDefined();
  });

  it('tells a delta-writing store which keys changed', async () => {
    const world = setup({}, { deltaWrites: true });
    const spy = vi.spyOn(world.store, 'set');
    await world.request((s) => s.set('a', 1));
    expect(spy.mock.calls[0]?.[3]).toEqual({ set: ['a'], deleted: [], created: true });
    await world.request(async (s) => {
      await s.load();
      s.set('b', 2);
      s.delete('a');
    });
    expect(spy.mock.calls[1]?.[3]).toEqual({ set: ['b'], deleted: ['a'], created: false });
  });

  it('two concurrent requests that change different keys both persist on a delta store', async () => {
    const world = setup({}, { deltaWrites: true });
    const { session } = await world.request((s) => s.set('start', 0));
    const header = world.jar.header();
    const one = world.manager.begin({ cookieHeader: header, secure: false });
    const two = world.manager.begin({ cookieHeader: header, secure: false });
    await Promise.all([one.load(), two.load()]);
    one.set('cart', ['book']);
    two.set('theme', 'dark');
    await Promise.all([one.commit({ status: 200 }), two.commit({ status: 200 })]);
    expect(world.store.peek(session.id as string)?.data).toEqual({ start: 0, cart: ['book'], theme: 'dark' });
  });

  it('reload() after regenerate() is refused before the new id is saved, and the session stays signed in (it used to start over empty)', async () => {
    const { request, store } = setup();
    await request((s) => s.set('user', 'ada'));
    const regenerated = await request(async (s) => {
      await s.load();
      await s.regenerate();
      await expect(s.reload()).rejects.toThrow(
        new SessUsageError(
          'reload is not allowed now: after regenerate(), the new id has nothing saved to re-read until it is saved (reload before regenerating) (session state: active)',
        ),
      );
      return s.get('user');
    });
    expect(regenerated.result).toBe('ada');
    expect(store.peek(regenerated.session.id as string)?.data).toEqual({ user: 'ada' });
    const after = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(after.result).toBe('ada');
    // Once the new id is saved, reload re-reads its record.
    await request(async (s) => {
      await s.load();
      await s.regenerate();
      await s.saveNow();
      s.set('user', 'mallory');
      await s.reload();
      expect(s.get('user')).toBe('ada');
    });
  });

  it('a change made inside a value get() handed out is saved, as express-session, koa-session and @fastify/session see it', async () => {
    const { request, store } = setup();
    const { session } = await request((s) => s.set('cart', { items: ['apple'] }));
    const id = session.id as string;
    await request(async (s) => {
      await s.load();
      (s.get('cart') as { items: string[] }).items.push('pear');
    });
    expect(store.peek(id)?.data).toEqual({ cart: { items: ['apple', 'pear'] } });
    // Read and left as it was: nothing to save.
    const writes = store.calls.filter((call) => call.startsWith('set')).length;
    await request(async (s) => {
      await s.load();
      s.get('cart');
    });
    expect(store.calls.filter((call) => call.startsWith('set')).length).toBe(writes);
    // A 5xx saves nothing, as for a set value.
    await request(
      async (s) => {
        await s.load();
        (s.get('cart') as { items: string[] }).items.length = 0;
      },
      { status: 500 },
    );
    expect(store.peek(id)?.data).toEqual({ cart: { items: ['apple', 'pear'] } });
    // reload() drops it, as it drops a set value.
    await request(async (s) => {
      await s.load();
      (s.get('cart') as { items: string[] }).items.push('plum');
      await s.reload();
    });
    expect(store.peek(id)?.data).toEqual({ cart: { items: ['apple', 'pear'] } });
    // A read-only request saves nothing, and fails nothing.
    const { effects } = await request(
      async (s) => {
        await s.load();
        (s.get('cart') as { items: string[] }).items.push('fig');
      },
      { readOnly: true },
    );
    expect(effects.some((effect) => effect.type === 'cookie.set')).toBe(false);
    expect(store.peek(id)?.data).toEqual({ cart: { items: ['apple', 'pear'] } });
  });

  it('a session without an id reports the lifetime its first save will give it, setExpiry included', async () => {
    const { request, clock } = setup({ maxAgeMs: 3_600_000 });
    const { result } = await request(async (s) => {
      await s.load();
      const before = [s.id, s.expiresAt, s.maxAgeMs];
      s.setExpiry(60);
      return [...before, s.expiresAt, s.maxAgeMs];
    });
    expect(result).toEqual([undefined, clock.now() + 3_600_000, 3_600_000, clock.now() + 60_000, 60_000]);
  });

  it('reload drops unsaved changes', async () => {
    const { request } = await signedIn();
    const { result } = await request(async (s) => {
      await s.load();
      s.set('user', 'mallory');
      await s.reload();
      return s.get('user');
    });
    expect(result).toBe('ada');
  });
});

describe('configuration', () => {
  it('refuses a custom generator whose ids a cookie could never carry back, at construction', () => {
    expect(() => setup({ generateId: () => 'not/an id' })).toThrow(/generateId returned "not\/an id": ids must be/);
    expect(() => setup({ generateId: () => 42 as unknown as string })).toThrow(/generateId returned 42/);
  });

  it('refuses a malformed id from a generator that passed at construction, at the request that gets it', async () => {
    let calls = 0;
    const { manager } = setup({ generateId: () => (++calls <= 2 ? `${calls}`.repeat(32) : 'not/an id') });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    expect(() => session.set('a', 1)).toThrow(/generateId returned "not\/an id"/);
  });

  it('refuses a generator that returns the same id twice at construction: every visitor would share one session', () => {
    expect(() => setup({ generateId: () => 'a'.repeat(32) })).toThrow(/generateId returned "a{32}" twice: ids must be random/);
  });

  it('refuses a new id equal to the one the session has: regenerate would save the record and then destroy it', async () => {
    const { request, store, manager, jar } = setup();
    const { session } = await request((s) => s.set('user', 'ada'));
    const id = session.id as string;
    const again = manager.begin({ cookieHeader: jar.header(), secure: false, generateId: () => id });
    await again.load();
    await expect(again.regenerate()).rejects.toThrow(/generateId returned the id this session already has/);
    expect(await again.commit({ status: 500 })).not.toContainEqual(expect.objectContaining({ type: 'cookie.set' }));
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });
  });

  it('checks a generator that throws at construction at each use instead', async () => {
    let ready = false;
    const { request } = setup({
      generateId: () => {
        if (!ready) throw new Error('not ready');
        return 'b'.repeat(32);
      },
    });
    ready = true;
    const { session } = await request((s) => s.set('a', 1));
    expect(session.id).toBe('b'.repeat(32));
  });

  it('accepts well-formed custom ids such as UUIDs', async () => {
    const { request } = setup({ generateId: () => crypto.randomUUID() });
    const { session } = await request((s) => s.set('a', 1));
    expect(session.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(session.maxAgeMs).toBe(86_400_000);
  });

  it('refuses a touchAfterMs that is not shorter than idleTimeoutMs: no touch would be due before the session timed out', async () => {
    expect(() => setup({ idleTimeoutMs: 60_000, touchAfterMs: 60_000 })).toThrow(
      /touchAfterMs \(60000\) must be shorter than idleTimeoutMs \(60000\)/,
    );
    expect(() => setup({ idleTimeoutMs: 60_000, touchAfterMs: 90_000 })).toThrow(SessConfigError);
    // Just under the deadline, a session used every 30 s stays alive.
    const { request, clock } = setup({ idleTimeoutMs: 60_000, touchAfterMs: 30_000 });
    await request(async (s) => {
      await s.load();
      s.set('user', 'ada');
    });
    for (let visit = 0; visit < 4; visit++) {
      clock.advance(30_000);
      const { result } = await request(async (s) => {
        await s.load();
        return s.get('user');
      });
      expect(result).toBe('ada');
    }
  });

  it('a custom clock that answers NaN after construction fails its request before the store write', async () => {
    let time = 1_700_000_000_000;
    const { manager, store } = setup({ clock: () => time });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    session.set('a', 1);
    time = Number.NaN;
    await expect(async () => session.commit({ status: 200 })).rejects.toMatchObject({
      name: 'SessConfigError',
      message: /clock must return/,
    });
    expect(store.calls).toEqual([]);
  });

  it('refuses a short secret, a missing store and a bad number at construction', () => {
    const store = testStore(Date.now);
    expect(() => createSessionManager({ secret: 'short', store })).toThrow(SessConfigError);
    expect(() => createSessionManager({ secret: SECRET } as never)).toThrow(/store is required/);
    expect(() => createSessionManager({ secret: SECRET, store, maxAgeMs: -1 })).toThrow(SessConfigError);
  });

  it.each([
    ['a cookie name that is not a token', { name: 'sid;x' }],
    ['a path without a leading slash', { cookie: { path: 'admin' } }],
    ['a domain that is not a host name', { cookie: { domain: 'exa mple.com' } }],
    ['a domain that is not a string (Domain=5 would be sent)', { cookie: { domain: 5 } }],
    ['a path that is not a string', { cookie: { path: ['/'] } }],
    ['SameSite=None on a cookie that is never Secure', { cookie: { sameSite: 'none', secure: false } }],
    ['a SameSite browsers cannot parse', { cookie: { sameSite: 'Lax' } }],
    ['a Domain on a __Host- cookie', { name: '__Host-sid', cookie: { domain: 'example.com' } }],
    ['secure: false on a __Host- cookie, which is always Secure', { name: '__Host-sid', cookie: { secure: false } }],
    ['secure: false on a __Secure- cookie, which is always Secure', { name: '__secure-sid', cookie: { secure: false } }],
  ] as const)('refuses %s at construction, before any request writes the store', (_, options) => {
    const store = testStore(Date.now);
    expect(() => createSessionManager({ secret: SECRET, store, ...(options as Partial<SessionManagerOptions>) })).toThrow(
      expect.objectContaining({ name: 'SessConfigError', code: 'cookie_invalid' }),
    );
    expect(store.calls).toEqual([]);
  });

  it.each([
    ['SameSite=None', { sameSite: 'none' }],
    ['Partitioned', { partitioned: true }],
  ] as const)('refuses %s unless secure is true: with secure: auto a plain request would get a cookie browsers drop', (_, cookie) => {
    expect(() => setup({ cookie })).toThrow(
      expect.objectContaining({ name: 'SessConfigError', code: 'cookie_invalid', message: expect.stringContaining('secure: true') }),
    );
    expect(() => setup({ cookie: { ...cookie, secure: true } })).not.toThrow();
  });

  it('sends SameSite=None with Secure, on plain requests too, when secure is true', async () => {
    const { manager } = setup({ cookie: { sameSite: 'none', secure: true } });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    session.set('a', 1);
    const cookie = (await session.commit({ status: 200 })).find((effect) => effect.type === 'cookie.set');
    expect(cookie?.attributes).toMatchObject({ sameSite: 'none', secure: true });
  });
});

describe('read-only requests', () => {
  it('a truthy readOnly that is not true (a regex match from a callback) counts as read-only: it fails closed', async () => {
    const { manager, jar } = await signedIn();
    const match = /^\/api\//.exec('/api/users') as unknown as boolean;
    const session = manager.begin({ cookieHeader: jar.header(), secure: false, readOnly: match });
    await session.load();
    expect(() => session.set('user', 'mallory')).toThrow(/read-only/);
  });

  it('read the session and write nothing, even with rolling and an idle timeout due', async () => {
    const { request, store, clock } = await signedIn({ rolling: true, idleTimeoutMs: 60_000 });
    clock.advance(30_000);
    const { effects, result } = await request(
      async (s) => {
        await s.load();
        return s.get('user');
      },
      { readOnly: true },
    );
    expect(result).toBe('ada');
    expect(types(effects)).toEqual(['header.vary']);
    expect(store.calls.map((call) => call.split(' ')[0])).toEqual(['get']);
  });

  it.each([
    ['set', (s: Session) => s.set('a', 1)],
    ['delete', (s: Session) => s.delete('user')],
    ['clear', (s: Session) => s.clear()],
    ['save', (s: Session) => s.save()],
    ['touch', (s: Session) => s.touch()],
    ['setExpiry', (s: Session) => s.setExpiry(60)],
    ['flash', (s: Session) => s.flash('info', 'hi')],
    ['regenerate', (s: Session) => s.regenerate()],
    ['destroy', (s: Session) => s.destroy()],
  ])('refuse %s with a usage error, and the record stays as it was', async (_, change) => {
    const { request, store, id } = await signedIn();
    await request(
      async (s) => {
        await s.load();
        await expect(Promise.resolve().then(() => change(s))).rejects.toBeInstanceOf(SessUsageError);
      },
      { readOnly: true },
    );
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });
  });

  it('leave the cookie alone when it names a record that is gone: a writer may have just moved the browser to a new id', async () => {
    const { request, store, id } = await signedIn();
    // What a regenerate on a parallel request leaves behind (no grace window): the old record is gone.
    await store.destroy(id);
    const { effects, result } = await request(
      async (s) => {
        await s.load();
        return s.get('user');
      },
      { readOnly: true },
    );
    expect(result).toBeUndefined();
    expect(types(effects)).toEqual(['header.vary']);
  });

  it('still run the test cookie, which is not session data', async () => {
    const { request } = setup();
    const { effects } = await request((s) => s.setTestCookie(), { readOnly: true });
    expect(sessionCookie(effects, 'sid.test')).toMatchObject({ type: 'cookie.set' });
  });
});

describe('flash messages', () => {
  it('are kept for the next request and read once', async () => {
    const { request } = setup();
    await request((s) => {
      s.flash('info', 'saved');
      s.flash('info', 'and mailed');
      s.flash('error', { field: 'name' });
    });
    const { result } = await request(async (s) => {
      await s.load();
      return [s.takeFlash('info'), s.takeFlash('info')];
    });
    expect(result).toEqual([['saved', 'and mailed'], []]);
    const rest = await request(async (s) => {
      await s.load();
      return [s.takeFlash(), s.takeFlash()];
    });
    expect(rest.result).toEqual([[{ field: 'name' }], []]);
  });

  it('leave no trace once taken: the emptied session is destroyed and its cookie deleted', async () => {
    const { request, store } = setup();
    const first = await request((s) => s.flash('info', 'hello'));
    const id = first.session.id as string;
    const { effects } = await request(async (s) => {
      await s.load();
      return s.takeFlash();
    });
    expect(store.peek(id)).toBeUndefined();
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.delete' });
  });

  it('taking none writes nothing', async () => {
    const { request, store } = await signedIn();
    const { result } = await request(async (s) => {
      await s.load();
      return s.takeFlash('info');
    });
    expect(result).toEqual([]);
    expect(store.calls.map((call) => call.split(' ')[0])).toEqual(['get']);
  });

  it('treat a kind named __proto__ as a kind, and ignore stored flash data of the wrong shape', async () => {
    const { request } = setup();
    await request((s) => s.flash('__proto__', 'odd'));
    const { result } = await request(async (s) => {
      await s.load();
      return s.takeFlash('__proto__');
    });
    expect(result).toEqual(['odd']);
    expect(Object.prototype).not.toHaveProperty('odd');
    const { result: wrong } = await request(async (s) => {
      await s.load();
      s.set('sess.flash', ['not', 'a', 'record']);
      return s.takeFlash();
    });
    expect(wrong).toEqual([]);
  });
});

describe('session events (onEvent)', () => {
  function recorder() {
    const events: SessionEvent[] = [];
    return { events, onEvent: (event: SessionEvent) => void events.push(event) };
  }

  it('reports created, regenerated and destroyed, with hashed ids only', async () => {
    const { events, onEvent } = recorder();
    const { request } = setup({ onEvent });
    const first = await request((s) => s.set('cart', 1));
    const firstId = first.session.id as string;
    const second = await request(async (s) => {
      await s.regenerate();
      s.set('user', 'ada');
    });
    const secondId = second.session.id as string;
    await request((s) => s.destroy());
    expect(events).toEqual([
      { type: 'created', idHash: hashId(firstId) },
      { type: 'regenerated', idHash: hashId(secondId), previousIdHash: hashId(firstId) },
      { type: 'destroyed', idHash: hashId(secondId) },
    ]);
    const logged = JSON.stringify(events);
    expect(logged).not.toContain(firstId);
    expect(logged).not.toContain(secondId);
  });

  it('reports a regeneration once, from the id the client held, when the new id is first written', async () => {
    const { events, onEvent } = recorder();
    const { request } = setup({ onEvent });
    const first = await request((s) => s.set('cart', 1));
    const firstId = first.session.id as string;
    events.length = 0;
    // Twice in one request, written early with saveNow and again at commit: one move, from the client's id.
    const second = await request(async (s) => {
      await s.regenerate();
      await s.regenerate();
      await s.saveNow();
      s.set('user', 'ada');
    });
    expect(events).toEqual([{ type: 'regenerated', idHash: hashId(second.session.id as string), previousIdHash: hashId(firstId) }]);
    // Signed out right after a regeneration: the client's record is deleted, and a new session later is created.
    events.length = 0;
    const third = await request(async (s) => {
      await s.regenerate();
      await s.destroy();
      s.set('visitor', true);
    });
    expect(events).toEqual([
      { type: 'destroyed', idHash: hashId(second.session.id as string) },
      { type: 'created', idHash: hashId(third.session.id as string) },
    ]);
  });

  it('reports a session whose record the store no longer has as gone', async () => {
    const { events, onEvent } = recorder();
    const { request, clock, id } = await signedIn({ onEvent });
    clock.advance(DAY);
    events.length = 0;
    await request((s) => s.load());
    expect(events).toEqual([{ type: 'expired', idHash: hashId(id), reason: 'gone' }]);
  });

  // The store keeps records ten times longer than asked (TTL lag), so the record's own times decide.
  it.each([
    ['lifetime', {}, DAY],
    ['idle', { idleTimeoutMs: 60_000 }, 60_000],
    ['absolute', { absoluteTimeoutMs: 120_000, idleTimeoutMs: 100_000 }, 120_000],
  ] as const)('reports a %s expiry when the store returns a record past it', async (reason, options, afterMs) => {
    const { events, onEvent } = recorder();
    const world = setup({ ...options, onEvent });
    const store = world.store;
    const set = store.set.bind(store);
    const touch = (store.touch as NonNullable<typeof store.touch>).bind(store);
    store.set = (id, record, ttlMs, changes) => set(id, record, ttlMs * 10, changes);
    store.touch = (id, meta, ttlMs) => touch(id, meta, ttlMs * 10);
    const manager = createSessionManager({ secret: SECRET, store, clock: world.clock.now, ...options, onEvent });
    const first = manager.begin({ cookieHeader: undefined, secure: false });
    first.set('user', 'ada');
    const cookie = sessionCookie(await first.commit({ status: 200 }));
    const header = `sid=${(cookie as { value: string }).value}`;
    if (reason === 'absolute') {
      // Active every 50 s: only the absolute timeout can end it.
      for (let elapsed = 50_000; elapsed < afterMs; elapsed += 50_000) {
        world.clock.advance(50_000);
        const active = manager.begin({ cookieHeader: header, secure: false });
        await active.load();
        active.touch();
        await active.commit({ status: 200 });
      }
      world.clock.advance(afterMs - 100_000);
    } else {
      world.clock.advance(afterMs);
    }
    events.length = 0;
    await manager.begin({ cookieHeader: header, secure: false }).load();
    expect(events).toEqual([{ type: 'expired', idHash: hashId(first.id as string), reason }]);
  });

  it('reports a failed store call with its operation, and a throwing listener breaks nothing', async () => {
    const events: SessionEvent[] = [];
    const { request, store } = setup({
      onEvent: (event) => {
        events.push(event);
        throw new Error('logger down');
      },
    });
    await request((s) => s.set('a', 1));
    store.failing.add('set');
    await expect(
      request(async (s) => {
        await s.load();
        s.set('a', 2);
      }),
    ).rejects.toMatchObject({ code: 'store_failed' });
    expect(events.map((event) => event.type)).toEqual(['created', 'storeError']);
    expect(events[1]).toMatchObject({ op: 'set', code: 'store_failed' });
  });
});

describe('schema and migrate on load', () => {
  /** A Standard Schema by hand: `views` must be a number; `theme` defaults to 'light'. */
  const schema: StandardSchemaV1 = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate: (value) => {
        const data = value as Record<string, unknown>;
        if (typeof data.views !== 'number') return { issues: [{ message: 'views must be a number' }] };
        return { value: { theme: 'light', ...data } };
      },
    },
  };

  async function stored(data: Record<string, unknown>, options: Parameters<typeof setup>[0]) {
    const events: SessionEvent[] = [];
    const world = await signedIn({}, data);
    const manager = createSessionManager({
      secret: SECRET,
      store: world.store,
      clock: world.clock.now,
      onEvent: (e) => void events.push(e),
      ...options,
    });
    return {
      ...world,
      manager,
      events,
      load: async () => {
        const session = manager.begin({ cookieHeader: world.jar.header(), secure: false });
        await session.load();
        return session;
      },
    };
  }

  it("uses the schema's output for data that passes", async () => {
    const { load } = await stored({ views: 3 }, { schema });
    const session = await load();
    expect([session.get('views'), session.get('theme')]).toEqual([3, 'light']);
  });

  it('treats data that fails as no session, and says so with a hashed id', async () => {
    const { load, events, id, store } = await stored({ views: 'three' }, { schema });
    const session = await load();
    expect(session.id).toBeUndefined();
    expect(session.keys()).toEqual([]);
    expect(events).toEqual([{ type: 'invalid', idHash: hashId(id) }]);
    expect(store.peek(id)).toBeDefined();
  });

  it('migrates an old shape before validating it', async () => {
    const migrate = (data: Record<string, unknown>) =>
      'count' in data
        ? { views: Number(data.count), ...Object.fromEntries(Object.entries(data).filter(([key]) => key !== 'count')) }
        : data;
    const { load } = await stored({ count: '7', user: 'ada' }, { schema, migrate });
    const session = await load();
    expect([session.get('views'), session.get('user'), session.has('count')]).toEqual([7, 'ada', false]);
  });

  it('treats a migrate that throws as invalid data, not a crashed request', async () => {
    const { load, events } = await stored(
      { views: 1 },
      {
        migrate: () => {
          throw new Error('bug in migrate');
        },
      },
    );
    expect((await load()).id).toBeUndefined();
    expect(events.map((event) => event.type)).toEqual(['invalid']);
  });

  it('refuses a schema that is asynchronous for every value at construction', () => {
    const asyncSchema: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'test', validate: async (value) => ({ value }) } };
    expect(() => createSessionManager({ secret: SECRET, store: testStore(Date.now), schema: asyncSchema })).toThrow(SessConfigError);
  });

  it('refuses a schema that turns asynchronous on loaded data, and leaves no rejection unhandled', async () => {
    // Synchronous for the construction's trial, then a promise that rejects (an async refinement that throws).
    const laterAsync: StandardSchemaV1 = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) => (Object.keys(value as object).length === 0 ? { value } : Promise.reject(new Error('refinement failed'))),
      },
    };
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      const { load } = await stored({ views: 1 }, { schema: laterAsync });
      await expect(load()).rejects.toBeInstanceOf(SessConfigError);
      // Node reports unhandled rejections once the microtasks have run, before the next check phase.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('unhandledRejection', note);
    }
    expect(unhandled).toEqual([]);
  });
});

describe("express-session's lifecycle rules (each off by default)", () => {
  it('saveUninitialized saves a new session the request used, empty or not, and sends its cookie', async () => {
    const { request, store } = setup({ saveUninitialized: true });
    const { effects, session } = await request((s) => s.get('anything'));
    expect(store.peek(session.id as string)?.data).toEqual({});
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    const untouched = setup({ saveUninitialized: true });
    expect((await untouched.request(() => undefined)).effects).toEqual([]);
    expect(untouched.store.calls).toEqual([]);
  });

  it('without saveUninitialized a session read but never written stays unsaved', async () => {
    const { request, store } = setup();
    await request((s) => s.get('anything'));
    expect(store.calls).toEqual([]);
  });

  it('keepEmptySessions saves an emptied session instead of destroying it, and keeps its cookie', async () => {
    const { request, store, id } = await signedIn({ keepEmptySessions: true });
    const { effects } = await request(async (s) => {
      await s.load();
      s.delete('user');
    });
    expect(store.calls).toEqual([`get ${id}`, `set ${id}`]);
    expect(store.peek(id)?.data).toEqual({});
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('touchEveryRequest extends a returning session on every use without re-sending its cookie', async () => {
    const { request, store, id } = await signedIn({ touchEveryRequest: true });
    const { effects } = await request(async (s) => {
      await s.load();
      s.get('user');
    });
    expect(store.calls).toEqual([`get ${id}`, `touch ${id}`]);
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('resendCookieOnChange re-sends a lasting cookie when a change is saved, not on a read or for a browser-session cookie', async () => {
    const { request, clock } = await signedIn({ resendCookieOnChange: true });
    clock.advance(1_000);
    const written = await request(async (s) => {
      await s.load();
      s.set('cart', 1);
    });
    expect(sessionCookie(written.effects)).toMatchObject({ type: 'cookie.set', attributes: { expires: clock.now() + DAY } });
    const read = await request(async (s) => {
      await s.load();
      s.get('cart');
    });
    expect(sessionCookie(read.effects)).toBeUndefined();
    const browser = await signedIn({ resendCookieOnChange: true, expireAtBrowserClose: true });
    const { effects } = await browser.request(async (s) => {
      await s.load();
      s.set('cart', 1);
    });
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('idAtStart gives a new session its id at once, and keeps it when the session is first written', async () => {
    const { manager, request } = setup({ idAtStart: true });
    const unused = manager.begin({ cookieHeader: undefined, secure: false });
    expect(unused.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(await unused.commit({ status: 200 })).toEqual([]);
    const { session, effects } = await request((s) => {
      const before = s.id;
      s.set('a', 1);
      expect(s.id).toBe(before);
    });
    expect(createSigner(SECRET).verify('sid', (sessionCookie(effects) as { value: string }).value)?.id).toBe(session.id);
  });

  it('idAtStart gives a session whose record is gone a new id, never the cookie names', async () => {
    const { request, store, id } = await signedIn({ idAtStart: true });
    store.records.delete(id);
    const { session } = await request((s) => s.load());
    expect(session.id).toBeDefined();
    expect(session.id).not.toBe(id);
  });
});

describe('saveNow (express-session save(callback))', () => {
  it('writes before the commit, and the commit writes again only after new changes', async () => {
    const { request, store } = setup();
    const { session, effects } = await request(async (s) => {
      s.set('user', 'ada');
      await s.saveNow();
      expect(store.peek(s.id as string)?.data).toEqual({ user: 'ada' });
    });
    const id = session.id as string;
    // Saved once; the commit only extends it and sends the new session's cookie.
    expect(store.calls.filter((call) => call.startsWith('set'))).toEqual([`set ${id}`]);
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    store.calls.length = 0;
    await request(async (s) => {
      await s.load();
      s.set('step', 1);
      await s.saveNow();
      s.set('step', 2);
    });
    expect(store.calls.filter((call) => call.startsWith('set'))).toEqual([`set ${id}`, `set ${id}`]);
    expect(store.peek(id)?.data).toEqual({ user: 'ada', step: 2 });
  });

  it('a session saved now and left unchanged is not written again; a rolling one still gets its cookie', async () => {
    for (const rolling of [false, true]) {
      const { request, store } = setup({ rolling, touchAfterMs: 0 });
      await request((s) => s.set('user', 'ada'));
      store.calls.length = 0;
      const { effects } = await request(async (s) => {
        await s.load();
        await s.saveNow();
      });
      expect(store.calls.filter((call) => !call.startsWith('get'))).toEqual([expect.stringMatching(/^set /)]);
      expect(sessionCookie(effects)?.type).toBe(rolling ? 'cookie.set' : undefined);
    }
  });

  it('rejects when the store fails, leaving the changes for the commit', async () => {
    const { request, store } = setup();
    const { session } = await request(async (s) => {
      s.set('user', 'ada');
      store.failing.add('set');
      await expect(s.saveNow()).rejects.toBeInstanceOf(SessStoreError);
      store.failing.delete('set');
    });
    expect(store.peek(session.id as string)?.data).toEqual({ user: 'ada' });
  });

  it('a new id saved now and then replaced, destroyed or reloaded leaves no orphan record', async () => {
    const { request, store } = setup();
    let saved = '';
    const regenerated = await request(async (s) => {
      s.set('a', 1);
      await s.saveNow();
      saved = s.id as string;
      await s.regenerate();
    });
    expect(store.peek(saved)).toBeUndefined();
    expect(store.peek(regenerated.session.id as string)?.data).toEqual({ a: 1 });
    const destroyed = setup();
    await destroyed.request(async (s) => {
      s.set('a', 1);
      await s.saveNow();
      await s.destroy();
    });
    expect(destroyed.store.records.size).toBe(0);
    const reloaded = setup();
    await reloaded.request(async (s) => {
      s.set('a', 1);
      await s.saveNow();
      s.set('a', 2);
      await s.reload();
      expect(s.get('a')).toBe(1);
    });
  });

  it('is refused after the commit', async () => {
    const { request } = setup();
    const { session } = await request((s) => s.set('a', 1));
    await expect(session.saveNow()).rejects.toBeInstanceOf(SessUsageError);
  });
});

describe('discard (express-session unset: keep)', () => {
  it('drops what the request changed: the commit writes and sends nothing', async () => {
    const { request, store, id } = await signedIn();
    const { effects } = await request(async (s) => {
      await s.load();
      s.set('user', 'mallory');
      await s.discard();
    });
    expect(effects).toEqual([]);
    expect(store.calls).toEqual([`get ${id}`]);
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });
  });

  it('a sign-out after letting go destroys the record, and the commit still sends nothing', async () => {
    const { request, store, id } = await signedIn();
    const { effects, session } = await request(async (s) => {
      await s.load();
      await s.discard();
      await s.destroy();
    });
    expect(effects).toEqual([]);
    expect(store.calls).toEqual([`get ${id}`, `destroy ${id}`]);
    expect(store.peek(id)).toBeUndefined();
    expect([session.id, session.keys()]).toEqual([undefined, []]);
  });
});

describe('after the commit', () => {
  it('reads return the data as committed, with no effect; writes are dropped', async () => {
    const { request, store, id } = await signedIn();
    const { session, effects } = await request(async (s) => {
      await s.load();
      s.set('views', 1);
    });
    expect(types(effects)).toEqual(['header.vary']);
    expect([session.get('user'), session.get('views'), session.has('views'), session.keys()]).toEqual(['ada', 1, true, ['user', 'views']]);
    session.set('views', 2);
    expect(session.get('views')).toBe(1);
    expect(await session.commit({ status: 200 })).toEqual([]);
    expect(store.peek(id)?.data).toEqual({ user: 'ada', views: 1 });
  });

  it('testCookieWorked() still answers, after the commit and after a failed store call', async () => {
    const { request, manager, store, jar } = setup();
    const { session } = await request((s) => s.setTestCookie());
    const returning = manager.begin({ cookieHeader: jar.header(), secure: false });
    expect(await returning.commit({ status: 200 })).toEqual([]);
    expect([session.testCookieWorked(), returning.testCookieWorked()]).toEqual([false, true]);
    store.failing.add('set');
    const failed = manager.begin({ cookieHeader: jar.header(), secure: false });
    failed.set('a', 1);
    await expect(failed.commit({ status: 200 })).rejects.toMatchObject({ code: 'store_failed' });
    expect(failed.testCookieWorked()).toBe(true);
  });

  it('load() of a session already loaded resolves after the commit and after a failed write, with no store call', async () => {
    const { request, store, manager, jar, id } = await signedIn();
    const { session } = await request(async (s) => {
      await s.load();
    });
    const calls = store.calls.length;
    await session.load();
    expect([session.get('user'), store.calls.length]).toEqual(['ada', calls]);
    store.failing.add('set');
    const failed = manager.begin({ cookieHeader: jar.header(), secure: false });
    await failed.load();
    failed.set('views', 1);
    await expect(failed.commit({ status: 200 })).rejects.toMatchObject({ code: 'store_failed' });
    await failed.load();
    expect(store.calls.slice(calls)).toEqual([`get ${id}`, `set ${id}`]);
  });

  it('a session that was never loaded stays unreadable', async () => {
    const { request } = await signedIn();
    const { session } = await request(() => undefined);
    expect(() => session.get('user')).toThrow(SessUsageError);
  });
});

describe('store work the app did not await', () => {
  it('the commit waits for an un-awaited reload', async () => {
    const { manager, jar, store, id } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    store.hold = true;
    const reloading = session.reload();
    await vi.waitFor(() => expect(store.held.map((call) => call.op)).toEqual(['get']));
    const reload = store.held.shift();
    let committed = false;
    const commit = Promise.resolve(session.commit({ status: 200 })).then((effects) => {
      committed = true;
      return effects;
    });
    await Promise.resolve();
    expect(committed).toBe(false);
    reload?.release();
    expect(await commit).toEqual([{ type: 'header.vary', value: 'Cookie' }]);
    await reloading;
    expect(store.calls).toEqual([`get ${id}`, `get ${id}`]);
  });
  it('a second destroy joins the first: one store call, both resolve, and the cookie is deleted', async () => {
    const { manager, jar, store, id } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    store.hold = true;
    const first = session.destroy();
    const second = session.destroy();
    await vi.waitFor(() => expect(store.held.map((call) => call.op)).toEqual(['destroy']));
    store.held.shift()?.release();
    await Promise.all([first, second]);
    expect(store.calls).toEqual([`destroy ${id}`]);
    expect(store.peek(id)).toBeUndefined();
    expect(sessionCookie(await session.commit({ status: 200 }))).toMatchObject({ type: 'cookie.delete' });
  });

  it('a second destroy joins the first when called: a write made after both is kept, one made between them goes', async () => {
    for (const [between, after, kept] of [
      [undefined, 'after', { after: true }],
      ['between', 'after', { after: true }],
      ['between', undefined, undefined],
    ] as const) {
      const { manager, jar, store, id } = await signedIn();
      const session = manager.begin({ cookieHeader: jar.header(), secure: false });
      store.hold = true;
      const first = session.destroy();
      if (between !== undefined) session.set(between, true);
      const second = session.destroy();
      expect(session.keys()).toEqual([]);
      if (after !== undefined) session.set(after, true);
      await vi.waitFor(() => expect(store.held.map((call) => call.op)).toEqual(['destroy']));
      store.hold = false;
      store.held.shift()?.release();
      await Promise.all([first, second]);
      expect(session.get(after ?? 'after')).toBe(kept === undefined ? undefined : true);
      await session.commit({ status: 200 });
      expect(store.peek(id)).toBeUndefined();
      expect(session.id === undefined ? undefined : store.peek(session.id)?.data).toEqual(kept);
    }
  });

  it('a failed destroy fails its own caller only; a destroy joining it finds the session ended', async () => {
    const { manager, jar, store } = await signedIn();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    store.failing.add('destroy');
    const first = session.destroy();
    const second = session.destroy();
    await expect(first).rejects.toBeInstanceOf(SessStoreError);
    await expect(second).resolves.toBeUndefined();
    expect(store.calls.filter((call) => call.startsWith('destroy'))).toHaveLength(1);
    expect(sessionCookie(await session.commit({ status: 500 }))).toMatchObject({ type: 'cookie.delete' });
  });

  it('a destroy, load, reload or regenerate made while a save is in flight runs after it', async () => {
    for (const [name, call, after] of [
      ['destroy', (s: Session) => s.destroy(), ['destroy']],
      ['load', (s: Session) => s.load(), []],
      ['reload', (s: Session) => s.reload(), ['get']],
      ['regenerate', (s: Session) => s.regenerate(), []],
    ] as const) {
      const { manager, jar, store, id } = await signedIn();
      const session = manager.begin({ cookieHeader: jar.header(), secure: false });
      await session.load();
      session.set('n', 1);
      store.hold = true;
      const saving = session.saveNow();
      const next = call(session);
      await vi.waitFor(() => expect(store.held.map((held) => held.op)).toEqual(['set']));
      store.hold = false;
      store.held.shift()?.release();
      await Promise.all([saving, next]);
      expect([name, store.calls]).toEqual([name, [`get ${id}`, `set ${id}`, ...after.map((op) => `${op} ${id}`)]]);
    }
  });
});

describe('options for peer formats', () => {
  const upper = {
    sign: (name: string, id: string) => `${id}.${name.toUpperCase()}`,
    verify: (name: string, value: string) =>
      value.endsWith(`.${name.toUpperCase()}`) ? { id: value.split('.')[0] as string, rotated: false } : undefined,
  };

  it('a signer replaces the secret: the cookie is its value, and what it verifies comes back', async () => {
    const manager = createSessionManager({ signer: upper, store: testStore(Date.now) });
    const first = manager.begin({ cookieHeader: undefined, secure: false });
    first.set('a', 1);
    const cookie = sessionCookie(await first.commit({ status: 200 })) as { value: string };
    expect(cookie.value).toBe(`${first.id}.SID`);
    const second = manager.begin({ cookieHeader: `sid=${cookie.value}`, secure: false });
    await second.load();
    expect(second.get('a')).toBe(1);
  });

  it('refuses a signer beside a secret, and a signer without its methods', () => {
    const store = testStore(Date.now);
    expect(() => createSessionManager({ secret: SECRET, signer: upper, store })).toThrow(/secret or signer, not both/);
    expect(() => createSessionManager({ signer: {} as never, store })).toThrow(/sign\(name, id\) and verify/);
  });

  it('takes the request-side id maker, store and lifetime, for adapters whose stores need the request', async () => {
    const { manager, store } = setup();
    const own = testStore(Date.now);
    const session = manager.begin({
      cookieHeader: undefined,
      secure: false,
      generateId: () => 'x'.repeat(32),
      store: own,
      maxAgeMs: 5_000,
    });
    session.set('a', 1);
    const effects = await session.commit({ status: 200 });
    expect(session.id).toBe('x'.repeat(32));
    expect(own.peek('x'.repeat(32))?.data).toEqual({ a: 1 });
    expect(store.calls).toEqual([]);
    expect(sessionCookie(effects)).toMatchObject({ attributes: { maxAgeMs: 5_000 } });
    const browser = manager.begin({ cookieHeader: undefined, secure: false, maxAgeMs: null });
    browser.set('a', 1);
    expect(sessionCookie(await browser.commit({ status: 200 }))).not.toHaveProperty('attributes.maxAgeMs');
    expect(() => manager.begin({ cookieHeader: undefined, secure: false, maxAgeMs: 10 })).toThrow(SessUsageError);
  });
});
