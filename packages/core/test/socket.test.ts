import { describe, expect, it } from 'vitest';
import { SessStoreError, createSigner } from '../src/index.js';
import type { HttpEffect } from '../src/index.js';
import { SECRET, setup } from './fixtures.js';

const idOf = (value: string) => value.slice(0, value.indexOf('.'));

/** A visitor signed in over HTTP, then a socket opened with their cookie. */
async function socketOfSignedIn() {
  const world = setup();
  const { session } = await world.request((s) => s.set('user', 'ada'));
  return { ...world, socket: world.manager.socket({ cookieHeader: world.jar.header(), secure: true }), id: session.id as string };
}

describe('sessions over a socket', () => {
  it('load from the upgrade request and persist changes with store effects only, with no hand-off', async () => {
    const { socket, store, id } = await socketOfSignedIn();
    const outcome = await socket.use((s) => {
      s.set('room', 'lobby');
      return s.get('user');
    });
    expect(outcome).toEqual({ result: 'ada', ended: false });
    expect(store.peek(id)?.data).toEqual({ user: 'ada', room: 'lobby' });
  });

  it("hand a new session's cookie over as a single-use token the page redeems over HTTP", async () => {
    const { manager, store } = setup();
    const socket = manager.socket({ cookieHeader: undefined, secure: true });
    const first = await socket.use((s) => s.set('nick', 'grace'));
    expect(first.handoff).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const [cookie] = (await manager.redeemHandoff(first.handoff)) as [Extract<HttpEffect, { type: 'cookie.set' }>];
    expect(cookie).toMatchObject({
      type: 'cookie.set',
      name: 'sid',
      attributes: { httpOnly: true, secure: true, sameSite: 'lax', path: '/' },
    });
    const id = idOf(cookie.value);
    expect(createSigner(SECRET).verify('sid', cookie.value)?.id).toBe(id);
    expect(store.peek(id)?.data).toEqual({ nick: 'grace' });
    expect(await manager.redeemHandoff(first.handoff)).toEqual([]);

    // Later messages speak for the same session: no second hand-off, the same record.
    const second = await socket.use((s) => s.set('room', 'lobby'));
    expect(second.handoff).toBeUndefined();
    expect(store.peek(id)?.data).toEqual({ nick: 'grace', room: 'lobby' });
  });

  it('hand over the new id after regenerate, and the old record dies', async () => {
    const { manager, socket, store, id } = await socketOfSignedIn();
    const { handoff } = await socket.use((s) => s.regenerate());
    const [cookie] = (await manager.redeemHandoff(handoff)) as [Extract<HttpEffect, { type: 'cookie.set' }>];
    expect(idOf(cookie.value)).not.toBe(id);
    expect(store.peek(id)).toBeUndefined();
    expect(store.peek(idOf(cookie.value))?.data).toEqual({ user: 'ada' });
  });

  it('report a destroyed session as ended', async () => {
    const { socket, store, id } = await socketOfSignedIn();
    expect(await socket.use((s) => s.destroy())).toEqual({ result: undefined, ended: true });
    expect(store.peek(id)).toBeUndefined();
  });

  it('run one message after another, so two at once both count', async () => {
    const { socket, store, id } = await socketOfSignedIn();
    const increment = () => socket.use((s) => s.set('count', ((s.get('count') as number | undefined) ?? 0) + 1));
    await Promise.all([increment(), increment(), increment()]);
    expect(store.peek(id)?.data.count).toBe(3);
  });

  it('keep going after a failed message', async () => {
    const { socket, store, id } = await socketOfSignedIn();
    store.failing.add('set');
    await expect(socket.use((s) => s.set('a', 1))).rejects.toBeInstanceOf(SessStoreError);
    store.failing.clear();
    await socket.use((s) => s.set('b', 2));
    expect(store.peek(id)?.data).toEqual({ user: 'ada', b: 2 });
  });

  it('park the cookie again on the next message when its hand-off could not be parked', async () => {
    const { manager, store } = setup();
    const socket = manager.socket({ cookieHeader: undefined, secure: true });
    // The session's own save goes through; the hand-off's write, right after it, fails.
    const set = store.set;
    let sets = 0;
    store.set = (...args) => (++sets === 2 ? Promise.reject(new Error('park failed')) : set(...args));
    await expect(socket.use((s) => s.set('nick', 'grace'))).rejects.toBeInstanceOf(SessStoreError);
    store.set = set;
    // The browser still holds no cookie: this message must hand it over, or it never will.
    const next = await socket.use((s) => s.get('nick'));
    expect(next.result).toBe('grace');
    const [cookie] = (await manager.redeemHandoff(next.handoff)) as [Extract<HttpEffect, { type: 'cookie.set' }>];
    expect(store.peek(idOf(cookie.value))?.data).toEqual({ nick: 'grace' });
  });
});

describe('hand-off tokens', () => {
  it('expire after a minute', async () => {
    const { manager, clock } = setup();
    const { handoff } = await manager.socket({ cookieHeader: undefined, secure: false }).use((s) => s.set('a', 1));
    clock.advance(60_000);
    expect(await manager.redeemHandoff(handoff)).toEqual([]);
  });

  it('are redeemed once even when two redemptions race', async () => {
    const { manager } = setup();
    const { handoff } = await manager.socket({ cookieHeader: undefined, secure: false }).use((s) => s.set('a', 1));
    const answers = await Promise.all([manager.redeemHandoff(handoff), manager.redeemHandoff(handoff)]);
    expect(answers.filter((effects) => effects.length > 0)).toHaveLength(1);
  });

  it('turn away malformed tokens and session ids without touching the session', async () => {
    const { manager, store, id } = await socketOfSignedIn();
    for (const token of [undefined, 42, '', '../../etc', 'x'.repeat(500), id]) {
      expect(await manager.redeemHandoff(token)).toEqual([]);
    }
    expect(store.peek(id)?.data).toEqual({ user: 'ada' });
  });

  it("are not a session's id even when its data holds what a hand-off parks (the app stored a visitor's keys)", async () => {
    // Tokens and session ids share the store's key space, and a visitor knows their own id (it is
    // in their cookie): redeeming it must not hand out a cookie of their choosing, nor end the session.
    const parked = { name: 'admin', value: 'yes', attributes: { domain: 'example.com', path: '/' } };
    for (const maxAgeMs of [undefined, 60_000]) {
      const { manager, store, request } = setup(maxAgeMs === undefined ? {} : { maxAgeMs });
      const { session } = await request((s) => s.set('sess.handoff', parked));
      const id = session.id as string;
      expect(await manager.redeemHandoff(id)).toEqual([]);
      await request(async (s) => (await s.load(), s.set('theme', 'dark')));
      expect(await manager.redeemHandoff(id)).toEqual([]);
      expect(store.peek(id)?.data).toEqual({ 'sess.handoff': parked, theme: 'dark' });
    }
  });

  it('fail with a store error, not an empty answer, when the store is down', async () => {
    const { manager, store } = setup();
    const { handoff } = await manager.socket({ cookieHeader: undefined, secure: false }).use((s) => s.set('a', 1));
    store.failing.add('get');
    await expect(manager.redeemHandoff(handoff)).rejects.toMatchObject({ code: 'store_failed', op: 'get' });
  });
});
