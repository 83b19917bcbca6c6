/**
 * `session.Store`, `session.MemoryStore`, `session.Cookie` and `session.Session` as
 * express-session exports them: ES5 constructors a store extends with `util.inherits` or a
 * class, MemoryStore's whole callback API, and stores of either kind behind the middleware.
 */
import { inherits } from 'node:util';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { SECRET, closedAfterEach, serve, session } from './helpers.js';

const servers = closedAfterEach();

type Done<T = unknown> = (error: unknown, value?: T | null) => void;
const call = <T>(method: (done: Done<T>) => void): Promise<T | null | undefined> =>
  new Promise((resolve, reject) => method((error, value) => (error ? reject(error) : resolve(value))));

const stored = (expires: Date | null, data: Record<string, unknown> = {}) =>
  ({ cookie: { originalMaxAge: 60_000, expires, httpOnly: true, path: '/' }, ...data }) as unknown as session.SessionData;

describe('MemoryStore', () => {
  it('sets, gets, touches, lists, counts, destroys and clears, calling back on a later turn', async () => {
    const store = new session.MemoryStore();
    const later = new Date(Date.now() + 60_000);
    let sync = true;
    const set = call((done) => store.set('a', stored(later, { user: 'ada' }), done)).then(() => sync);
    sync = false;
    expect(await set).toBe(false);
    await call((done) => store.set('b', stored(null), done));
    expect(await call((done) => store.get('a', done))).toEqual({
      cookie: { originalMaxAge: 60_000, expires: later.toISOString(), httpOnly: true, path: '/' },
      user: 'ada',
    });
    expect(await call((done) => store.get('missing', done))).toBeUndefined();
    const moved = new Date(Date.now() + 120_000);
    await call((done) => store.touch('a', stored(moved), done));
    expect((await call<session.SessionData>((done) => store.get('a', done)))?.cookie.expires).toBe(moved.toISOString());
    expect(Object.keys((await call((done) => store.all(done))) as object)).toEqual(['a', 'b']);
    expect(await call((done) => store.length(done))).toBe(2);
    await call((done) => store.destroy('a', done));
    expect(await call((done) => store.length(done))).toBe(1);
    await call((done) => store.clear(done));
    expect(store.sessions).toEqual({});
  });

  it('treats an expired session as gone and deletes it when read', async () => {
    const store = new session.MemoryStore();
    await call((done) => store.set('old', stored(new Date(Date.now() - 1)), done));
    expect(await call((done) => store.get('old', done))).toBeUndefined();
    expect(store.sessions).toEqual({});
  });

  it('load() gives a Session with a Cookie, createSession() one on the request', async () => {
    const store = new session.MemoryStore();
    const expires = new Date(Date.now() + 60_000);
    await call((done) => store.set('a', stored(expires, { user: 'ada' }), done));
    const loaded = (await call<session.Session & session.SessionData>((done) => store.load('a', done))) as unknown as session.Session &
      Record<string, unknown>;
    expect(loaded).toBeInstanceOf(session.Session);
    expect(loaded.id).toBe('a');
    expect(loaded.user).toBe('ada');
    expect(loaded.cookie).toBeInstanceOf(session.Cookie);
    expect(loaded.cookie.expires).toEqual(expires);
    expect(loaded.cookie.originalMaxAge).toBe(60_000);
    expect(await call((done) => store.load('missing', done))).toBeUndefined();
  });
});

describe('Cookie', () => {
  it('has express-session’s defaults and lifetime arithmetic', () => {
    const cookie = new session.Cookie();
    expect(cookie.toJSON()).toEqual({
      originalMaxAge: null,
      partitioned: undefined,
      priority: undefined,
      expires: null,
      secure: undefined,
      httpOnly: true,
      domain: undefined,
      path: '/',
      sameSite: undefined,
    });
    const timed = new session.Cookie({ maxAge: 60_000, secure: true });
    expect(timed.originalMaxAge).toBe(60_000);
    expect(timed.maxAge).toBeGreaterThan(59_000);
    expect(timed.secure).toBe(true);
    timed.expires = new Date(Date.now() + 1_000);
    expect(timed.originalMaxAge).toBeLessThanOrEqual(1_000);
    timed.maxAge = null;
    expect(timed.expires).toBeNull();
    expect(() => new session.Cookie('x' as never)).toThrow(TypeError);
    expect(() => {
      timed.maxAge = 'soon' as never;
    }).toThrow('maxAge must be a number or Date');
  });
});

describe('Store', () => {
  it('is an EventEmitter whose subclasses can be written in ES5 with util.inherits, or as classes', () => {
    function Es5Store(this: session.Store) {
      session.Store.call(this);
    }
    inherits(Es5Store, session.Store);
    const es5 = new (Es5Store as unknown as new () => session.Store)();
    class ClassStore extends session.Store {}
    for (const store of [es5, new ClassStore()]) {
      expect(store).toBeInstanceOf(session.Store);
      expect(typeof store.on).toBe('function');
      expect(typeof store.regenerate).toBe('function');
      expect(typeof store.createSession).toBe('function');
    }
  });

  it('an ES5 store of its own serves the middleware', async () => {
    const records = new Map<string, string>();
    function MapStore(this: session.Store) {
      session.Store.call(this);
    }
    inherits(MapStore, session.Store);
    Object.assign(MapStore.prototype, {
      get: (sid: string, done: Done) => setImmediate(() => done(null, records.has(sid) ? JSON.parse(records.get(sid) as string) : null)),
      set: (sid: string, sess: object, done: Done) => setImmediate(() => done(null, void records.set(sid, JSON.stringify(sess)))),
      destroy: (sid: string, done: Done) => setImmediate(() => done(null, void records.delete(sid))),
    });
    const store = new (MapStore as unknown as new () => session.Store)();
    const { client } = await serve(servers, express, { secret: SECRET, store, resave: false, saveUninitialized: false }, (app) =>
      app.get('/', (req, res) => {
        const views = ((req.session as unknown as { views?: number }).views ?? 0) + 1;
        (req.session as unknown as { views: number }).views = views;
        res.send(String(views));
      }),
    );
    await client.request('/');
    expect((await client.request('/')).body).toBe('2');
    expect([...records.values()].map((json) => JSON.parse(json).views)).toEqual([2]);
  });
});
