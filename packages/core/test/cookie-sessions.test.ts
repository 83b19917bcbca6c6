/**
 * Cookie sessions through the manager: the same session API, with the whole record sealed in the
 * cookie. Real crypto, the fake clock and the cookie jar from the fixtures; the test store is
 * never called (the server keeps nothing).
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SessConfigError,
  SessStoreError,
  SessUsageError,
  cookieSessions,
  createSessionManager,
  isCookieSessions,
  serializeCookie,
} from '../src/index.js';
import type { CookieAttributes, CookieSessionsOptions, HttpEffect, SessionEvent, SessionRecord } from '../src/index.js';
import type { LifecycleEvent } from '../src/machine.js';
import { createLifecycle, eventKey, inputKey } from '../src/runtime.js';
import { createSealer } from '../src/seal.js';
import type { SealMode } from '../src/seal.js';
import { SECRET, setup } from './fixtures.js';
import type { JarCookie } from './fixtures.js';

const COOKIE_SECRET = 'cookie-session-secret-at-least-32-bytes!';
const OLD_COOKIE_SECRET = 'the-previous-cookie-session-secret-32-bytes';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const sessionCookie = (effects: readonly HttpEffect[]) =>
  effects.find((effect) => (effect.type === 'cookie.set' || effect.type === 'cookie.delete') && effect.name === 'sid');

function world(options: Parameters<typeof setup>[0] = {}, cookie: Partial<CookieSessionsOptions> = {}) {
  const storage = cookieSessions({ secret: COOKIE_SECRET, ...cookie });
  const w = setup({ store: storage, ...options });
  const mode: SealMode = cookie.mode ?? 'encrypt';
  /** What the browser's session cookie holds, opened with the current key only. */
  const opened = () => {
    const value = w.jar.cookies.get('sid')?.value;
    const session = value === undefined ? undefined : cookieSessions({ secret: COOKIE_SECRET, mode }).open('sid', value)?.session;
    return session === undefined ? undefined : { id: session.id, data: session.record.data, meta: session.record.meta };
  };
  return { ...w, storage, opened, cookieValue: () => w.jar.cookies.get('sid')?.value };
}

describe.each(['encrypt', 'sign'] as SealMode[])('cookie sessions (%s)', (mode) => {
  it('an untouched visitor gets no cookie and no effects', async () => {
    const { request, store } = world({}, { mode });
    expect((await request(() => undefined)).effects).toEqual([]);
    expect((await request((s) => s.get('x'))).effects).toEqual([{ type: 'header.vary', value: 'Cookie' }]);
    expect(store.calls).toEqual([]);
  });

  it('the first write sets a cookie whose sealed payload holds the data, id and times', async () => {
    const { request, opened, clock, store } = world({}, { mode });
    const { effects, session } = await request((s) => s.set('views', 1));
    expect(sessionCookie(effects)).toMatchObject({
      type: 'cookie.set',
      attributes: { path: '/', httpOnly: true, sameSite: 'lax', secure: false, maxAgeMs: DAY, expires: clock.now() + DAY },
    });
    expect(effects.map((effect) => effect.type)).toEqual(['cookie.set', 'header.vary', 'header.cacheControl']);
    expect(opened()).toEqual({
      id: session.id,
      data: { views: 1 },
      meta: { createdAt: clock.now(), touchedAt: clock.now(), expiresAt: clock.now() + DAY },
    });
    expect(store.calls).toEqual([]);
  });

  it('seals the session as a list, [id, data, createdAt, touchedAt, expiresAt]: shorter than named keys', async () => {
    const { request, cookieValue, clock } = world({}, { mode });
    const { session } = await request((s) => s.set('views', 1));
    const value = cookieValue() as string;
    const sealer = createSealer(COOKIE_SECRET, mode);
    const now = clock.now();
    expect(sealer.open('sid', value)?.payload).toEqual([session.id, { views: 1 }, now, now, now + DAY]);
    const named = sealer.seal('sid', {
      id: session.id,
      data: { views: 1 },
      meta: { createdAt: now, touchedAt: now, expiresAt: now + DAY },
    });
    expect(named.length - value.length).toBeGreaterThanOrEqual(70);
  });

  it('a cookie sealed with named keys (sess before the list) still opens, and its next write seals a list', async () => {
    const { request, jar, opened, clock } = world({}, { mode });
    const sealer = createSealer(COOKIE_SECRET, mode);
    const id = 'N'.repeat(43);
    const meta = { createdAt: clock.now(), touchedAt: clock.now(), expiresAt: clock.now() + DAY, expiry: { kind: 'duration', ms: DAY } };
    jar.cookies.set('sid', { value: sealer.seal('sid', { id, data: { user: 'ada' }, meta }), attributes: {} });
    const read = await request(async (s) => (await s.load(), s.get('user')));
    expect(read.result).toBe('ada');
    expect(sessionCookie(read.effects)).toBeUndefined();
    await request(async (s) => (await s.load(), s.set('views', 1)));
    expect(opened()).toEqual({ id, data: { user: 'ada', views: 1 }, meta });
    expect(sealer.open('sid', jar.cookies.get('sid')?.value as string)?.payload).toEqual([
      id,
      { user: 'ada', views: 1 },
      meta.createdAt,
      meta.touchedAt,
      meta.expiresAt,
      meta.expiry,
    ]);
  });

  it('a visit that only reads sends no Set-Cookie; every write sends a new value', async () => {
    const { request, opened, cookieValue, clock } = world({}, { mode });
    await request((s) => s.set('views', 1));
    const createdAt = clock.now();
    const first = cookieValue();
    const read = await request(async (s) => {
      await s.load();
      return s.get('views');
    });
    expect(read.result).toBe(1);
    expect(sessionCookie(read.effects)).toBeUndefined();
    const values = new Set([first]);
    for (let views = 2; views <= 4; views++) {
      clock.advance(1000);
      const { effects } = await request(async (s) => {
        await s.load();
        s.set('views', (s.get('views') as number) + 1);
      });
      expect(sessionCookie(effects)?.type).toBe('cookie.set');
      values.add(cookieValue());
      expect(opened()?.data).toEqual({ views });
      expect(opened()?.meta).toMatchObject({ createdAt, touchedAt: clock.now() });
    }
    expect(values.size).toBe(4);
  });

  it('destroy, and emptying the session, delete the cookie', async () => {
    const destroyed = world({}, { mode });
    await destroyed.request((s) => s.set('user', 'ada'));
    const { effects } = await destroyed.request((s) => s.destroy());
    expect(sessionCookie(effects)?.type).toBe('cookie.delete');
    expect(destroyed.jar.cookies.has('sid')).toBe(false);

    const emptied = world({}, { mode });
    await emptied.request((s) => s.set('user', 'ada'));
    const after = await emptied.request(async (s) => {
      await s.load();
      s.clear();
    });
    expect(sessionCookie(after.effects)?.type).toBe('cookie.delete');
  });

  it('a tampered or foreign cookie is a fresh session, and is left alone (it may not be ours to delete)', async () => {
    const { request, jar, cookieValue } = world({}, { mode });
    await request((s) => s.set('user', 'ada'));
    const value = cookieValue() as string;
    jar.cookies.set('sid', { value: `${value.slice(0, 10)}${value[10] === 'A' ? 'B' : 'A'}${value.slice(11)}`, attributes: {} });
    const { result, effects } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBeUndefined();
    expect(sessionCookie(effects)).toBeUndefined();

    // Sealed under another key for the same name: worthless here.
    const other = createSealer('some-other-apps-secret-at-least-32-bytes', mode).seal('sid', {
      id: 'A'.repeat(32),
      data: { user: 'root' },
      meta: { createdAt: 0, touchedAt: 0, expiresAt: 9e15 },
    });
    jar.cookies.set('sid', { value: other, attributes: {} });
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
  });
});

