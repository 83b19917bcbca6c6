/**
 * The core's half of "nothing a request, a handler, a store or the clock does can crash the
 * process, answer 5xx after a write, or bring a dead session back": refusals at construction,
 * lifetimes checked where app input enters, store refusals the machine hears, and time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessConfigError, SessUsageError, createSessionManager, createSigner, generateId } from '../src/index.js';
import type { HttpEffect, Session, SessionEvent, SessionManagerOptions, Signer, VerifiedCookie } from '../src/index.js';
import { createDeadlines } from '../src/runner.js';
import { SECRET, setup, testStore } from './fixtures.js';

const sessionCookie = (effects: readonly HttpEffect[]) =>
  effects.find((effect) => (effect.type === 'cookie.set' || effect.type === 'cookie.delete') && effect.name === 'sid');

/** A signed-in visitor, and a way to start a request with their current cookie that finishes later. */
async function signedIn(options: Partial<SessionManagerOptions> = {}) {
  const world = setup(options, { deltaWrites: true });
  const { session } = await world.request((s) => s.set('user', 'ada'));
  const begin = async () => {
    const s = world.manager.begin({ cookieHeader: world.jar.header(), secure: false });
    await s.load();
    return s;
  };
  return { ...world, id: session.id as string, begin };
}

describe('lifetimes are checked where they enter', () => {
  it.each([
    ['maxAgeMs beyond 400 days', { maxAgeMs: 1e16 }],
    ['maxAgeMs under a second (it would go out as Max-Age=0)', { maxAgeMs: 500 }],
    ['idleTimeoutMs beyond 400 days', { idleTimeoutMs: 1e16 }],
    ['absoluteTimeoutMs that is not a number', { absoluteTimeoutMs: '1h' as unknown as number }],
    ['a negative storeTimeoutMs', { storeTimeoutMs: -1 }],
    ['a storeTimeoutMs of 0 (every store call that waits would fail)', { storeTimeoutMs: 0 }],
  ] as const)('refuses %s at construction', (_, options) => {
    expect(() => setup(options)).toThrow(SessConfigError);
  });

  it.each([
    ['a string of ms', '5000'],
    ['a Date', new Date(Date.now() + 5_000)],
    ['NaN', Number.NaN],
  ])("refuses a request's own maxAgeMs of %s with SessUsageError (a string was taken, then ignored for the default)", (_, maxAgeMs) => {
    const { manager } = setup();
    expect(() => manager.begin({ cookieHeader: undefined, secure: false, maxAgeMs: maxAgeMs as unknown as number })).toThrow(
      SessUsageError,
    );
  });

  it.each([
    ['1e13 seconds', 1e13],
    ['half a second (Max-Age=0 on a live cookie)', 0.5],
    ['a negative number', -5],
    ['NaN', Number.NaN],
    ['a Date no Date can hold', new Date(8.64e15)],
    ['an invalid Date', new Date('nonsense')],
  ] as const)('setExpiry(%s) throws SessUsageError in the handler, and the commit writes nothing for it', async (_, value) => {
    const { request, store } = setup();
    const { effects } = await request((s) => {
      s.set('a', 1);
      expect(() => s.setExpiry(value)).toThrow(SessUsageError);
    });
    // The refused lifetime left the session as it was: saved with the default lifetime.
    expect(sessionCookie(effects)).toMatchObject({ type: 'cookie.set', attributes: { maxAgeMs: 86_400_000 } });
    expect(store.calls.filter((call) => call.startsWith('set'))).toHaveLength(1);
  });
});

