/**
 * What a koa-session app does that must not lose a change without a word, on Koa 2 and 3 over
 * real HTTP: koa-session's `save()` writes at once, so its apps call it where sess has committed.
 */
import Koa3 from 'koa';
import type { Context, Middleware } from 'koa';
import Koa2 from 'koa2';
import { describe, expect, it } from 'vitest';
import { SessUsageError } from '@sess/core';
import { Client, closedAfterEach, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
    seen?: number;
  }
}

const servers = closedAfterEach();

const LATE_SAVE = /ctx\.session\.save\(\) came after the session was committed/;

describe.each([
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const)('%s', (_, Koa) => {
  /** An app with `before` ahead of session() and `handler` behind it; `/read` answers the stored data. */
  async function start(handler: (ctx: Context) => unknown, before?: Middleware) {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app = new Koa();
    const errors: Error[] = [];
    let heard: () => void = () => undefined;
    const errorHeard = new Promise<void>((resolve) => (heard = resolve));
    app.on('error', (error: Error) => {
      errors.push(error);
      heard();
    });
    if (before !== undefined) app.use(before);
    app.use(session({ secret: SECRET, store, clock: clock.now }));
    app.use(async (ctx) => {
      if (ctx.path === '/read') ctx.body = ctx.session;
      else await handler(ctx);
    });
    const served = await listen(app.callback());
    servers.push(served);
    return { client: new Client(served.url), store, errors, errorHeard };
  }

  it('save() in a middleware ahead of session(), after `await next()`, rejects and Koa hears it, rather than resolving over a dropped change', async () => {
    let outcome: unknown;
    const { client, store, errors } = await start(
      (ctx) => {
        ctx.session.user = 'ada';
        ctx.body = 'ok';
      },
      async (ctx, next) => {
        await next();
        if (ctx.path === '/read') return;
        ctx.session.seen = 1;
        outcome = await ctx.session.save().then(
          () => 'resolved',
          (error: unknown) => error,
        );
      },
    );
    expect((await client.request('/')).status).toBe(200);
    expect(outcome).toBeInstanceOf(SessUsageError);
    expect(String(outcome)).toMatch(LATE_SAVE);
    expect(errors).toEqual([outcome]);
    expect((await client.request('/read')).body).toBe('{"user":"ada"}');
    expect(store.calls.set).toBe(1);
  });

  it('a bare save() after the response reaches Koa\u2019s error event; save(callback) gets the error', async () => {
    let called: (error: unknown) => void = () => undefined;
    const callbackCalled = new Promise<unknown>((resolve) => (called = resolve));
    const { client, errors, errorHeard } = await start((ctx) => {
      ctx.session.user = 'ada';
      ctx.res.on('finish', () => {
        ctx.session.seen = 1;
        if (ctx.path === '/callback') ctx.session.save(called);
        else void ctx.session.save();
      });
      ctx.body = 'ok';
    });
    await client.request('/');
    await errorHeard;
    expect(String(errors[0])).toMatch(LATE_SAVE);
    await client.request('/callback');
    expect(String(await callbackCalled)).toMatch(LATE_SAVE);
    expect((await client.request('/read')).body).toBe('{"user":"ada"}');
  });

  it('save() before the commit still resolves and saves', async () => {
    const { client, errors } = await start(async (ctx) => {
      ctx.session.user = 'ada';
      await ctx.session.save();
      ctx.body = 'ok';
    });
    expect((await client.request('/')).status).toBe(200);
    expect((await client.request('/read')).body).toBe('{"user":"ada"}');
    expect(errors).toEqual([]);
  });
});