describe('cookie sessions: lifetimes come from the sealed times', () => {
  it('a cookie past its lifetime loads as a fresh session (the browser may keep it longer)', async () => {
    const { request, clock } = world();
    await request((s) => s.set('user', 'ada'));
    clock.advance(DAY - 1);
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBe('ada');
    clock.advance(1);
    const { result, effects } = await request(async (s) => (await s.load(), s.get('user')));
    expect(result).toBeUndefined();
    expect(sessionCookie(effects)?.type).toBe('cookie.delete');
  });

  it('idle timeout: each use within it re-seals with a new touchedAt; a longer pause ends it', async () => {
    const events: SessionEvent[] = [];
    const { request, clock, opened } = world({ idleTimeoutMs: HOUR, onEvent: (event) => events.push(event) });
    await request((s) => s.set('user', 'ada'));
    for (let i = 0; i < 3; i++) {
      clock.advance(HOUR - 1);
      const { result, effects } = await request(async (s) => (await s.load(), s.get('user')));
      expect(result).toBe('ada');
      expect(sessionCookie(effects)?.type).toBe('cookie.set');
      expect(opened()?.meta.touchedAt).toBe(clock.now());
      expect(opened()?.meta.expiresAt).toBe(clock.now() + HOUR);
    }
    clock.advance(HOUR);
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ type: 'expired', reason: 'idle' });
  });

  it('absolute timeout ends a session however active, counted from the sealed createdAt', async () => {
    const { request, clock } = world({ idleTimeoutMs: 2 * HOUR, absoluteTimeoutMs: 3 * HOUR });
    await request((s) => s.set('user', 'ada'));
    for (let i = 0; i < 2; i++) {
      clock.advance(HOUR);
      expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBe('ada');
    }
    clock.advance(HOUR);
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
  });

  it('rolling re-sends the cookie on every use; touch() re-sends it once', async () => {
    const rolling = world({ rolling: true });
    await rolling.request((s) => s.set('user', 'ada'));
    rolling.clock.advance(1000);
    const { effects } = await rolling.request(async (s) => (await s.load(), s.get('user')));
    expect(sessionCookie(effects)?.type).toBe('cookie.set');
    expect(rolling.opened()?.meta.touchedAt).toBe(rolling.clock.now());

    const touched = world();
    await touched.request((s) => s.set('user', 'ada'));
    touched.clock.advance(1000);
    const touch = await touched.request(async (s) => (await s.load(), s.touch()));
    expect(sessionCookie(touch.effects)).toMatchObject({ type: 'cookie.set', attributes: { maxAgeMs: DAY } });
    expect(touched.opened()).toMatchObject({
      data: { user: 'ada' },
      meta: { touchedAt: touched.clock.now(), expiresAt: touched.clock.now() + DAY },
    });
  });

  it('setExpiry(0) seals a browser-session lifetime: the cookie gets no Max-Age', async () => {
    const { request, opened } = world();
    const { effects } = await request((s) => (s.set('user', 'ada'), s.setExpiry(0)));
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    expect((sessionCookie(effects) as { attributes: object }).attributes).not.toHaveProperty('maxAgeMs');
    expect(opened()?.meta.expiry).toEqual({ kind: 'browser' });
  });
});

