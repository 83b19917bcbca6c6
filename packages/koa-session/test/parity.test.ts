/**
 * koa-session's own checklist, run side by side: the same app on the real koa-session and on
 * this package, over real HTTP, one browser each. What the browser keeps, what it is answered,
 * what the store is asked and what the app hears must be the same (keys and times aside).
 */
import { inspect } from 'node:util';
import type { Context, Middleware } from 'koa';
import realSession from 'koa-session';
import { describe, expect, it } from 'vitest';
import ourSession from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { Browser, KOAS, type KoaClass, koaApp, memoryStore, serve } from './helpers.js';

type Factory = (options: SessionOptions, app: never) => Middleware;
const LIBRARIES = {
  'koa-session': realSession as unknown as Factory,
  '@sess/koa-session': ourSession as unknown as Factory,
};

/** The options, with `store: true` for a fresh memory store. */
type ScenarioOptions = Omit<SessionOptions, 'store'> & { store?: true };

interface Step {
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** Cookies to put in the jar before this step, as a browser that had them. */
  readonly jar?: Record<string, string>;
}

interface Scenario {
  /** Options for the middleware; `store` gets a fresh memory store. */
  readonly options?: ScenarioOptions;
  readonly handle: (ctx: Context) => unknown;
  readonly steps: readonly (string | Step)[];
  /** Middleware before the session's. */
  readonly before?: Middleware;
  /** Request headers a client sends from the last answer that had them (a token). */
  readonly carry?: (headers: Headers) => Record<string, string> | undefined;
  /** What is not compared: sess deletes a cookie naming a session the store no longer has, koa-session leaves it. */
  readonly leaveOut?: 'cookies';
  /**
   * Compare each step's store calls in any order: sess writes a rotated session before it
   * destroys the old one (never a moment with neither), koa-session destroys first.
   */
  readonly anyOrder?: boolean;
  /** app.proxy, so X-Forwarded-Proto makes a request secure. */
  readonly proxy?: boolean;
  /** app.keys, or null for none. */
  readonly keys?: readonly string[] | null;
  /** Puts sessions in the store before the steps. */
  readonly seed?: (sessions: Map<string, Record<string, unknown>>) => void;
}

type Store = ReturnType<typeof memoryStore>;

/** Names the keys, times and signatures that differ by run, in the order they first appear. */
function normalizer() {
  const names = new Map<string, string>();
  const key = (value: string) => {
    if (!names.has(value)) names.set(value, `KEY${names.size + 1}`);
    return names.get(value) as string;
  };
  const data = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [field, inner] of Object.entries(value)) out[field] = field === '_expire' ? typeof inner : inner;
    return out;
  };
  const cookieValue = (name: string, value: string, storeMode: boolean) => {
    if (value === '') return '';
    if (name.endsWith('.sig')) return 'SIG';
    if (storeMode) return key(value);
    try {
      return data(JSON.parse(Buffer.from(value, 'base64').toString('utf8')));
    } catch {
      return value;
    }
  };
  const setCookie = (line: string, storeMode: boolean) => {
    const [pair = '', ...rest] = line.split(';').map((part) => part.trim());
    const name = pair.slice(0, pair.indexOf('='));
    const attributes: string[] = [];
    let lifetime = 'browser';
    for (const attribute of rest) {
      const [field = '', value = ''] = attribute.split('=');
      const lower = field.toLowerCase();
      if (lower === 'expires') lifetime = Date.parse(value) <= Date.now() ? 'deleted' : 'expires';
      else if (lower === 'max-age') lifetime = Number(value) <= 0 ? 'deleted' : 'expires';
      else attributes.push(attribute.toLowerCase());
    }
    // A deleting line's value is never kept (koa-session's `.sig` one carries a signature of nothing).
    const value = lifetime === 'deleted' ? '' : cookieValue(name, pair.slice(pair.indexOf('=') + 1), storeMode);
    return { name, value, lifetime, attributes: attributes.sort() };
  };
  const body = (text: string) => {
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return JSON.parse(JSON.stringify(parsed), (_, value) => (typeof value === 'string' && names.has(value) ? names.get(value) : value));
  };
  return { key, data, setCookie, body };
}

