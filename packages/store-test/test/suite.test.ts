/**
 * The suite tests itself: a small correct store must pass it (with a clock, in real time, and
 * with every optional feature missing), and stores broken one way each must fail the check for
 * that clause. The reference store lives here because store-test never imports a real store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RevokeUserOptions, SessionChanges, SessionData, SessionMeta, SessionRecord, Store, UserSession } from '@sess/core';
import { SessUsageError } from '@sess/core';
import { dataJson, revokeUserExcept } from '@sess/core/store';
import { conformanceClauses, runCheck, runStoreConformance, type Check, fakeStoreClock, type FakeStoreClock } from '../src/index.js';

interface Entry {
  readonly data: string;
  readonly meta: SessionMeta;
  readonly expiresAt: number;
}

/**
 * Whether a record written with `ttlMs` lives at all: only a number above zero gives it life.
 * NaN, a string or a bigint end it, as zero does, rather than never expiring or throwing.
 */
const hasLife = (ttlMs: unknown): boolean => typeof ttlMs === 'number' && ttlMs > 0;

const copyMeta = (meta: SessionMeta): SessionMeta => JSON.parse(JSON.stringify(meta)) as SessionMeta;

/** The user an entry's data names under `userId`, if any. */
function userOf(entry: Entry): string | undefined {
  const data = JSON.parse(entry.data) as Record<string, unknown>;
  const userId = Object.hasOwn(data, 'userId') ? data['userId'] : undefined;
  return typeof userId === 'string' && userId !== '' ? userId : undefined;
}

/**
 * A correct store: JSON copies, lazy expiry, delta writes that define keys as own properties,
 * writes refused (resolving false) when they would continue a dead session, and a user index
 * read from the data itself.
 */
function referenceStore(now: () => number = Date.now) {
  const entries = new Map<string, Entry>();
  const live = (id: string): Entry | undefined => {
    const entry = entries.get(id);
    if (entry !== undefined && now() >= entry.expiresAt) entries.delete(id);
    return entries.get(id);
  };
  async function sessionsOf(userId: string): Promise<UserSession[]> {
    // Else `undefined` would match every session whose data names no user.
    if (typeof userId !== 'string' || userId === '') return [];
    const sessions: UserSession[] = [];
    for (const id of [...entries.keys()]) {
      const entry = live(id);
      if (entry === undefined || userOf(entry) !== userId) continue;
      sessions.push({ id, createdAt: entry.meta.createdAt, touchedAt: entry.meta.touchedAt, expiresAt: entry.meta.expiresAt });
    }
    return sessions;
  }
  return {
    name: 'reference',
    capabilities: { deltaWrites: true, userIndex: true },
    entries,
    async get(id: string): Promise<SessionRecord | undefined> {
      const entry = live(id);
      return entry && { data: JSON.parse(entry.data) as SessionRecord['data'], meta: copyMeta(entry.meta) };
    },
    async set(id: string, record: SessionRecord, ttlMs: number, changes?: SessionChanges): Promise<boolean> {
      if (!hasLife(ttlMs)) return entries.delete(id) || true;
      const entry = live(id);
      // A retired id stays retired: only a retired meta may be written over it.
      if (entry?.meta.retired === true && record.meta.retired !== true) return false;
      let data: object = record.data;
      if (changes !== undefined && !changes.created) {
        if (entry === undefined) return false;
        const merged = JSON.parse(entry.data) as Record<string, unknown>;
        for (const key of changes.set) {
          const value: unknown = Object.getOwnPropertyDescriptor(record.data, key)?.value;
          Object.defineProperty(merged, key, { value, enumerable: true, writable: true, configurable: true });
        }
        for (const key of changes.deleted) delete merged[key];
        data = merged;
      }
      // Through the store kit, as a store should: data JSON cannot hold fails as the app's bug.
      entries.set(id, { data: dataJson(data, data as SessionData) as string, meta: copyMeta(record.meta), expiresAt: now() + ttlMs });
      return true;
    },
    async destroy(id: string): Promise<void> {
      entries.delete(id);
    },
    async touch(id: string, meta: SessionMeta, ttlMs: number): Promise<boolean> {
      const entry = live(id);
      if (entry === undefined || (entry.meta.retired === true && meta.retired !== true)) return false;
      if (!hasLife(ttlMs)) return entries.delete(id);
      // Older than the stored meta (a save landed first): left as that save wrote it, and live.
      if (meta.retired !== true && meta.touchedAt < entry.meta.touchedAt) return true;
      entries.set(id, { data: entry.data, meta: copyMeta(meta), expiresAt: now() + ttlMs });
      return true;
    },
    async *ids(): AsyncIterable<string> {
      for (const id of [...entries.keys()]) if (live(id) !== undefined) yield id;
    },
    async clear(): Promise<void> {
      entries.clear();
    },
    sessionsOf,
    async revokeUser(userId: string, options?: RevokeUserOptions): Promise<number> {
      const except = revokeUserExcept(options, 'referenceStore: revokeUser');
      const doomed = (await sessionsOf(userId)).filter((session) => session.id !== except);
      for (const { id } of doomed) entries.delete(id);
      return doomed.length;
    },
    async close(): Promise<void> {},
  } satisfies Store & { readonly entries: Map<string, Entry> };
}