describe('cookie sessions: keys', () => {
  it('a cookie sealed under an older key is re-sealed with the current one on first use', async () => {
    const old = world({}, { secret: OLD_COOKIE_SECRET });
    await old.request((s) => s.set('user', 'ada'));
    const manager = createSessionManager({
      secret: SECRET,
      store: cookieSessions({ secret: [COOKIE_SECRET, OLD_COOKIE_SECRET] }),
      clock: old.clock.now,
    });
    const session = manager.begin({ cookieHeader: old.jar.header(), secure: false });
    await session.load();
    expect(session.get('user')).toBe('ada');
    const effects = await session.commit({ status: 200 });
    old.jar.apply(effects);
    expect(sessionCookie(effects)?.type).toBe('cookie.set');
    expect(old.opened()).toMatchObject({ id: session.id, data: { user: 'ada' } });

    // A rotated cookie re-sealed on a failed response carries what was saved, not the unsaved write.
    const { id, ...record } = old.opened() as SessionRecord & { id: string };
    const again = manager.begin({
      cookieHeader: `sid=${cookieSessions({ secret: OLD_COOKIE_SECRET }).seal('sid', { id, record })}`,
      secure: false,
    });
    await again.load();
    again.set('user', 'mallory');
    const failed = await again.commit({ status: 500 });
    const value = (sessionCookie(failed) as { value: string }).value;
    expect(cookieSessions({ secret: COOKIE_SECRET }).open('sid', value)?.session.record.data).toEqual({ user: 'ada' });
  });

  it('refuses short cookie secrets at construction', () => {
    expect(() => cookieSessions({ secret: 'too-short' })).toThrow(SessConfigError);
    expect(() => cookieSessions({ secret: [COOKIE_SECRET, 'too-short'] })).toThrow(expect.objectContaining({ code: 'secret_too_short' }));
    expect(() => cookieSessions({ secret: COOKIE_SECRET, mode: 'plain' as SealMode })).toThrow(/mode must be/);
  });

  it('refuses unknown options and non-function hooks at construction, not on the first request', async () => {
    expect(() => cookieSessions({ secret: COOKIE_SECRET, secrets: [OLD_COOKIE_SECRET] } as CookieSessionsOptions)).toThrow(
      /unknown option "secrets": did you mean "secret"\?/,
    );
    expect(() => cookieSessions({ secret: COOKIE_SECRET, maxAge: 60 } as CookieSessionsOptions)).toThrow(SessConfigError);
    expect(() => cookieSessions(undefined as unknown as CookieSessionsOptions)).toThrow(SessConfigError);
    for (const hook of ['isRevoked', 'onRevoke'] as const) {
      expect(() => cookieSessions({ secret: COOKIE_SECRET, [hook]: true } as unknown as CookieSessionsOptions)).toThrow(
        new RegExp(`${hook} must be a function`),
      );
    }
  });
});

describe('cookie sessions: the 4096-byte budget', () => {
  it('a commit that would exceed it fails naming the largest keys, and sends no cookie', async () => {
    const { request, jar, cookieValue } = world();
    await request((s) => s.set('user', 'ada'));
    const before = cookieValue();
    const attempt = request(async (s) => {
      await s.load();
      s.set('cart', 'c'.repeat(3100));
      s.set('history', 'h'.repeat(1900));
      s.set('small', 1);
    });
    await expect(attempt).rejects.toThrow(SessUsageError);
    await expect(attempt).rejects.toMatchObject({
      code: 'session_too_large',
      message: expect.stringMatching(
        /cookie session is \d{4} bytes \(limit 4096\): largest keys "cart" 3102 B, "history" 1902 B, "user" 5 B/,
      ),
    });
    // The commit rejected, so there were no effects to apply: the browser keeps its cookie.
    expect(cookieValue()).toBe(before);
    expect(jar.cookies.size).toBe(1);
  });

  it('a regenerate whose new cookie is too large revokes nothing: the cookie the browser keeps still works', async () => {
    const revoked = new Set<string>();
    const { request, manager, jar, opened } = world({}, { isRevoked: (id) => revoked.has(id), onRevoke: (id) => void revoked.add(id) });
    await request((s) => s.set('user', 'ada'));
    const before = opened();
    const session = manager.begin({ cookieHeader: jar.header(), secure: false });
    await session.load();
    await session.regenerate();
    session.set('cart', 'c'.repeat(5000));
    await expect(Promise.resolve(session.commit({ status: 200 }))).rejects.toMatchObject({ code: 'session_too_large' });
    // The framework's error page commits again: nothing more happens.
    expect(await session.commit({ status: 500 })).toEqual([]);
    expect(revoked).toEqual(new Set());
    const { result } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBe('ada');
    expect(opened()?.id ?? before?.id).toBe(before?.id);
  });

  it('counts the whole Set-Cookie line: name and attributes too, not just the value', async () => {
    // In sign mode n more ASCII characters grow the value by about 4n/3.
    const lineOf = (effects: readonly HttpEffect[]) => {
      const cookie = sessionCookie(effects) as { value: string; attributes: CookieAttributes };
      return { line: serializeCookie('sid', cookie.value, cookie.attributes).length, value: cookie.value.length };
    };
    const empty = lineOf((await world({}, { mode: 'sign' }).request((s) => s.set('blob', ''))).effects);
    const blob = 'x'.repeat(Math.floor(((4096 - empty.line) * 3) / 4) - 30);
    const fits = lineOf((await world({}, { mode: 'sign' }).request((s) => s.set('blob', blob))).effects);
    expect(fits.line).toBeLessThanOrEqual(4096);
    expect(fits.line).toBeGreaterThan(4000);
    // 60 more characters: about 80 more bytes, so the value alone still fits, the line does not.
    expect(fits.value + 80).toBeLessThan(4096);
    await expect(world({}, { mode: 'sign' }).request((s) => s.set('blob', `${blob}${'x'.repeat(60)}`))).rejects.toMatchObject({
      code: 'session_too_large',
    });
  });
});

