/**
 * The session suite again, on stores that answer synchronously (a value instead of a promise, a
 * throw instead of a rejection), as the memory store and cookie sessions do: every behaviour
 * must be the same, whichever way the store answers.
 */
import { answerSynchronously } from './fixtures.js';

answerSynchronously();
await import('./session.test.js');

const { describe, expect, it } = await import('vitest');
const { setup } = await import('./fixtures.js');

/** A returning visitor's session, begun but not loaded, on a store that answers as `synchronous` says. */
async function returning(synchronous: boolean) {
  const world = setup({}, { synchronous });
  await world.request((session) => session.set('user', 'ada'));
  return world.manager.begin({ cookieHeader: world.jar.header(), secure: false, readOnly: false });
}

describe('a store that answers synchronously', () => {
  it('is loaded within the load() call, before any promise step', async () => {
    const session = await returning(true);
    const loading = session.load();
    expect(session.get('user')).toBe('ada');
    await loading;
  });

  it('where a store that answers with a promise is still loading', async () => {
    const session = await returning(false);
    const loading = session.load();
    expect(() => session.get('user')).toThrow(
      'get is not allowed now: the session is not loaded yet, await its load() first (session state: loading)',
    );
    await loading;
    expect(session.get('user')).toBe('ada');
  });

  it('used before load(), says to load it first, naming the call', async () => {
    const session = await returning(true);
    expect(() => session.set('user', 'grace')).toThrow(
      'set is not allowed now: the session is not loaded yet, await its load() first (session state: unloaded)',
    );
    expect(() => session.keys()).toThrow(/keys is not allowed now: the session is not loaded yet/);
    await session.load();
    expect(session.get('user')).toBe('ada');
  });
});

/** A new visitor's commit after one write, on a store that answers as `synchronous` says. */
async function firstWriteCommit(synchronous: boolean) {
  const world = setup({}, { synchronous });
  const session = world.manager.begin({ cookieHeader: undefined, secure: false, readOnly: false });
  await session.load();
  session.set('user', 'ada');
  return { world, committed: session.commit({ status: 200 }) };
}

describe('the commit on a store that answers synchronously', () => {
  it('answers with the effects themselves, the save done, before any promise step', async () => {
    const { world, committed } = await firstWriteCommit(true);
    expect(committed).not.toBeInstanceOf(Promise);
    expect(committed).toContainEqual(expect.objectContaining({ type: 'cookie.set' }));
    expect(world.store.records.size).toBe(1);
  });

  it('where a store that answers with a promise answers with a promise', async () => {
    const { committed } = await firstWriteCommit(false);
    expect(committed).toBeInstanceOf(Promise);
    expect(await committed).toContainEqual(expect.objectContaining({ type: 'cookie.set' }));
  });
});

describe('a store call that commits the session it serves (re-entrant)', () => {
  it('waits for the call instead of throwing: a middleware answering the response from inside a synchronous get', async () => {
    const world = setup({}, { synchronous: true });
    await world.request((session) => session.set('user', 'ada'));
    const session = world.manager.begin({ cookieHeader: world.jar.header(), secure: false, readOnly: false });
    const { store } = world;
    const get = store.get.bind(store);
    let committed: unknown;
    store.get = (id: string) => {
      committed = session.commit({ status: 503 });
      return get(id);
    };
    await session.load();
    await expect(committed).resolves.toEqual(expect.any(Array));
  });
});