/** Only the required methods, no delta writes: every optional check must skip, none fail. */
function minimalStore(): Store {
  const { name, get, set, destroy } = referenceStore();
  return { name: `${name}-minimal`, capabilities: { deltaWrites: false }, get, set, destroy };
}

runStoreConformance({
  name: 'reference store, fake clock',
  ...(() => {
    const clock = fakeStoreClock();
    return { clock, create: () => referenceStore(clock.now), createSibling: () => referenceStore(clock.now) };
  })(),
});
runStoreConformance({ name: 'reference store, real time', create: () => referenceStore(), createSibling: () => referenceStore() });
runStoreConformance({ name: 'minimal store (required methods only)', create: minimalStore });

function check(title: string): Check {
  const found = conformanceClauses.flatMap((clause) => clause.checks).find((c) => c.title === title);
  if (found === undefined) throw new Error(`no check titled "${title}"`);
  return found;
}

/**
 * A broken store must fail `title`, while the reference store passes it: the failure comes from
 * the defect, not from the check being unable to pass.
 */
async function expectCaught(
  title: string,
  broken: (clock: FakeStoreClock) => Store,
  brokenSibling?: (store: Store, clock: FakeStoreClock) => Store,
): Promise<void> {
  const goodClock = fakeStoreClock();
  const good = { store: referenceStore(goodClock.now), clock: goodClock };
  const goodSibling = brokenSibling && { sibling: async () => referenceStore(goodClock.now) };
  await expect(runCheck(check(title), { ...good, ...goodSibling })).resolves.toBe('passed');
  const badClock = fakeStoreClock();
  const bad = broken(badClock);
  const badSibling = brokenSibling && { sibling: async () => brokenSibling(bad, badClock) };
  await expect(runCheck(check(title), { store: bad, clock: badClock, ...badSibling })).rejects.toThrow();
}