describe('cookie sessions: the 4096-byte budget with a codec', () => {
  // serializeCookie percent-encodes a codec's value that is not all cookie octets: up to 9 bytes
  // a character, where a seal's base64url is one.
  it('a codec value that grows when percent-encoded is still refused past 4096 bytes', async () => {
    const codec = {
      encode: (_name: string, record: SessionRecord) => JSON.stringify(record),
      decode: (_name: string, value: string) => ({ record: JSON.parse(value) as SessionRecord, rotated: false }),
    };
    const { request, jar } = setup({ store: cookieSessions({ codec }) });
    const attempt = request((s) => s.set('quotes', '"'.repeat(1500)));
    await expect(attempt).rejects.toMatchObject({ code: 'session_too_large' });
    expect(jar.cookies.size).toBe(0);
  });
});

describe('cookie sessions: replay after sign-out', () => {
  function revocable() {
    const revoked = new Map<string, number>();
    const w = world({}, { isRevoked: (id) => revoked.has(id), onRevoke: (id, expiresAt) => void revoked.set(id, expiresAt) });
    return { ...w, revoked };
  }

  it('without the hooks, a copied cookie stays valid after sign-out until it expires', async () => {
    const { request, jar } = world();
    await request((s) => s.set('user', 'ada'));
    const copy = jar.header();
    await request((s) => s.destroy());
    jar.cookies.set('sid', { value: (copy as string).slice(4), attributes: {} });
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBe('ada');
  });

  it('destroy reports the id with its expiry; the copied cookie then loads as a fresh session', async () => {
    const { request, jar, revoked, clock } = revocable();
    const { session } = await request((s) => s.set('user', 'ada'));
    const copy = (jar.cookies.get('sid') as { value: string }).value;
    await request((s) => s.destroy());
    // A copy may have been re-sealed with the longest lifetime sess takes.
    expect([...revoked]).toEqual([[session.id, clock.now() + 400 * DAY]]);
    jar.cookies.set('sid', { value: copy, attributes: {} });
    const replay = await request(async (s) => (await s.load(), s.get('user')));
    expect(replay.result).toBeUndefined();
    expect(sessionCookie(replay.effects)?.type).toBe('cookie.delete');
  });

  it('the revocation outlasts every copy of the cookie, one re-sealed after the client last was too', async () => {
    // The list keeps an id only until the expiresAt onRevoke was told, as the README advises.
    const revoked = new Map<string, number>();
    let now = () => 0;
    const w = world(
      {},
      { isRevoked: (id) => (revoked.get(id) ?? -Infinity) > now(), onRevoke: (id, expiresAt) => void revoked.set(id, expiresAt) },
    );
    now = w.clock.now;
    const { request, jar, clock } = w;
    await request((s) => s.set('user', 'ada'));
    const client = (jar.cookies.get('sid') as { value: string }).value;
    // A thief copies the cookie and uses it later than the client does: a write re-seals it with a later expiresAt.
    clock.advance(12 * HOUR);
    await request(async (s) => (await s.load(), s.set('seen', true)));
    const stolen = (jar.cookies.get('sid') as { value: string }).value;
    expect(stolen).not.toBe(client);
    // The client signs out with its own, older cookie.
    clock.advance(HOUR);
    jar.cookies.set('sid', { value: client, attributes: {} });
    await request((s) => s.destroy());
    // Once the client's cookie has expired, the thief's copy must still be refused.
    clock.advance(12 * HOUR);
    jar.cookies.set('sid', { value: stolen, attributes: {} });
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
  });

  it('the revocation outlasts a copy re-sealed with a longer lifetime; the timeouts bound it', async () => {
    for (const timeouts of [{}, { idleTimeoutMs: 2 * DAY }, { absoluteTimeoutMs: 3 * DAY }]) {
      const revoked = new Map<string, number>();
      let now = () => 0;
      const w = world(timeouts, {
        isRevoked: (id) => (revoked.get(id) ?? -Infinity) > now(),
        onRevoke: (id, expiresAt) => void revoked.set(id, expiresAt),
      });
      now = w.clock.now;
      const { request, jar, clock } = w;
      const { session } = await request((s) => s.set('user', 'ada'));
      const client = (jar.cookies.get('sid') as { value: string }).value;
      // A thief's request on a copy of the cookie that lengthens its life ("remember me").
      await request(async (s) => (await s.load(), s.setExpiry(30 * 86_400)));
      const stolen = (jar.cookies.get('sid') as { value: string }).value;
      jar.cookies.set('sid', { value: client, attributes: {} });
      await request((s) => s.destroy());
      const bound = 'idleTimeoutMs' in timeouts ? 2 * DAY : 'absoluteTimeoutMs' in timeouts ? 3 * DAY : 400 * DAY;
      expect(revoked.get(session.id as string)).toBe(clock.now() + bound);
      // Past the client's own cookie, the thief's copy is still refused.
      clock.advance(DAY + HOUR);
      jar.cookies.set('sid', { value: stolen, attributes: {} });
      expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
    }
  });

  it('emptying the session revokes it too', async () => {
    const { request, revoked } = revocable();
    const { session } = await request((s) => s.set('user', 'ada'));
    await request(async (s) => (await s.load(), s.delete('user')));
    expect(revoked.has(session.id as string)).toBe(true);
  });

  it('regenerate seals a new id with the data kept and revokes the old one', async () => {
    const { request, jar, revoked, opened } = revocable();
    const first = await request((s) => s.set('user', 'ada'));
    const copy = (jar.cookies.get('sid') as { value: string }).value;
    const second = await request(async (s) => {
      await s.regenerate();
      s.set('role', 'admin');
    });
    expect(second.session.id).not.toBe(first.session.id);
    expect(opened()).toMatchObject({ id: second.session.id, data: { user: 'ada', role: 'admin' } });
    expect([...revoked.keys()]).toEqual([first.session.id]);
    jar.cookies.set('sid', { value: copy, attributes: {} });
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
  });

  it('a new session never seen by the client is not reported', async () => {
    const { request, revoked } = revocable();
    await request(async (s) => {
      s.set('user', 'ada');
      await s.destroy();
    });
    expect(revoked.size).toBe(0);
  });

  it('hooks that throw fail the request as a failed store call would', async () => {
    const failing = world(
      {},
      {
        onRevoke: () => {
          throw new Error('redis down');
        },
      },
    );
    await failing.request((s) => s.set('user', 'ada'));
    await expect(failing.request((s) => s.destroy())).rejects.toThrow(SessStoreError);

    const unreadable = world(
      {},
      {
        isRevoked: () => {
          throw new Error('redis down');
        },
      },
    );
    await unreadable.request((s) => s.set('user', 'ada'));
    await expect(unreadable.request((s) => s.load())).rejects.toMatchObject({ op: 'get' });
  });
});

