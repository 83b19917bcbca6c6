/**
 * The store contract where cookie sessions keep it. `cookieSessions()` is a `Store` by shape
 * only: its methods reject, because the manager never calls them (it runs each request against
 * a store over the record its cookie opened to, and seals that record into the cookie at
 * commit). So the suite runs against a test-only store that keeps each record the way cookie
 * sessions do: as the sealed value the manager would send for it, made by `cookieSessions()`'s
 * own `seal`, held per id as a browser holds a cookie (Max-Age is the TTL; a TTL of zero or less
 * is the deletion), and opened on `get` by its `open`, with its payload check. Sealing round-trips, the
 * expiry and other meta carried inside the seal, data fidelity and hostile keys are thereby
 * checked by the same checks as real stores, in both seal modes.
 *
 * What does not apply is left out on purpose, never skipped silently:
 * - `NOT_FOR_COOKIES` below: checks whose premise a cookie breaks (each with the reason);
 *   their cookie counterparts follow the suite;
 * - `ids`, `clear`, `close`, the user index and delta writes: a server cannot list, clear or
 *   index sessions it does not hold, and every cookie write is the whole record. The store
 *   lacks them, so the suite skips those checks with its own reasons, shown in the output.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { cookieSessions, createSessionManager, serializeCookie, SessUsageError } from '@sess/core';
import type { CookieSessions, HttpEffect, SealMode, SessionMeta, SessionRecord, Store } from '@sess/core';
import { conformanceClauses, fakeStoreClock, makeRecord } from '../src/index.js';

const COOKIE_SECRET = 'store-test-cookie-session-secret-32-bytes';
const OLD_COOKIE_SECRET = 'store-test-older-cookie-session-secret-32b';
const NAME = 'sid';
/** Browsers keep 4096 bytes of a cookie's name, value and attributes (RFC 6265 §6.1). */
const COOKIE_BYTES = 4096;

/**
 * Checks a cookie cannot keep, by title. Each is left out for cookie sessions for the reason
 * given, and answered by a cookie check further down.
 */
const NOT_FOR_COOKIES = new Map<string, string>([
  [
    'a record with 3,000 keys round-trips',
    'a cookie holds 4096 bytes: a record of 3,000 keys (some 70 kB) is refused at commit (session_too_large), see "a record too large for a cookie is refused"',
  ],
  [
    'a 1 MB string value round-trips',
    'a cookie holds 4096 bytes: a larger session is refused at commit (session_too_large), see "a record too large for a cookie is refused"',
  ],
]);

interface Jar {
  readonly value: string;
  /** When the browser drops the cookie: the TTL given, as the cookie's Max-Age. */
  readonly expiresAt: number;
}

interface SealedCookieStore extends Store {
  /** Per id, the cookie a browser would hold for that session. */
  readonly jar: Map<string, Jar>;
}

/** Sets each record as the sealed cookie the manager would send for it (see the file's doc). */
function sealedCookieStore(sealer: CookieSessions, now: () => number): SealedCookieStore {
  const jar = new Map<string, Jar>();
  /** The record the cookie held for `id` opens to, if it is still held. */
  const open = (id: string): SessionRecord | undefined => {
    const cookie = jar.get(id);
    if (cookie !== undefined && now() >= cookie.expiresAt) jar.delete(id);
    const session = jar.has(id) ? sealer.open(NAME, (cookie as Jar).value)?.session : undefined;
    // The id is sealed with the record: a value held under another id is another session.
    return session?.id === id ? session.record : undefined;
  };
  const store: SealedCookieStore = {
    name: `sealed cookie (${sealer.mode})`,
    capabilities: { deltaWrites: false },
    jar,
    get(id) {
      return Promise.resolve(open(id));
    },
    set(id, record, ttlMs) {
      // A TTL that is no number above zero (NaN, a string...) deletes, as the contract's zero does.
      if (typeof ttlMs !== 'number' || !(ttlMs > 0)) {
        jar.delete(id);
        return Promise.resolve();
      }
      // What the manager seals for a session cookie (`RequestStore.seal`).
      const value = sealer.seal(NAME, { id, record });
      const line = serializeCookie(NAME, value, { path: '/', httpOnly: true, sameSite: 'lax', maxAgeMs: ttlMs, expires: now() + ttlMs });
      const bytes = Buffer.byteLength(line);
      // As the manager's commit does: refused, not sent, so the browser keeps the cookie it had.
      if (bytes > COOKIE_BYTES)
        return Promise.reject(new SessUsageError(`cookie session is ${bytes} bytes (limit ${COOKIE_BYTES})`, 'session_too_large'));
      jar.set(id, { value, expiresAt: now() + ttlMs });
      return Promise.resolve();
    },
    touch(id, meta, ttlMs) {
      // Read and written in one synchronous step, as one request's cookie is: a destroy cannot
      // land between the check and the write.
      const record = open(id);
      // The contract's refusals: nothing to touch, or a retired record touched with a live meta.
      // Core never seals a retired record into a cookie, so the second is the model's only.
      if (record === undefined || (record.meta.retired === true && meta.retired !== true)) return Promise.resolve(false);
      // Older than the sealed meta (a save landed first): the cookie stays as that save sealed it.
      if (meta.retired !== true && meta.touchedAt < record.meta.touchedAt) return Promise.resolve(true);
      return Promise.resolve(store.set(id, { data: record.data, meta }, ttlMs)).then(() => true);
    },
    destroy(id) {
      jar.delete(id);
      return Promise.resolve();
    },
  };
  return store;
}