describe('the suite catches broken stores', () => {
  afterEach(() => {
    delete (Object.prototype as Record<string, unknown>)['polluted'];
  });

  it('a store that returns the object it was given fails the copy checks', async () => {
    const aliasing = (clock: FakeStoreClock): Store => {
      const records = new Map<string, SessionRecord>();
      return { ...referenceStore(clock.now), get: async (id) => records.get(id), set: async (id, record) => void records.set(id, record) };
    };
    await expectCaught('get returns a copy: changing the returned record does not change what is stored', aliasing);
    await expectCaught('set copies its record: changing the record after set does not change what is stored', aliasing);
  });

  it('a store that ignores the TTL fails the expiry checks', async () => {
    const immortal = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, set: (id, record, ttlMs, changes) => store.set(id, record, ttlMs > 0 ? Infinity : ttlMs, changes) };
    };
    await expectCaught('a record expires after its TTL and is never returned after it', immortal);
    await expectCaught('touch of an expired id does not revive it', immortal);
  });

  it('a store that stores records written with a TTL of zero fails the ttl <= 0 checks', async () => {
    const keepsZero = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, set: (id, record, ttlMs, changes) => store.set(id, record, ttlMs > 0 ? ttlMs : 1_000, changes) };
    };
    await expectCaught('set with a TTL of zero or less deletes an existing record', keepsZero);
    await expectCaught('set with a TTL of zero or less stores nothing for a new id', keepsZero);
  });

  it('a store whose touch creates records fails "touch of a missing id does not create it"', async () => {
    const creatingTouch = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, touch: (id, meta, ttlMs) => store.set(id, { data: {}, meta }, ttlMs) };
    };
    await expectCaught('touch of a missing id does not create it', creatingTouch);
    await expectCaught('touch of a destroyed id does not recreate it', creatingTouch);
  });

  it('a store that merges metas on touch fails "touch replaces the meta"', async () => {
    const mergingTouch = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        touch: async (id, meta, ttlMs) => {
          const old = await store.get(id);
          if (old !== undefined) await store.touch(id, { ...old.meta, ...meta }, ttlMs);
        },
      };
    };
    await expectCaught('touch replaces the meta and keeps the data', mergingTouch);
  });

  it('a store whose touch writes an older meta over a newer one fails the stale-touch checks', async () => {
    const rollingBack = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      // Forgets when the stored meta was touched, just before each touch: an older touch then
      // writes over it, as a store without the check would.
      const backdate = (id: string, touchedAt: number): void => {
        const entry = store.entries.get(id);
        if (entry !== undefined && entry.meta.touchedAt > touchedAt)
          store.entries.set(id, { ...entry, meta: { ...entry.meta, touchedAt } });
      };
      return { ...store, touch: (id, meta, ttlMs) => (backdate(id, meta.touchedAt), store.touch(id, meta, ttlMs)) };
    };
    await expectCaught(
      'touch whose meta is older than the stored one (an earlier touchedAt) leaves the meta as it was, and is not refused',
      rollingBack,
    );
    await expectCaught('touch whose meta is older than the stored one does not extend the life of the record', rollingBack);
    await expectCaught('touch whose meta is older than the stored one does not shorten the life of the record', rollingBack);
  });

  it('a store whose touch skips a meta as recent as the stored one, or a retired one, fails the checks that it goes through', async () => {
    const overcautious = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        touch: async (id, meta, ttlMs) => {
          const stored = store.entries.get(id);
          if (stored !== undefined && meta.touchedAt <= stored.meta.touchedAt && hasLife(ttlMs)) return true;
          return store.touch(id, meta, ttlMs);
        },
      };
    };
    await expectCaught('touch whose meta has the same touchedAt as the stored one replaces the meta and the life', overcautious);
    await expectCaught(
      'touch with a retired meta older than the stored one retires the record and sets its life all the same',
      overcautious,
    );
  });

  it('a store that declares delta writes but writes whole records loses a concurrent save', async () => {
    const wholeWrites = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, set: (id, record, ttlMs) => store.set(id, record, ttlMs) };
    };
    await expectCaught('two concurrent delta saves from the same loaded record that change different keys both survive', wholeWrites);
    await expectCaught('a delta save with created: false does not recreate a destroyed record', wholeWrites);
  });

  it('a store that writes over a retired record fails the retired-record checks', async () => {
    const reviving = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      // Forgets that the stored record is retired just before each write: the write then
      // continues it as if it were live, as a store without the check would.
      const revive = (id: string): void => {
        const entry = store.entries.get(id);
        if (entry?.meta.retired !== true) return;
        const { retired: _retired, ...meta } = entry.meta;
        store.entries.set(id, { ...entry, meta });
      };
      return {
        ...store,
        set: (id, record, ttlMs, changes) => (revive(id), store.set(id, record, ttlMs, changes)),
        touch: (id, meta, ttlMs) => (revive(id), store.touch(id, meta, ttlMs)),
      };
    };
    await expectCaught(
      'a save of a non-retired meta onto a retired record resolves false and leaves its data and meta as they were',
      reviving,
    );
    await expectCaught('a save refused on a retired record does not extend its life', reviving);
    await expectCaught('touch of a retired record with a non-retired meta resolves false and leaves it as it was', reviving);
    await expectCaught('a touch refused on a retired record does not extend its life', reviving);
    await expectCaught('a delta save racing the touch that retires its record leaves it retired, whichever lands first', reviving);
  });

  it('a store that refuses a write but resolves undefined fails the refusal checks', async () => {
    const silent = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: async (id, record, ttlMs, changes) => void (await store.set(id, record, ttlMs, changes)),
        touch: async (id, meta, ttlMs) => void (await store.touch(id, meta, ttlMs)),
      };
    };
    await expectCaught('a delta save with created: false of an id never stored resolves false and creates nothing', silent);
    await expectCaught('a delta save with created: false of a destroyed id resolves false and creates nothing', silent);
    await expectCaught('touch of a missing or destroyed id resolves false and creates nothing', silent);
  });

  it('a store that resolves false for a write it did fails "a set and a touch that write resolve true or undefined"', async () => {
    const gloomy = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, touch: async (id, meta, ttlMs) => (await store.touch(id, meta, ttlMs), false) };
    };
    await expectCaught('a set and a touch that write resolve true or undefined, never false', gloomy);
  });

  it('a store that keeps keys as UTF-8 text fails the lone-surrogate key checks', async () => {
    // What a Redis hash does with field names: UTF-8 cannot hold a lone surrogate, so Node writes
    // U+FFFD instead and the keys collide.
    const utf8 = (data: SessionData): SessionData =>
      Object.fromEntries(Object.entries(data).map(([key, value]) => [Buffer.from(key, 'utf8').toString('utf8'), value]));
    const lossy = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: (id, record, ttlMs, changes) =>
          store.set(
            id,
            { data: utf8(record.data), meta: record.meta },
            ttlMs,
            changes && {
              set: changes.set.map((key) => Buffer.from(key, 'utf8').toString('utf8')),
              deleted: changes.deleted.map((key) => Buffer.from(key, 'utf8').toString('utf8')),
              created: changes.created,
            },
          ),
      };
    };
    await expectCaught('data keys with lone surrogates, U+FFFD or escape characters are all distinct and round-trip exactly', lossy);
    await expectCaught('a delta save sets and deletes keys with lone surrogates, U+FFFD or escape characters one by one', lossy);
  });

  it('a delta store that assigns keys with [[Set]] fails the hostile-key checks', async () => {
    const assigning = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: async (id, record, ttlMs, changes) => {
          const old = await store.get(id);
          if (changes === undefined || changes.created || old === undefined) return store.set(id, record, ttlMs, changes);
          // The classic bug: a recursive merge walks `__proto__` into Object.prototype.
          const merge = (target: Record<string, unknown>, source: Record<string, unknown>, keys: readonly string[]) => {
            for (const key of keys) {
              const value = source[key];
              if (typeof value === 'object' && value !== null && typeof target[key] === 'object' && target[key] !== null) {
                merge(target[key] as Record<string, unknown>, value as Record<string, unknown>, Object.keys(value));
              } else target[key] = value;
            }
          };
          const data = old.data as Record<string, unknown>;
          merge(data, record.data as Record<string, unknown>, changes.set);
          return store.set(id, { data, meta: record.meta }, ttlMs);
        },
      };
    };
    await expectCaught('a delta save of hostile keys stores them as own data properties and pollutes nothing', assigning);
  });

  it('a store that folds id case fails the isolation check', async () => {
    const folding = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        get: (id) => store.get(id.toLowerCase()),
        set: (id, ...rest) => store.set(id.toLowerCase(), ...rest),
        destroy: (id) => store.destroy(id.toLowerCase()),
      };
    };
    await expectCaught('ids that are prefixes of each other or differ only in letter case are different records', folding);
  });

  it('a store whose ids lists expired records fails the ids check', async () => {
    const staleIds = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        async *ids() {
          yield* store.entries.keys();
        },
      };
    };
    await expectCaught('ids lists live ids and not destroyed or expired ones', staleIds);
  });

  it('a store whose second close throws fails the close check', async () => {
    const closeOnce = (clock: FakeStoreClock): Store => {
      let closed = false;
      return {
        ...referenceStore(clock.now),
        close: async () => {
          if (closed) throw new Error('already closed');
          closed = true;
        },
      };
    };
    await expectCaught('close resolves, and closing again resolves too', closeOnce);
  });

  it('a store that lets JSON.stringify\u2019s TypeError out fails the data-not-JSON checks', async () => {
    // What every store did before the store kit's dataJson: the app's bug read as a store outage.
    const rawJson = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: (id, record, ttlMs, changes) => {
          JSON.stringify(record.data);
          return store.set(id, record, ttlMs, changes);
        },
      };
    };
    await expectCaught(
      'a set of data holding a BigInt rejects with SessUsageError data_not_json and leaves the stored record as it was',
      rawJson,
    );
    await expectCaught(
      'a set of data holding a circular object rejects with SessUsageError data_not_json and leaves the stored record as it was',
      rawJson,
    );
    await expectCaught(
      'a delta save of a key holding a BigInt rejects with SessUsageError data_not_json and leaves the stored record as it was',
      rawJson,
    );
  });

  it('a store that writes the keys it can before failing on one fails the data-not-JSON delta check', async () => {
    const partial = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: async (id, record, ttlMs, changes) => {
          if (changes === undefined || changes.created) return store.set(id, record, ttlMs, changes);
          // One key at a time: the keys before the bad one land.
          for (const key of changes.set) await store.set(id, record, ttlMs, { set: [key], deleted: [], created: false });
          return true;
        },
      };
    };
    await expectCaught(
      'a delta save of a key holding a BigInt rejects with SessUsageError data_not_json and leaves the stored record as it was',
      partial,
    );
  });

  it('a store that reads any revokeUser options as it finds them fails the unreadable-options check', async () => {
    // What store-memory and store-postgres did: an id in place of { except: id } kept nothing.
    const trusting = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        revokeUser: async (userId, options) => {
          const except = (options as { except?: unknown } | null | undefined)?.except;
          return store.revokeUser(userId, typeof except === 'string' ? { except } : {});
        },
      };
    };
    await expectCaught(
      'revokeUser refuses options it cannot read (an id in place of { except: id }, null, an array, an except that is not a string, a misspelt except) with SessUsageError usage_invalid, whatever the user id, and destroys nothing',
      trusting,
    );
  });

  it('a store that refuses unreadable revokeUser options but ignores unknown keys fails the unreadable-options check', async () => {
    // What every store did through the store kit: { exept: id } read as no except, revoking the session to keep.
    const keyBlind = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        revokeUser: async (userId, options) => {
          const { except } = (options ?? {}) as { except?: unknown };
          const readable = typeof options === 'object' && options !== null && !Array.isArray(options);
          if (options !== undefined && (!readable || (except !== undefined && typeof except !== 'string')))
            throw new SessUsageError('unreadable options');
          return store.revokeUser(userId, typeof except === 'string' ? { except } : undefined);
        },
      };
    };
    await expectCaught(
      'revokeUser refuses options it cannot read (an id in place of { except: id }, null, an array, an except that is not a string, a misspelt except) with SessUsageError usage_invalid, whatever the user id, and destroys nothing',
      keyBlind,
    );
  });

  it('a store that turns a user id into a string fails the user-id check', async () => {
    // What store-postgres did: the number 42 reached the query as the text '42'.
    const stringifying = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        sessionsOf: (userId) => store.sessionsOf(String(userId)),
        revokeUser: (userId, options) => store.revokeUser(String(userId), options),
      };
    };
    await expectCaught(
      "sessionsOf and revokeUser of a user id that is not a non-empty string ('', a number, undefined) answer [] and 0 without throwing",
      stringifying,
    );
  });

  it('a check that needs a missing optional method is skipped, not failed', async () => {
    await expect(runCheck(check('touch of a missing id does not create it'), { store: minimalStore(), clock: undefined })).resolves.toBe(
      'skipped',
    );
  });
});