describe('cookie sessions: an isRevoked that answers anything but true or false', () => {
  // An async check (a Redis lookup) or `revoked.get(id)` answers a promise or a timestamp: taken
  // as "not revoked", every copied cookie stayed valid after sign-out, and nothing said so.
  it.each([
    ['a promise (an async isRevoked)', async () => true],
    ['a timestamp (revoked.get(id))', () => Date.now()],
    ['undefined (a missing return)', () => undefined],
    // Its rejection must not go unhandled: Node would end the process.
    ['a promise that rejects', async () => Promise.reject(new Error('redis down'))],
  ])('fails the load as a failed store read when it answers %s', async (_, isRevoked) => {
    const { request } = world({}, { isRevoked: isRevoked as unknown as (id: string) => boolean });
    await request((s) => s.set('user', 'ada'));
    await expect(request((s) => s.load())).rejects.toMatchObject({
      op: 'get',
      cause: expect.objectContaining({ message: expect.stringMatching(/isRevoked must return true or false/) }),
    });
  });
});

describe('cookie sessions: what they are not', () => {
  it('are storage of their own, not a Store: no server methods, no WebSocket sessions, no hand-offs', async () => {
    const storage = cookieSessions({ secret: COOKIE_SECRET });
    expect(storage).toMatchObject({ kind: 'cookie', mode: 'encrypt', name: 'cookie (encrypt)' });
    expect(Object.isFrozen(storage)).toBe(true);
    for (const method of ['get', 'set', 'destroy', 'touch']) expect(storage).not.toHaveProperty(method);
    expect(isCookieSessions(storage)).toBe(true);
    expect(isCookieSessions(setup().store)).toBe(false);
    const manager = createSessionManager({ secret: SECRET, store: storage });
    expect(() => manager.socket({ cookieHeader: undefined, secure: false })).toThrow(/WebSocket sessions need a server-side store/);
    expect(await manager.redeemHandoff('any-token-at-all-0123456789')).toEqual([]);
    expect(manager.store).toBe(storage);
  });

  it('seal and open a session for one cookie name, and turn away what they did not seal', () => {
    const storage = cookieSessions({ secret: [COOKIE_SECRET] });
    const session = {
      id: 'a-session-id-0123456789abcdef',
      record: { data: { user: 'ada' }, meta: { createdAt: 1, touchedAt: 2, expiresAt: 3 } },
    };
    const value = storage.seal('sid', session);
    expect(storage.open('sid', value)).toEqual({ session, rotated: false });
    expect(storage.open('other', value)).toBeUndefined();
    expect(storage.open('sid', `${value.slice(0, -2)}xx`)).toBeUndefined();
    const older = cookieSessions({ secret: [`${COOKIE_SECRET}-newer`, COOKIE_SECRET] });
    expect(older.open('sid', value)).toEqual({ session, rotated: true });
  });

  it("refuses a kind: 'cookie' object that cannot seal and open, at construction", () => {
    const { store } = setup();
    expect(() =>
      createSessionManager({ secret: SECRET, store: Object.assign(Object.create(store) as typeof store, { kind: 'cookie' }) }),
    ).toThrow(SessConfigError);
  });

  it('a sealed payload of the wrong shape is a fresh session', async () => {
    const { request, jar, clock } = world();
    const sealer = createSealer(COOKIE_SECRET);
    const id = 'A'.repeat(32);
    const now = clock.now();
    // The same list, well formed, opens: each case below differs from it in one way.
    jar.cookies.set('sid', { value: sealer.seal('sid', [id, { views: 1 }, now, now, now + HOUR]), attributes: {} });
    expect((await request(async (s) => (await s.load(), s.keys()))).result).toEqual(['views']);
    for (const payload of [
      null,
      'x',
      { id: 'short', data: {}, meta: {} },
      { id, data: 'x', meta: {} },
      [],
      [id, { views: 1 }, now, now],
      [id, { views: 1 }, now, now, now + HOUR, null, true, 'more'],
      [42, { views: 1 }, now, now, now + HOUR],
      ['short', { views: 1 }, now, now, now + HOUR],
      [id, [1], now, now, now + HOUR],
      [id, { views: 1 }, 'now', now, now + HOUR],
      [id, { views: 1 }, now, now, null],
      [id, { views: 1 }, now, now, now + HOUR, { kind: 'forever' }],
      [id, { views: 1 }, now, now, now + HOUR, null, false],
    ]) {
      jar.cookies.set('sid', { value: sealer.seal('sid', payload), attributes: {} });
      expect((await request(async (s) => (await s.load(), s.keys()))).result).toEqual([]);
    }
  });

  it('the schema applies to sealed data as to stored data', async () => {
    const schema = {
      '~standard': {
        version: 1 as const,
        vendor: 'test',
        validate: (value: unknown) =>
          typeof (value as { user?: unknown }).user === 'string' ? { value } : { issues: [{ message: 'user must be a string' }] },
      },
    };
    const { request } = world({ schema });
    await request((s) => s.set('user', 42));
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBeUndefined();
  });
});