async function run(library: keyof typeof LIBRARIES, Koa: KoaClass, scenario: Scenario) {
  const store: Store = memoryStore();
  scenario.seed?.(store.sessions);
  const { store: withStore, ...rest } = scenario.options ?? {};
  const options: SessionOptions = { ...rest, ...(withStore && { store }) };
  const storeMode = withStore === true || options.ContextStore !== undefined || options.externalKey !== undefined;
  const app = koaApp(Koa, scenario.keys);
  app.proxy = scenario.proxy ?? false;
  const heard: unknown[] = [];
  for (const event of ['missed', 'expired', 'invalid'])
    app.on(`session:${event}`, ({ key, value }: { key?: string; value?: unknown }) => heard.push({ event, key, value }));
  const errors: string[] = [];
  app.on('error', (error: Error) => errors.push(error.message));
  if (scenario.before !== undefined) app.use(scenario.before);
  app.use(LIBRARIES[library](options, app as never));
  app.use(async (ctx: Context) => {
    const result = await scenario.handle(ctx);
    if (ctx.body === undefined && result !== undefined) ctx.body = JSON.stringify(result);
  });
  const browser = new Browser(await serve(app));
  const n = normalizer();
  for (const [name] of store.sessions) n.key(name);
  const seen = [];
  let carried: Record<string, string> = {};
  for (const raw of scenario.steps) {
    const step = typeof raw === 'string' ? { path: raw } : raw;
    for (const [name, value] of Object.entries(step.jar ?? {})) browser.jar.set(name, value);
    const before = store.calls.length;
    const reply = await browser.get(step.path, { ...carried, ...step.headers });
    carried = scenario.carry?.(reply.headers) ?? carried;
    // Both emit the session events with setImmediate: one more turn, and this request's are in.
    await new Promise((resolve) => setImmediate(resolve));
    const cookies = reply.setCookies.map((line) => n.setCookie(line, storeMode));
    const calls = store.calls.slice(before).map(({ op, key, maxAge, options: { ctx, ...more } }) => ({
      op,
      key: n.key(key),
      maxAge,
      ctx: ctx !== undefined,
      ...more,
      ...(op === 'set' && { data: n.data(store.sessions.get(key)) }),
    }));
    if (scenario.anyOrder) calls.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    seen.push({
      step: step.path,
      status: reply.status,
      body: n.body(reply.body),
      cookies: scenario.leaveOut === 'cookies' ? [] : cookies,
      store: calls,
      heard: heard
        .splice(0)
        .map((event) => n.body(JSON.stringify({ ...(event as object), value: n.data((event as { value: unknown }).value) }))),
      errors: errors.splice(0),
    });
  }
  return seen;
}

async function same(Koa: KoaClass, scenario: Scenario) {
  const theirs = await run('koa-session', Koa, scenario);
  const ours = await run('@sess/koa-session', Koa, scenario);
  expect(ours).toEqual(theirs);
  return theirs;
}

const setOrShow = (ctx: Context) => {
  if (ctx.path === '/set') ctx.session!.message = 'hello';
  if (ctx.path === '/semi') ctx.session!.message = ';';
  if (ctx.path === '/change') ctx.session!.money = '$$$';
  if (ctx.path === '/null') ctx.session = null;
  if (ctx.path === '/empty') {
    // Read first: before any read, koa-session's cookie mode takes `= {}` for no change and keeps the old cookie.
    ctx.session!.toJSON();
    ctx.session = {};
  }
  if (ctx.path === '/object') ctx.session = { message: 'replaced' };
  if (ctx.path === '/untouched') return 'nothing';
  return ctx.session === null ? null : { ...ctx.session!.toJSON(), isNew: ctx.session!.isNew };
};

const base64 = (object: object) => Buffer.from(JSON.stringify(object)).toString('base64');

const MODES: readonly (readonly [string, ScenarioOptions])[] = [
  ['cookie mode', {}],
  ['store mode', { store: true }],
];