type Reference = ReturnType<typeof referenceStore>;

/** The live entry under `id` of a reference store, read without the lazy delete `get` does. */
function peek(store: Reference, clock: FakeStoreClock, id: string): Entry | undefined {
  const entry = store.entries.get(id);
  return entry !== undefined && clock.now() < entry.expiresAt ? entry : undefined;
}

describe('the suite catches broken stores: the checks added for gaps in the contract', () => {
  it('a store that declares a user index without its methods fails the shape check', async () => {
    const noIndex = (clock: FakeStoreClock): Store => {
      const { sessionsOf: _sessionsOf, revokeUser: _revokeUser, ...rest } = referenceStore(clock.now);
      return rest;
    };
    await expectCaught('a store that declares capabilities.userIndex has sessionsOf and revokeUser', noIndex);
  });

  it('a store that keeps a record one ms past its TTL fails the exact-boundary check', async () => {
    const late = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, set: (id, record, ttlMs, changes) => store.set(id, record, ttlMs > 0 ? ttlMs + 1 : ttlMs, changes) };
    };
    await expectCaught('a record is gone once exactly its TTL has passed, before any sweep', late);
  });

  it('a store that checks ttlMs <= 0 rather than !(ttlMs > 0) fails the NaN checks', async () => {
    // now + NaN is NaN, and no clock is ever past NaN: the record never expires.
    const nanForever = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      const forever = (ttlMs: number) => (Number.isNaN(ttlMs) ? Infinity : ttlMs);
      return {
        ...store,
        set: (id, record, ttlMs, changes) => store.set(id, record, forever(ttlMs), changes),
        touch: (id, meta, ttlMs) => store.touch(id, meta, forever(ttlMs)),
      };
    };
    await expectCaught('set with a NaN TTL deletes instead of storing a record that never expires', nanForever);
    await expectCaught('touch with a TTL of zero, less or NaN ends a live record and creates none for a missing id', nanForever);
  });

  it('a store that checks !(ttlMs > 0) rather than that ttlMs is a number above zero fails the no-number checks', async () => {
    // "60000" > 0 holds, so such a store keeps the record: for 60 s once a Math.ceil makes it a
    // number, for ever where now + "60000" makes a string past every clock.
    const comparesOnly = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      const asNumber = (ttlMs: number) => (ttlMs > 0 ? Number(ttlMs) : ttlMs);
      return {
        ...store,
        set: (id, record, ttlMs, changes) => store.set(id, record, asNumber(ttlMs), changes),
        touch: (id, meta, ttlMs) => store.touch(id, meta, asNumber(ttlMs)),
      };
    };
    await expectCaught(
      'set with a TTL that is no number (a string, undefined, a bigint, an object) deletes, as a TTL of zero does',
      comparesOnly,
    );
    await expectCaught(
      'touch with a TTL that is no number (a string, undefined, a bigint, an object) ends a live record and creates none, as a TTL of zero does',
      comparesOnly,
    );
  });

  it('a store whose touch deletes on a TTL that is no number before the retired check fails the retired-touch check', async () => {
    const deletesFirst = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        touch: async (id, meta, ttlMs) => (typeof ttlMs !== 'number' ? store.entries.delete(id) : store.touch(id, meta, ttlMs)),
      };
    };
    await expectCaught(
      'touch with a TTL that is no number of a retired record with a non-retired meta resolves false and leaves it as it was',
      deletesFirst,
    );
  });

  it('a store that only ever extends a TTL (PEXPIRE GT, GREATEST) fails the shortening checks', async () => {
    const extendOnly = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      const longest = (id: string, ttlMs: number) => {
        const entry = peek(store, clock, id);
        return entry === undefined || !(ttlMs > 0) ? ttlMs : Math.max(ttlMs, entry.expiresAt - clock.now());
      };
      return {
        ...store,
        set: (id, record, ttlMs, changes) => store.set(id, record, longest(id, ttlMs), changes),
        touch: (id, meta, ttlMs) => store.touch(id, meta, longest(id, ttlMs)),
      };
    };
    await expectCaught('set with a shorter TTL shortens the life of a record', extendOnly);
    await expectCaught('touch with a shorter TTL shortens the life of a record', extendOnly);
  });

  it('a store whose touch deletes on ttlMs <= 0 before the retired check fails the retired-touch check', async () => {
    const deletesFirst = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return { ...store, touch: async (id, meta, ttlMs) => (!(ttlMs > 0) ? store.entries.delete(id) : store.touch(id, meta, ttlMs)) };
    };
    await expectCaught(
      'touch with a TTL of zero or less of a retired record with a non-retired meta resolves false and leaves it as it was',
      deletesFirst,
    );
  });

  it('a store that refuses writes for a retired record it has not yet dropped fails the expired-retired check', async () => {
    const staleRetired = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: async (id, record, ttlMs, changes) =>
          store.entries.get(id)?.meta.retired === true && record.meta.retired !== true ? false : store.set(id, record, ttlMs, changes),
      };
    };
    await expectCaught('a retired record that expired refuses nothing: a save of a non-retired meta under its id is written', staleRetired);
  });

  it('a store that checks and writes in two steps fails the race with destroy', async () => {
    const twoSteps = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      return {
        ...store,
        set: async (id, record, ttlMs, changes) => {
          if (changes === undefined || changes.created) return store.set(id, record, ttlMs, changes);
          const stored = await store.get(id);
          if (stored === undefined) return false;
          const data: Record<string, unknown> = { ...stored.data };
          for (const key of changes.set) data[key] = record.data[key];
          for (const key of changes.deleted) delete data[key];
          return store.set(id, { data, meta: record.meta }, ttlMs);
        },
        touch: async (id, meta, ttlMs) => {
          const stored = await store.get(id);
          return stored === undefined ? false : store.set(id, { data: stored.data, meta }, ttlMs);
        },
      };
    };
    await expectCaught('a delta save or a touch racing a destroy never brings the record back, whichever lands first', twoSteps);
  });

  it('a store that drops odd keys or truncates big records and listings fails the key and size checks', async () => {
    const lossy = (clock: FakeStoreClock): Store => {
      const store = referenceStore(clock.now);
      const keep = (data: SessionData) =>
        Object.fromEntries(
          Object.entries(data)
            .filter(([key]) => key !== '')
            .slice(0, 1_000),
        );
      return {
        ...store,
        set: (id, record, ttlMs, changes) =>
          store.set(id, { data: keep(record.data), meta: record.meta }, ttlMs, changes && { ...changes, set: changes.set.slice(0, 1_000) }),
        async *ids() {
          let listed = 0;
          for await (const id of store.ids()) if (listed++ < 1_000) yield id;
        },
      };
    };
    await expectCaught('an empty key, numeric keys and a 1,000-character key round-trip', lossy);
    await expectCaught('a record with 3,000 keys round-trips', lossy);
    await expectCaught('a delta save that sets 2,000 keys and deletes 1,500 others writes them all and keeps the rest', lossy);
    await expectCaught('ids lists every one of 2,500 live ids', lossy);
  });

  it('a store that ignores its namespace fails every two-namespace check', async () => {
    const titles = [
      'records under the same id in two namespaces are different records',
      'a delta save or touch in one namespace does not continue a record of the other',
      'clear of one store leaves the records of the other',
      'ids of one store lists none of the ids of the other',
      'sessionsOf and revokeUser of one store do not reach the sessions of the other',
    ];
    // The sibling "in another namespace" is the same records: a prefix or table option ignored.
    for (const title of titles)
      await expectCaught(
        title,
        (clock) => referenceStore(clock.now),
        (store) => store,
      );
  });

  it('a user index that ignores expiry, keeps users after they change, skips retired sessions or miscounts fails', async () => {
    const withIndex = (
      clock: FakeStoreClock,
      list: (store: Reference, userId: string) => { id: string; entry: Entry }[],
      count: (listed: number, options: RevokeUserOptions) => number = (listed) => listed,
    ): Store => {
      const store = referenceStore(clock.now);
      const sessionsOf = async (userId: string): Promise<UserSession[]> =>
        list(store, userId).map(({ id, entry }) => ({
          id,
          createdAt: entry.meta.createdAt,
          touchedAt: entry.meta.touchedAt,
          expiresAt: entry.meta.expiresAt,
        }));
      return {
        ...store,
        sessionsOf,
        async revokeUser(userId, options = {}) {
          const doomed = (await sessionsOf(userId)).filter((session) => session.id !== options.except);
          for (const { id } of doomed) store.entries.delete(id);
          return count(doomed.length, options);
        },
      };
    };
    const byData = (store: Reference, userId: string, keep: (entry: Entry) => boolean) =>
      [...store.entries].filter(([, entry]) => userOf(entry) === userId && keep(entry)).map(([id, entry]) => ({ id, entry }));
    // Lists what is stored, live or not.
    const noExpiry = (clock: FakeStoreClock) => withIndex(clock, (store, userId) => byData(store, userId, () => true));
    await expectCaught('an expired session is neither listed nor counted by revokeUser, though never read since it expired', noExpiry);
    // Lists live sessions that are not retired.
    const noRetired = (clock: FakeStoreClock) =>
      withIndex(clock, (store, userId) => byData(store, userId, (entry) => clock.now() < entry.expiresAt && entry.meta.retired !== true));
    await expectCaught('sessionsOf lists and revokeUser destroys a retired session of the user', noRetired);
    // Counts one fewer whenever `except` is given, found or not.
    const miscount = (clock: FakeStoreClock) =>
      withIndex(
        clock,
        (store, userId) => byData(store, userId, (entry) => clock.now() < entry.expiresAt),
        (listed, options) => listed - (options.except === undefined ? 0 : 1),
      );
    await expectCaught(
      'revokeUser with except naming a missing id or a session of another user destroys every session of the user',
      miscount,
    );
    // An index written on sign-in and never cleaned: a session stays under every user it named.
    const sticky = (clock: FakeStoreClock): Store => {
      const named = new Map<string, Set<string>>();
      const inner = withIndex(clock, (store, userId) =>
        [...(named.get(userId) ?? [])].flatMap((id) => {
          const entry = peek(store, clock, id);
          return entry === undefined ? [] : [{ id, entry }];
        }),
      );
      return {
        ...inner,
        async set(id, record, ttlMs, changes) {
          const written = await inner.set(id, record, ttlMs, changes);
          const userId = (await inner.get(id))?.data['userId'];
          if (typeof userId === 'string') named.set(userId, (named.get(userId) ?? new Set()).add(id));
          return written;
        },
      };
    };
    await expectCaught(
      'a whole-record save that switches user or drops the user key moves the session: revoking the old user leaves it alone',
      sticky,
    );
    await expectCaught('a delta save that signs out or switches user moves the session: revoking the old user leaves it alone', sticky);
  });
});