type Op =
  | { readonly op: 'set'; readonly key: string; readonly value: number }
  | { readonly op: 'delete' | 'read'; readonly key: string }
  | { readonly op: 'clear' | 'destroy' | 'regenerate' | 'touch' };

describe('cookie sessions: the browser always holds what the session holds (property)', () => {
  const key = fc.constantFrom('a', 'b', '__proto__');
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }),
    fc.record({ op: fc.constantFrom('delete' as const, 'read' as const), key }),
    fc.record({ op: fc.constantFrom('clear' as const, 'destroy' as const, 'regenerate' as const, 'touch' as const) }),
  );
  const request = fc.record({
    ops: fc.array(op, { maxLength: 5 }),
    status: fc.constantFrom(200, 200, 200, 500),
    advanceMs: fc.nat(2 * HOUR),
  });

  // 300 runs of up to six requests: about 1 s alone, 4 s beside a CI run's other suites.
  it('after every commit the cookie opens to the saved data (absent when empty); reads alone send nothing', {
    timeout: 30_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { minLength: 1, maxLength: 6 }),
        fc.constantFrom<SealMode>('encrypt', 'sign'),
        async (requests, mode) => {
          const w = world({}, { mode });
          let saved: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
          for (const { ops, status, advanceMs } of requests) {
            w.clock.advance(advanceMs);
            // Null prototype, as the session's own data: `__proto__` is just a key.
            const data: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, saved);
            let destroyed = false;
            const { effects, session } = await w.request(
              async (s) => {
                await s.load();
                for (const step of ops) {
                  if (step.op === 'set') s.set(step.key, step.value), (data[step.key] = step.value);
                  else if (step.op === 'delete') s.delete(step.key), delete data[step.key];
                  else if (step.op === 'read') expect(s.get(step.key)).toBe(data[step.key]);
                  else if (step.op === 'clear') {
                    s.clear();
                    for (const k of Object.keys(data)) delete data[k];
                  } else if (step.op === 'destroy') {
                    await s.destroy();
                    for (const k of Object.keys(data)) delete data[k];
                    destroyed = true;
                  } else if (step.op === 'regenerate') await s.regenerate();
                  else s.touch();
                }
              },
              { status },
            );
            if (status < 500) saved = data;
            else if (destroyed) saved = Object.create(null) as Record<string, unknown>;
            const opened = w.opened();
            if (Object.keys(saved).length === 0) expect(opened).toBeUndefined();
            else {
              expect(opened?.data).toEqual(saved);
              if (status < 500) expect(opened?.id).toBe(session.id);
            }
            if (status < 500 && ops.every((step) => step.op === 'read')) expect(sessionCookie(effects)).toBeUndefined();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('machine: cookieCarriesData decides when the cookie is re-sent', () => {
  const live = {
    type: 'store.loaded',
    record: 'live',
    pastExpiry: false,
    pastIdleTimeout: false,
    pastAbsoluteTimeout: false,
    touchIntervalPassed: false,
    browserSession: false,
    retired: false,
  } as const;
  const commit = {
    type: 'response.commit',
    serverError: false,
    empty: false,
    cookieAlreadySet: false,
    sharedCachesKeptOut: false,
    headersSent: false,
  } as const;
  function actionsAtCommit(cookieCarriesData: boolean, events: readonly LifecycleEvent[]): string[] {
    const lifecycle = createLifecycle();
    let node = lifecycle.start(
      inputKey({
        rolling: false,
        saveEveryRequest: false,
        saveOnServerError: false,
        browserSession: false,
        readOnly: false,
        idleTimeout: false,
        regenerateGrace: false,
        testCookieReceived: false,
        clientCookie: 'valid',
        cookieCarriesData,
      }),
    ).to;
    const all: string[] = [];
    for (const event of [{ type: 'app.load' } as const, live, ...events, commit, { type: 'store.done' } as const]) {
      const step = lifecycle.next(node, eventKey(event));
      if (step === undefined) continue; // store.done when the commit wrote nothing
      node = step.to;
      all.push(...step.actions);
    }
    return all;
  }

  it.each([
    ['a write', [{ type: 'app.write' }], true],
    ['app.save', [{ type: 'app.save' }], true],
    ['a touch', [{ type: 'app.touch' }], true],
    ['a read', [{ type: 'app.read' }], false],
  ] as const)('%s: the id cookie is re-sent only for a touch; the data cookie whenever it changes', (_, events, dataCookieSent) => {
    expect(actionsAtCommit(true, events).includes('setSessionCookie')).toBe(dataCookieSent);
    // The id cookie's value never changes: only the lifetime moving (touch) re-sends it.
    expect(actionsAtCommit(false, events).includes('setSessionCookie')).toBe(events[0].type === 'app.touch');
  });
});

describe('cookie sessions: nested changes without set()', () => {
  /** Saves a cart, then, a second later, pushes onto it without set() and touches the session. */
  async function pushToCartThenTouch(request: ReturnType<typeof setup>['request'], clock: ReturnType<typeof setup>['clock']) {
    await request((s) => s.set('cart', ['apple']));
    clock.advance(1000);
    await request(async (s) => {
      await s.load();
      (s.get('cart') as string[]).push('pear');
      s.touch();
    });
  }

  it('are sealed at the commit, as a server store keeps them', async () => {
    const { request, opened, clock } = world();
    await pushToCartThenTouch(request, clock);
    expect(opened()).toMatchObject({ data: { cart: ['apple', 'pear'] }, meta: { touchedAt: clock.now() } });
  });

  it('are gone after a reload, which reads what the cookie holds again', async () => {
    const { request } = world();
    await request((s) => s.set('cart', ['apple']));
    const { result } = await request(async (s) => {
      await s.load();
      (s.get('cart') as string[]).push('pear');
      await s.reload();
      const reloaded = s.get('cart') as string[];
      reloaded.push('plum');
      await s.reload();
      return [reloaded, s.get('cart')];
    });
    expect(result).toEqual([['apple', 'plum'], ['apple']]);
  });

  it('are sealed with a codec too', async () => {
    const codec = {
      encode: (_name: string, record: SessionRecord) => Buffer.from(JSON.stringify(record)).toString('base64url'),
      decode: (_name: string, value: string) => ({
        record: JSON.parse(Buffer.from(value, 'base64url').toString()) as SessionRecord,
        rotated: false,
      }),
    };
    const { request, jar, clock } = setup({ store: cookieSessions({ codec }) });
    await pushToCartThenTouch(request, clock);
    const value = jar.cookies.get('sid')?.value as string;
    expect(codec.decode('sid', value).record).toMatchObject({ data: { cart: ['apple', 'pear'] }, meta: { touchedAt: clock.now() } });
  });
});

describe('cookie sessions: another library’s format through a codec', () => {
  /** A toy format: `base64url(JSON).mac`, the mac an HMAC over the name and body under one of `keys` (the first signs). */
  function toyCodec(keys: readonly string[]) {
    const mac = (key: string, name: string, body: string) => createHmac('sha256', key).update(`${name}=${body}`).digest('base64url');
    const encoded: SessionRecord[] = [];
    const codec = {
      encode(name: string, record: SessionRecord) {
        encoded.push(record);
        const body = Buffer.from(JSON.stringify(record)).toString('base64url');
        return `${body}.${mac(keys[0] as string, name, body)}`;
      },
      decode(name: string, value: string) {
        const [body = '', given] = value.split('.');
        const index = keys.findIndex((key) => mac(key, name, body) === given);
        if (index < 0) return undefined;
        return { record: JSON.parse(Buffer.from(body, 'base64url').toString()) as SessionRecord, rotated: index > 0 };
      },
    };
    return { codec, encoded };
  }

  it('writes the record in the codec’s format and reads it back on the next request', async () => {
    const { codec } = toyCodec(['k1']);
    const { request, jar, clock } = setup({ store: cookieSessions({ codec }) });
    const { effects } = await request((s) => s.set('views', 1));
    const value = jar.cookies.get('sid')?.value as string;
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set', value });
    expect(codec.decode('sid', value)?.record).toEqual({
      data: { views: 1 },
      meta: { createdAt: clock.now(), touchedAt: clock.now(), expiresAt: clock.now() + DAY },
    });
    clock.advance(1000);
    expect((await request(async (s) => (await s.load(), s.get('views')))).result).toBe(1);
  });

  it('a value the codec turns away, or that makes it throw, is a fresh session', async () => {
    const { codec } = toyCodec(['k1']);
    const throwing = { encode: codec.encode, decode: () => JSON.parse('{') as never };
    for (const store of [cookieSessions({ codec }), cookieSessions({ codec: throwing })]) {
      const { request, jar } = setup({ store });
      jar.cookies.set('sid', { value: 'forged.value', attributes: {} });
      const { result, effects } = await request(async (s) => (await s.load(), s.keys()));
      expect(result).toEqual([]);
      expect(sessionCookie(effects)).toBeUndefined();
    }
  });

  it('a decode whose answer throws when read is a fresh session too, not a failed request', async () => {
    const { codec } = toyCodec(['k1']);
    const answer = {
      get record(): SessionRecord {
        throw new Error('a lazy record the codec could not read');
      },
      rotated: false,
    };
    const { request, jar } = setup({ store: cookieSessions({ codec: { encode: codec.encode, decode: () => answer } }) });
    jar.cookies.set('sid', { value: 'some.value', attributes: {} });
    const { result, effects } = await request(async (s) => (await s.load(), s.keys()));
    expect(result).toEqual([]);
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('an encode that returns no string fails the commit and sends no cookie', async () => {
    for (const made of [42, undefined, { value: 'x' }]) {
      const codec = { encode: () => made as unknown as string, decode: () => undefined };
      const { request, jar } = setup({ store: cookieSessions({ codec }) });
      await expect(request((s) => s.set('views', 1))).rejects.toThrow(/codec's encode returned .*, not a string/);
      expect(jar.cookies.has('sid')).toBe(false);
    }
  });

  it('the record’s own expiry decides, as for sealed cookies', async () => {
    const { codec } = toyCodec(['k1']);
    const { request, clock } = setup({ store: cookieSessions({ codec }), maxAgeMs: 60_000 });
    await request((s) => s.set('views', 1));
    clock.advance(60_000);
    expect((await request(async (s) => (await s.load(), s.keys()))).result).toEqual([]);
  });

  it('a value read with an older key is written again with the current one once the session is used', async () => {
    const old = toyCodec(['k-old']);
    const first = setup({ store: cookieSessions({ codec: old.codec }) });
    await first.request((s) => s.set('views', 1));
    const rotated = toyCodec(['k-new', 'k-old']);
    const { request, jar } = setup({ store: cookieSessions({ codec: rotated.codec }) });
    jar.cookies.set('sid', first.jar.cookies.get('sid') as JarCookie);
    const { effects } = await request(async (s) => (await s.load(), s.get('views')));
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set' });
    expect(rotated.codec.decode('sid', jar.cookies.get('sid')?.value as string)).toMatchObject({ rotated: false });
    expect(rotated.encoded.at(-1)?.data).toEqual({ views: 1 });
  });

  it('regenerate sends the data again (the format has no id to change); emptying the session deletes it', async () => {
    const { codec, encoded } = toyCodec(['k1']);
    const { request, jar, clock } = setup({ store: cookieSessions({ codec }) });
    await request((s) => s.set('user', 'ada'));
    clock.advance(1000);
    await request(async (s) => (await s.load(), await s.regenerate()));
    expect(jar.setCookies).toEqual(['sid']);
    expect(encoded.at(-1)).toMatchObject({ data: { user: 'ada' }, meta: { touchedAt: clock.now() } });
    expect((await request(async (s) => (await s.load(), s.get('user')))).result).toBe('ada');
    const { effects } = await request(async (s) => (await s.load(), s.clear()));
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.delete' });
  });

  it('is refused with a secret, a mode or the revocation hooks, and when it lacks a method', () => {
    const { codec } = toyCodec(['k1']);
    expect(cookieSessions({ codec })).toMatchObject({ kind: 'cookie', mode: 'codec', name: 'cookie (codec)' });
    expect(() => cookieSessions({ codec, secret: COOKIE_SECRET })).toThrow(/secret can't be used with a codec/);
    expect(() => cookieSessions({ codec, mode: 'sign', onRevoke: () => undefined })).toThrow(/mode and onRevoke can't be used/);
    expect(() => cookieSessions({ codec: { encode: codec.encode } as never })).toThrow(SessConfigError);
    expect(() => cookieSessions({})).toThrow(/need a secret/);
  });
});