describe.each(KOAS)('%s', (_, Koa) => {
  describe.each(MODES)('%s', (_mode, modeOptions) => {
    const options = (more: ScenarioOptions = {}): ScenarioOptions => ({ ...modeOptions, ...more });

    it('set, read, change, leave alone, replace, empty and destroy', async () => {
      await same(Koa, {
        options: options(),
        handle: setOrShow,
        steps: ['/untouched', '/', '/set', '/', '/untouched', '/change', '/semi', '/', '/object', '/empty', '/', '/null', '/'],
      });
    });

    it('= {} on a new session', async () => {
      await same(Koa, { options: options(), handle: setOrShow, steps: ['/empty', '/'] });
    });

    it('= anything else fails the request', async () => {
      await same(Koa, {
        options: options(),
        handle: (ctx) => {
          (ctx as { session: unknown }).session = 'asdf';
        },
        steps: ['/'],
      });
    });

    it('an error thrown downstream and caught upstream still saves the session', async () => {
      await same(Koa, {
        options: options(),
        before: async (ctx, next) => {
          try {
            await next();
          } catch (error) {
            ctx.status = (error as { status: number }).status;
            ctx.body = (error as Error).message;
          }
        },
        handle: (ctx) => {
          if (ctx.path === '/fail') {
            ctx.session!.name = 'funny';
            ctx.throw(401);
          }
          return ctx.session!.toJSON();
        },
        steps: ['/fail', '/'],
      });
    });

    it("maxAge: 'session' over several changes, and a number", async () => {
      const counter = (ctx: Context) => {
        ctx.session!.count = (ctx.session!.count ?? 0) + 1;
        return { count: ctx.session!.count, maxAge: ctx.session!.maxAge ?? 'none' };
      };
      await same(Koa, { options: options({ maxAge: 'session' }), handle: counter, steps: ['/', '/', '/'] });
      await same(Koa, { options: options({ maxAge: 100_000 }), handle: counter, steps: ['/', '/'] });
      await same(Koa, { options: options(), handle: counter, steps: ['/', '/'] });
    });

    it('ctx.session.maxAge read and set, with and without data, and = { maxAge }', async () => {
      await same(Koa, {
        options: options({ maxAge: 100_000 }),
        handle: (ctx) => ({ maxAge: ctx.session!.maxAge }),
        steps: ['/'],
      });
      await same(Koa, {
        options: options(),
        handle: (ctx) => {
          if (ctx.path === '/data') ctx.session!.foo = 'bar';
          if (ctx.path !== '/object') ctx.session!.maxAge = 100_000;
          else ctx.session = { maxAge: 100_000 };
          return { ...ctx.session!.toJSON(), maxAge: ctx.session!.maxAge };
        },
        steps: ['/data', '/', { path: '/object', jar: { 'koa.sess': '', 'koa.sess.sig': '' } }, '/'],
      });
    });

    it('save() of a new empty session, and of an unchanged one', async () => {
      await same(Koa, {
        options: options(),
        handle: async (ctx) => {
          if (ctx.path === '/save') await ctx.session!.save();
          if (ctx.path === '/set') ctx.session!.a = 1;
          return ctx.session!.toJSON();
        },
        steps: ['/save', '/set', '/save'],
      });
    });

    it('rolling: nothing for no session; both cookies again for one that did not change', async () => {
      await same(Koa, {
        options: options({ rolling: true }),
        handle: (ctx) => {
          if (ctx.path === '/set') ctx.session = { foo: 'bar' };
          return ctx.session!.toJSON();
        },
        steps: ['/', '/set', '/', '/untouched'],
      });
    });

    it('regenerate() keeps the data under a new key or cookie', async () => {
      await same(Koa, {
        options: options(),
        handle: async (ctx) => {
          if (ctx.path === '/set') ctx.session = { message: 'hi' };
          if (ctx.path === '/rotate') await ctx.session!.regenerate();
          return ctx.session!.toJSON();
        },
        // A new session rotated too (store mode: koa-session also destroys the key it just made, which no store has).
        steps: [...(modeOptions.store ? [] : ['/rotate', '/']), '/set', '/rotate', '/'],
        anyOrder: true,
      });
    });

    it('valid() and beforeSave(): a session of another uid is a new one', async () => {
      await same(Koa, {
        options: options({
          valid: (ctx, session) => ctx.get('x-uid') === session.uid,
          beforeSave: (ctx, session) => {
            session.uid = ctx.get('x-uid');
          },
        }),
        handle: (ctx) => {
          ctx.session!.foo ??= `made for ${ctx.get('x-uid')}`;
          return ctx.session!.toJSON();
        },
        steps: [
          { path: '/', headers: { 'x-uid': '123' } },
          { path: '/', headers: { 'x-uid': '123' } },
          { path: '/', headers: { 'x-uid': '456' } },
        ],
      });
    });

    it('autoCommit: false sends nothing without manuallyCommit()', async () => {
      await same(Koa, {
        options: options({ autoCommit: false }),
        handle: async (ctx) => {
          ctx.session!.message = ctx.path;
          if (ctx.path === '/commit') await ctx.session!.manuallyCommit();
          return ctx.session!.toJSON();
        },
        steps: ['/', '/commit', '/'],
      });
    });

    it('save(), manuallyCommit() and regenerate() in a middleware ahead of session(), after `await next()`: koa-session writes then; sess has committed, so each fails aloud (the error event, the promise), never resolving over a dropped change', async () => {
      const scenario: Scenario = {
        options: options(),
        before: async (ctx, next) => {
          await next();
          const session = ctx.session!;
          // A bare call, as after a response: only Koa's error event can hear it.
          if (ctx.path === '/late-save') {
            session.late = 'save';
            void session.save();
          }
          // Caught only because koa-session's, in store mode, sets its new cookie once the response is out, and rejects.
          if (ctx.path === '/late-regenerate') session.regenerate()?.catch(() => {});
          if (ctx.path === '/late-commit') {
            session.late = 'commit';
            await session.manuallyCommit();
          }
          // The handler's change was committed, and nothing changed since: nothing is dropped, and it resolves.
          if (ctx.path === '/change') await session.manuallyCommit();
        },
        handle: setOrShow,
        steps: ['/set', '/late-save', '/', '/late-commit', '/', '/change', '/late-regenerate'],
      };
      const outcome = (seen: Awaited<ReturnType<typeof run>>) =>
        seen.map(({ step, status, body, errors }) => ({ step, status, late: (body as { late?: string }).late, errors }));
      // Each body is the handler's, before the late call: the next visit shows what was kept.
      expect(outcome(await run('koa-session', Koa, scenario))).toEqual([
        { step: '/set', status: 200, late: undefined, errors: [] },
        { step: '/late-save', status: 200, late: undefined, errors: [] },
        { step: '/', status: 200, late: 'save', errors: [] },
        { step: '/late-commit', status: 200, late: 'save', errors: [] },
        { step: '/', status: 200, late: 'commit', errors: [] },
        { step: '/change', status: 200, late: 'commit', errors: [] },
        { step: '/late-regenerate', status: 200, late: 'commit', errors: [] },
      ]);
      const refused = (operation: string) =>
        expect.stringMatching(new RegExp(`^\\[sess\\] ctx\\.session\\.${operation}\\(\\) came after the session was committed`));
      expect(outcome(await run('@sess/koa-session', Koa, scenario))).toEqual([
        { step: '/set', status: 200, late: undefined, errors: [] },
        { step: '/late-save', status: 200, late: undefined, errors: [refused('save')] },
        { step: '/', status: 200, late: undefined, errors: [] },
        // Awaited, the rejection also fails the request, and Koa's error handling reports it again.
        { step: '/late-commit', status: 500, late: undefined, errors: [refused('manuallyCommit'), refused('manuallyCommit')] },
        { step: '/', status: 200, late: undefined, errors: [] },
        { step: '/change', status: 200, late: undefined, errors: [] },
        { step: '/late-regenerate', status: 200, late: undefined, errors: [refused('regenerate')] },
      ]);
    });

    it('ctx.session: toJSON, isNew, length, populated, inspect; functions and _ keys are no data', async () => {
      await same(Koa, {
        options: options(),
        handle: (ctx) => {
          const s = ctx.session!;
          if (ctx.path === '/set') Object.assign(s, { foo: 'bar', _hidden: 1, fn: () => 1 });
          return { json: s.toJSON(), isNew: s.isNew, length: s.length, populated: s.populated, inspected: inspect(s) };
        },
        steps: ['/', '/set', '/'],
      });
    });

    it('ctx.sessionOptions', async () => {
      await same(Koa, {
        options: options({ maxAge: 100_000, sameSite: 'lax' }),
        handle: (ctx) => {
          const { store, ...shown } = ctx.sessionOptions as Record<string, unknown>;
          return { ...shown, store: store !== undefined };
        },
        steps: ['/'],
      });
    });

    it('sameSite, httpOnly, path and domain options', async () => {
      await same(Koa, {
        options: options({ sameSite: 'lax', httpOnly: false, path: '/app', domain: 'localhost' }),
        handle: setOrShow,
        steps: ['/set', '/null'],
      });
    });

    it('= { maxAge } and = { data, maxAge } on a new session', async () => {
      const handle = (ctx: Context) => {
        if (ctx.path === '/only') ctx.session = { maxAge: 100_000 };
        if (ctx.path === '/set-only') ctx.session!.maxAge = 100_000;
        if (ctx.path === '/data') ctx.session = { user: 'ada', maxAge: 100_000 };
        return { ...ctx.session!.toJSON(), maxAge: ctx.session!.maxAge ?? 'none' };
      };
      await same(Koa, { options: options(), handle, steps: ['/data', '/'] });
      await same(Koa, { options: options(), handle, steps: ['/set-only', '/'] });
      await same(Koa, { options: options(), handle, steps: ['/only', '/'] });
    });

    it('renew: a session with less than half its life left is saved again, one with more is not', async () => {
      const handle = (ctx: Context) => ctx.session!.toJSON();
      const now = Date.now();
      await same(Koa, {
        options: options({ renew: true, signed: false }),
        seed: (sessions) => {
          sessions.set('near', { a: 1, _expire: now + 20_000, _maxAge: 60_000 });
          sessions.set('far', { a: 2, _expire: now + 50_000, _maxAge: 60_000 });
        },
        handle,
        steps: modeOptions.store
          ? [
              { path: '/', jar: { 'koa.sess': 'near' } },
              { path: '/', jar: { 'koa.sess': 'far' } },
            ]
          : [
              { path: '/', jar: { 'koa.sess': base64({ a: 1, _expire: now + 20_000, _maxAge: 60_000 }) } },
              { path: '/', jar: { 'koa.sess': base64({ a: 2, _expire: now + 50_000, _maxAge: 60_000 }) } },
            ],
      });
    });

    it('maxAge: 0', async () => {
      const handle = (ctx: Context) => ({ ...(setOrShow(ctx) as object), maxAge: ctx.session?.maxAge ?? 'none' });
      await same(Koa, { options: options({ maxAge: 0 }), handle, steps: ['/set', '/', '/change', '/null'] });
    });

    it('the old key koa:sess', async () => {
      await same(Koa, { options: options({ key: 'koa:sess' }), handle: setOrShow, steps: ['/set', '/', '/null'] });
    });

    it('cookie attributes set on ctx.sessionOptions', async () => {
      await same(Koa, {
        options: options(),
        handle: (ctx) => {
          Object.assign(ctx.sessionOptions, { httpOnly: false, domain: 'localhost', path: '/x', sameSite: 'strict' });
          return setOrShow(ctx);
        },
        steps: ['/set', '/null'],
      });
    });

    it('save(callback) and regenerate() with autoCommit: false', async () => {
      await same(Koa, {
        options: options({ autoCommit: false }),
        handle: async (ctx) => {
          ctx.session!.n = (ctx.session!.n ?? 0) + 1;
          if (ctx.path === '/save') await new Promise<void>((resolve) => ctx.session!.save(() => resolve()));
          if (ctx.path === '/rotate') await ctx.session!.regenerate();
          return ctx.session!.toJSON();
        },
        steps: ['/save', '/', '/rotate', '/'],
        anyOrder: true,
      });
    });

    it('beforeSave() changes on a session the request did not change are not saved', async () => {
      await same(Koa, {
        options: options({
          beforeSave: (ctx, session) => {
            session.seen = ctx.path;
          },
        }),
        handle: setOrShow,
        steps: ['/set', '/', '/untouched', '/change'],
      });
    });

    it('no app.keys with signed: false', async () => {
      await same(Koa, { options: options({ signed: false }), handle: setOrShow, steps: ['/set', '/'], keys: null });
    });

    it('destroyed then given data again in one request, and data changed after save()', async () => {
      await same(Koa, {
        options: options(),
        handle: async (ctx) => {
          if (ctx.path === '/set') ctx.session!.a = 1;
          if (ctx.path === '/again') {
            ctx.session = null;
            ctx.session = { b: 2 };
          }
          if (ctx.path === '/after-save') {
            await ctx.session!.save();
            ctx.session!.c = 3;
          }
          return { ...ctx.session!.toJSON(), externalKey: ctx.session!.externalKey === undefined ? 'none' : 'some' };
        },
        steps: ['/set', '/again', '/', '/after-save', '/'],
      });
    });

    it("sameSite: 'none' on a request that is secure behind a proxy", async () => {
      await same(Koa, {
        options: options({ sameSite: 'none' }),
        proxy: true,
        handle: setOrShow,
        steps: [
          { path: '/set', headers: { 'x-forwarded-proto': 'https' } },
          { path: '/change', headers: { 'x-forwarded-proto': 'https' } },
        ],
      });
    });

    it('an encode that throws', async () => {
      await same(Koa, {
        options: options({
          encode: () => {
            throw new Error('encode error');
          },
        }),
        handle: setOrShow,
        steps: ['/set'],
      });
    });
  });

  describe('store mode', () => {
    it('a key the store does not have, or a session past its _expire', async () => {
      await same(Koa, {
        options: { store: true, signed: false },
        leaveOut: 'cookies',
        seed: (sessions) => sessions.set('old', { a: 1, _expire: Date.now() - 1000, _maxAge: 1000 }),
        handle: setOrShow,
        steps: [
          { path: '/', jar: { 'koa.sess': 'invalid-key' } },
          { path: '/', jar: { 'koa.sess': 'old' } },
        ],
      });
    });

    it('prefix and genid(ctx)', async () => {
      await same(Koa, { options: { store: true, prefix: 'sess:' }, handle: setOrShow, steps: ['/semi', '/'] });
      let n = 0;
      await same(Koa, {
        options: { store: true, genid: (ctx) => `${ctx.get('x-user')}-${++n}` },
        handle: setOrShow,
        steps: [{ path: '/set', headers: { 'x-user': 'ada' } }, '/'],
      });
    });

    it('externalKey carries the key in a header', async () => {
      const externalKey = {
        get: (ctx: Context) => ctx.get('user-token'),
        set: (ctx: Context, value: string) => ctx.set('user-token', value),
      };
      await same(Koa, {
        options: { store: true, externalKey },
        carry: (headers) => (headers.has('user-token') ? { 'user-token': headers.get('user-token') as string } : undefined),
        handle: (ctx) => {
          if (ctx.path === '/set') ctx.session!.string = ';';
          if (ctx.path === '/null') ctx.session = null;
          // A new session's key is made at random and never stored: only whether there is one.
          const key = ctx.session?.externalKey;
          return { ...ctx.session?.toJSON(), key: ctx.session?.isNew ? typeof key : (key ?? null) };
        },
        steps: ['/set', '/', '/null', '/'],
      });
    });

    it('ContextStore: made per request with its ctx', async () => {
      const sessions = new Map<string, unknown>();
      const made: string[] = [];
      class ContextStore {
        constructor(private readonly ctx: Context) {
          made.push(ctx.path);
        }
        async get(key: string) {
          this.ctx.state.op = 'get';
          return structuredClone(sessions.get(key));
        }
        async set(key: string, session: unknown) {
          this.ctx.state.op = 'set';
          sessions.set(`${key}`, structuredClone(session));
        }
        async destroy(key: string) {
          this.ctx.state.op = 'destroyed';
          sessions.delete(key);
        }
      }
      const seen = await same(Koa, {
        options: { ContextStore },
        before: async (ctx, next) => {
          await next();
          ctx.set('x-op', String(ctx.state.op));
          ctx.body = { body: ctx.body, op: ctx.state.op ?? null, made: made.splice(0) };
        },
        handle: setOrShow,
        steps: ['/untouched', '/set', '/', '/null'],
      });
      expect(seen.map(({ body }) => (body as { op: unknown }).op)).toEqual([null, 'set', 'get', 'destroyed']);
    });

    it('a session saved with _session: true, or with its own _maxAge', async () => {
      await same(Koa, {
        options: { store: true, rolling: true, signed: false },
        seed: (sessions) => {
          sessions.set('browser', { a: 1, _session: true });
          sessions.set('short', { a: 2, _expire: Date.now() + 50_000, _maxAge: 60_000 });
        },
        handle: (ctx) => ({ ...ctx.session!.toJSON(), maxAge: ctx.session!.maxAge ?? 'none' }),
        steps: [
          { path: '/', jar: { 'koa.sess': 'browser' } },
          { path: '/', jar: { 'koa.sess': 'short' } },
        ],
      });
    });
  });
});