describe("a request's readOnly", () => {
  // An adapter passes `readOnly(request)` of the app's predicate: an async one answers a promise,
  // which is truthy, so every request was read-only and every write threw.
  it.each([
    ['a promise (an async predicate)', () => Promise.resolve(false)],
    ['a rejected promise', () => Promise.reject(new Error('no answer'))],
  ])('refuses %s with SessConfigError naming the option, at the request', (_, answer) => {
    const { manager, store } = setup();
    expect(() => manager.begin({ cookieHeader: undefined, secure: false, readOnly: answer() as unknown as boolean })).toThrow(
      new SessConfigError('readOnly must return true or false, synchronously; it returned a promise'),
    );
    expect(store.calls).toEqual([]);
  });

  it('takes true and false, and reads any other answer by its truthiness (a regex match is read-only, none is not)', async () => {
    const { manager } = setup();
    for (const readOnly of [true, /^\/api\//.exec('/api/users')]) {
      const session = manager.begin({ cookieHeader: undefined, secure: false, readOnly: readOnly as boolean });
      expect(() => session.set('a', 1)).toThrow(SessUsageError);
    }
    for (const readOnly of [false, undefined, null, '']) {
      const session = manager.begin({ cookieHeader: undefined, secure: false, readOnly: readOnly as boolean });
      session.set('a', 1);
      expect(sessionCookie(await session.commit({ status: 200 }))).toMatchObject({ type: 'cookie.set' });
    }
  });
});

describe("a custom signer's answers", () => {
  /** A signer that signs as sess does, and whose verify answers `answer()` for any cookie. */
  const verifying = (answer: () => unknown): Signer => {
    const real = createSigner(SECRET);
    return { sign: (name, id) => real.sign(name, id), verify: () => answer() as VerifiedCookie | undefined };
  };
  const signedBy = (signer: Signer) => {
    const store = testStore(Date.now);
    return { manager: createSessionManager({ signer, store }), store };
  };

  it.each([
    ['true', () => true],
    ['an object without an id', () => ({ rotated: false })],
    ['an id that is a number', () => ({ id: 42, rotated: false })],
    ['an empty id', () => ({ id: '', rotated: false })],
    ['an id too short to be random', () => ({ id: 'ada', rotated: false })],
    ['an id with a path in it', () => ({ id: '../../sessions/0123456789abcdefghij', rotated: false })],
    [
      'an object whose id getter throws',
      () => ({
        get id(): string {
          throw new TypeError('not parsed');
        },
        rotated: false,
      }),
    ],
  ])('a verify answer of %s reads as a cookie that did not verify: a fresh session, and the store is asked nothing', async (_, answer) => {
    const { manager, store } = signedBy(verifying(answer));
    const session = manager.begin({ cookieHeader: 'sid=anything', secure: false });
    await session.load();
    expect(session.get('user')).toBeUndefined();
    expect(session.id).toBeUndefined();
    expect(store.calls).toEqual([]);
  });

  it('a verify that throws on a value it cannot read answers as for a forged cookie, not with a 500: a fresh session, and the store is asked nothing', async () => {
    const events: SessionEvent[] = [];
    const store = testStore(Date.now);
    const manager = createSessionManager({
      store,
      signer: verifying(() => {
        throw new SyntaxError('Unexpected token in JSON');
      }),
      onEvent: (event) => void events.push(event),
    });
    const session = manager.begin({ cookieHeader: 'sid=%7Bnot-json', secure: false });
    await session.load();
    session.set('user', 'ada');
    const effects = await session.commit({ status: 200 });
    expect(session.id).toBeDefined();
    expect(effects.some((effect) => effect.type === 'cookie.set')).toBe(true);
    expect(store.calls).toEqual([`set ${session.id}`]);
    // A signer that throws on every cookie signs every visitor out: told, not silent.
    expect(events.filter((event) => event.type === 'signerError')).toEqual([{ type: 'signerError' }]);
  });

  it('a verify that throws is told to onEvent even when onEvent throws too, and the request goes on', async () => {
    const manager = createSessionManager({
      store: testStore(Date.now),
      signer: verifying(() => {
        throw new RangeError('bad key');
      }),
      onEvent: () => {
        throw new Error('logger down');
      },
    });
    const session = manager.begin({ cookieHeader: 'sid=anything', secure: false });
    await session.load();
    session.set('user', 'ada');
    expect((await session.commit({ status: 200 })).some((effect) => effect.type === 'cookie.set')).toBe(true);
  });

  it('a verify that answers "not verified" is no signerError: a forged cookie is not the signer failing', async () => {
    const events: SessionEvent[] = [];
    const manager = createSessionManager({
      store: testStore(Date.now),
      signer: verifying(() => undefined),
      onEvent: (event) => void events.push(event),
    });
    await manager.begin({ cookieHeader: 'sid=forged', secure: false }).load();
    expect(events).toEqual([]);
  });

  it('a verify answer with a well-formed id is taken as it is', async () => {
    const id = generateId();
    const { manager, store } = signedBy(verifying(() => ({ id, rotated: false })));
    await manager.begin({ cookieHeader: 'sid=anything', secure: false }).load();
    expect(store.calls).toEqual([`get ${id}`]);
  });

  it('an async verify fails the request with SessConfigError, instead of turning every visitor away', () => {
    const { manager } = signedBy(verifying(async () => ({ id: generateId(), rotated: false })));
    expect(() => manager.begin({ cookieHeader: 'sid=anything', secure: false })).toThrow(
      new SessConfigError('signer.verify must return { id, rotated } or undefined, synchronously; it returned a promise'),
    );
  });

  it.each([
    ['undefined', () => undefined, 'undefined'],
    ['a Buffer', () => Buffer.from('value'), 'an object'],
    ['a promise (an async sign)', async () => 'value', 'a promise'],
  ])('a sign that returns %s fails the request with SessConfigError: nothing else goes out as the cookie', async (_, sign, kind) => {
    const { manager } = signedBy({ sign: sign as unknown as () => string, verify: () => undefined });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    session.set('a', 1);
    await expect(async () => session.commit({ status: 200 })).rejects.toThrow(
      new SessConfigError(`signer.sign must return the cookie value as a string, synchronously; it returned ${kind}`),
    );
  });
});

describe('options are validated once', () => {
  it('refuses an unknown option, naming the closest known one', () => {
    expect(() => setup({ maxAge: 1000 } as unknown as SessionManagerOptions)).toThrow(/unknown option "maxAge": did you mean "maxAgeMs"\?/);
    expect(() => setup({ cookie: { samesite: 'lax' } } as unknown as SessionManagerOptions)).toThrow(
      /unknown option "samesite": did you mean "sameSite"\?/,
    );
  });

  it('refuses an unknown option the options object inherits, as it reads the known ones it inherits', () => {
    const options = Object.assign(Object.create({ roling: true }) as object, { secret: SECRET, store: testStore(Date.now) });
    expect(() => createSessionManager(options as SessionManagerOptions)).toThrow(/unknown option "roling": did you mean "rolling"\?/);
  });

  it.each([
    ['generateId that is not a function', { generateId: 'bogus' }],
    ['clock that is not a function', { clock: 42 }],
    ['rolling that is not a boolean', { rolling: 'yes' }],
    ['cookie.secure that is not true, false or auto', { cookie: { secure: 'always' } }],
    ['a schema that is not a Standard Schema', { schema: { parse: () => ({}) } }],
  ])('refuses %s', (_, options) => {
    expect(() => setup(options as unknown as SessionManagerOptions)).toThrow(SessConfigError);
  });

  // Found on the first write otherwise: after the store had saved a record whose times are a
  // string or NaN, the commit answered cookie attributes no Set-Cookie line can be made from.
  it.each([
    ['a Date', () => new Date()],
    ['NaN', () => Number.NaN],
    ['a string of digits', () => String(Date.now())],
    ['Infinity', () => Number.POSITIVE_INFINITY],
  ])('refuses a clock that returns %s, at construction', (_, clock) => {
    expect(() => setup({ clock: clock as unknown as () => number })).toThrow(/clock must return the time in epoch ms/);
  });

  it('accepts a clock that throws at construction (it may need what the app sets up later)', () => {
    expect(() =>
      setup({
        clock: () => {
          throw new Error('not ready');
        },
      }),
    ).not.toThrow();
  });

  it.each([
    ['a BigInt', () => 10n],
    [
      'an object with a cycle',
      () => {
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        return cycle;
      },
    ],
  ])('refuses a generateId that returns %s with SessConfigError, not the TypeError of quoting it', (_, generateId) => {
    expect(() => setup({ generateId: generateId as unknown as () => string })).toThrow(SessConfigError);
  });

  it('refuses a store written for another library (koa-session style) instead of failing every write', () => {
    const foreign = { get: async () => undefined, set: async () => undefined, destroy: async () => undefined };
    expect(() => createSessionManager({ secret: SECRET, store: foreign as never })).toThrow(
      /not a sess store \(missing or wrong: name, capabilities\)/,
    );
  });

  it('refuses no options at all with SessConfigError, not a TypeError', () => {
    expect(() => createSessionManager(undefined as never)).toThrow(SessConfigError);
  });
});

describe('the machine hears what the store answered', () => {
  it('with rolling, a request racing a sign-out whose touch the store refused sends no cookie for the dead id', async () => {
    const { begin, request, store, id } = await signedIn({ rolling: true });
    const racing = await begin();
    racing.get('user');
    await request((s) => s.destroy());
    expect(store.peek(id)).toBeUndefined();
    const effects = await racing.commit({ status: 200 });
    expect(sessionCookie(effects)).toBeUndefined();
    expect(effects.map((effect) => effect.type)).toEqual(['header.vary']);
    expect(store.peek(id)).toBeUndefined();
  });

  it('a change racing a sign-out is refused by the store: no record comes back and no cookie names it', async () => {
    const { begin, request, store, id } = await signedIn();
    const racing = await begin();
    racing.set('cart', 3);
    await request((s) => s.destroy());
    const effects = await racing.commit({ status: 200 });
    expect(store.peek(id)).toBeUndefined();
    expect(sessionCookie(effects)).toBeUndefined();
  });

  it('with a grace window, a request in flight on the old id that writes after the sign-in leaves the old id retired', async () => {
    const { begin, request, store, id, clock } = await signedIn({ regenerateGraceMs: 5_000, rolling: true });
    const racing = await begin();
    racing.set('cart', 3);
    const signIn = await request(async (s) => {
      await s.regenerate();
      s.set('user', 'ada (signed in)');
    });
    const retired = store.peek(id);
    expect(retired?.meta.retired).toBe(true);
    const effects = await racing.commit({ status: 200 });
    expect(sessionCookie(effects)).toBeUndefined();
    expect(store.peek(id)).toEqual(retired);
    clock.advance(5_000);
    expect(store.peek(id)).toBeUndefined();
    expect(store.peek(signIn.session.id as string)?.data).toEqual({ user: 'ada (signed in)' });
  });
});

describe('time', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ['created', 'createdAt'],
    ['last touched', 'touchedAt'],
  ] as const)('a record %s an hour ahead of the clock is expired (skew fails closed)', async (_, field) => {
    const { request, store, id, clock } = await signedIn({ idleTimeoutMs: 60_000 });
    const record = store.peek(id);
    if (record === undefined) throw new Error('no record');
    store.put(id, { ...record, meta: { ...record.meta, [field]: clock.now() + 3_600_000 } });
    const { result, session } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBeUndefined();
    expect(session.id).toBeUndefined();
  });

  it('a record a few seconds ahead (clocks of two servers) is still live', async () => {
    const { request, store, id, clock } = await signedIn();
    const record = store.peek(id);
    if (record === undefined) throw new Error('no record');
    store.put(id, { ...record, meta: { ...record.meta, createdAt: clock.now() + 5_000, touchedAt: clock.now() + 5_000 } });
    const { result } = await request(async (s) => {
      await s.load();
      return s.get('user');
    });
    expect(result).toBe('ada');
  });

  it('store-call deadlines ignore wall-clock steps: a step forward times nothing out', async () => {
    const deadlines = createDeadlines(200);
    let answer!: (value: string) => void;
    const pending = deadlines.race(new Promise<string>((resolve) => (answer = resolve)), () => 'timeout');
    const realNow = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(realNow + 3_600_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    answer('answered');
    expect(await pending).toBe('answered');
  });

  it('store-call deadlines ignore wall-clock steps: a step backward does not let a hung call hang', async () => {
    const deadlines = createDeadlines(50);
    const realNow = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(realNow - 3_600_000);
    const started = performance.now();
    expect(await deadlines.race(new Promise<string>(() => undefined), () => 'timeout')).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('rejected cookies', () => {
  it('a junk cookie on a longer path, sent first, never draws a deletion that would hit the real cookie', async () => {
    const { manager, store, id } = await signedIn();
    const real = createSigner(SECRET).sign('sid', id);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const session: Session = manager.begin({ cookieHeader: `sid=junk-${method}; sid=${real}`, secure: false });
      await session.load();
      session.get('user');
      const effects = await session.commit({ status: 200 });
      expect(sessionCookie(effects)).toBeUndefined();
    }
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });
  });
});

it('testStore refuses a revival the way the contract says (the doubles above depend on it)', async () => {
  const store = testStore(() => 0, { deltaWrites: true });
  const meta = { createdAt: 0, touchedAt: 0, expiresAt: 10_000 };
  expect(await store.set('a'.repeat(32), { data: {}, meta }, 10_000, { set: [], deleted: [], created: false })).toBe(false);
  expect(await store.touch?.('a'.repeat(32), meta, 10_000)).toBe(false);
});