for (const mode of ['encrypt', 'sign'] as const satisfies readonly SealMode[]) {
  describe(`store conformance: sealed cookie (${mode})`, () => {
    let clock = fakeStoreClock();
    let store = sealedCookieStore(cookieSessions({ secret: COOKIE_SECRET, mode }), clock.now);
    beforeEach(() => {
      clock = fakeStoreClock();
      store = sealedCookieStore(cookieSessions({ secret: COOKIE_SECRET, mode }), clock.now);
    });

    // The suite's clauses, as `runStoreConformance` registers them, minus NOT_FOR_COOKIES.
    for (const clause of conformanceClauses) {
      describe(clause.name, () => {
        for (const check of clause.checks) {
          if (NOT_FOR_COOKIES.has(check.title)) continue;
          it(check.title, async (ctx) => {
            const reason = check.skipReason?.(store, { store, clock });
            if (reason !== undefined) ctx.skip(reason);
            await check.run({ store, clock });
          });
        }
      });
    }

    it('every check left out for cookies is still in the suite (a renamed one must be reviewed)', () => {
      const titles = new Set(conformanceClauses.flatMap((clause) => clause.checks.map((check) => check.title)));
      for (const title of NOT_FOR_COOKIES.keys()) expect(titles.has(title), title).toBe(true);
    });

    describe('where a cookie differs', () => {
      it('a record too large for a cookie is refused, and the cookie set before is kept', async () => {
        const id = 'A'.repeat(32);
        const small = makeRecord({ n: 1 }, clock.now());
        await store.set(id, small, 60_000);
        const before = store.jar.get(id);
        const large = makeRecord({ n: 2, blob: 'x'.repeat(COOKIE_BYTES) }, clock.now());
        await expect(store.set(id, large, 60_000)).rejects.toMatchObject({ code: 'session_too_large' });
        expect(store.jar.get(id)).toBe(before);
        expect(await store.get(id)).toEqual(small);
      });

      it('a value up to the budget round-trips byte for byte: one-, two- and four-byte characters', async () => {
        const id = 'B'.repeat(32);
        // 7 UTF-8 bytes a repeat, kept raw in JSON: 1,750 bytes that seal to about 2.4 KB.
        const record = makeRecord({ text: 'aé😀'.repeat(250) }, clock.now());
        await store.set(id, record, 60_000);
        expect(Buffer.byteLength((store.jar.get(id) as Jar).value)).toBeGreaterThan(2_000);
        expect(await store.get(id)).toEqual(record);
      });

      it('a tampered value, or a value moved under another id, reads as missing', async () => {
        const [a, b] = ['C'.repeat(32), 'D'.repeat(32)];
        await store.set(a, makeRecord({ who: 'a' }, clock.now()), 60_000);
        const { value, expiresAt } = store.jar.get(a) as Jar;
        const middle = Math.floor(value.length / 2);
        store.jar.set(a, { value: `${value.slice(0, middle)}${value[middle] === 'A' ? 'B' : 'A'}${value.slice(middle + 1)}`, expiresAt });
        expect(await store.get(a)).toBeUndefined();
        store.jar.set(b, { value, expiresAt });
        expect(await store.get(b)).toBeUndefined();
      });

      it('a record sealed under an older secret still opens while that secret is listed', async () => {
        const id = 'E'.repeat(32);
        const rotated = sealedCookieStore(cookieSessions({ secret: [COOKIE_SECRET, OLD_COOKIE_SECRET], mode }), clock.now);
        const record = makeRecord({ n: 1 }, clock.now(), { expiry: { kind: 'duration', ms: 60_000 } });
        const value = cookieSessions({ secret: OLD_COOKIE_SECRET, mode }).seal(NAME, { id, record });
        rotated.jar.set(id, { value, expiresAt: clock.now() + 60_000 });
        expect(await rotated.get(id)).toEqual(record);
        store.jar.set(id, { value, expiresAt: clock.now() + 60_000 });
        expect(await store.get(id)).toBeUndefined();
      });

      // Ties the store above to the real thing: both sides read what the other writes.
      it('its values are the manager\u2019s cookies: each side opens what the other sealed', async () => {
        const manager = createSessionManager({
          secret: 'store-test-manager-secret-of-32-bytes!!',
          store: cookieSessions({ secret: COOKIE_SECRET, mode }),
          clock: clock.now,
        });
        const id = 'F'.repeat(32);
        const meta: SessionMeta = { createdAt: clock.now(), touchedAt: clock.now(), expiresAt: clock.now() + 60_000 };
        await store.set(id, { data: { views: 3 }, meta }, 60_000);
        const loaded = manager.begin({ cookieHeader: `${NAME}=${(store.jar.get(id) as Jar).value}`, secure: false });
        await loaded.load();
        expect(loaded.id).toBe(id);
        expect(loaded.get('views')).toBe(3);

        const fresh = manager.begin({ cookieHeader: undefined, secure: false });
        fresh.set('views', 7);
        const effects: readonly HttpEffect[] = await fresh.commit({ status: 200 });
        const cookie = effects.find((effect) => effect.type === 'cookie.set' && effect.name === NAME);
        if (cookie?.type !== 'cookie.set') throw new Error('the manager sent no session cookie');
        store.jar.set(fresh.id as string, { value: cookie.value, expiresAt: clock.now() + 60_000 });
        const record = (await store.get(fresh.id as string)) as SessionRecord;
        expect(record.data).toEqual({ views: 7 });
        expect(record.meta).toMatchObject({ createdAt: clock.now(), touchedAt: clock.now(), expiresAt: clock.now() + 86_400_000 });
      });
    });
  });
}
