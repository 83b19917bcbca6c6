/**
 * Options are checked once, when `session()` is called, and koa-session's weaker defaults are
 * kept with one warning each per process (its own file: the warnings are once per module).
 */
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import session from '../src/index.js';
import { Browser, koaApp, lineOf, memoryStore, serve } from './helpers.js';

const warnings: Error[] = [];
const listener = (warning: Error) => warnings.push(warning);
process.on('warning', listener);
afterAll(() => void process.off('warning', listener));

/** Warnings are emitted on the next tick: wait for them to arrive. */
const settled = () => new Promise((resolve) => setImmediate(resolve));
const codes = () => warnings.map((warning) => (warning as Error & { code?: string }).code);

describe('warnings, once each', () => {
  it('name the safer option where koa-session’s default is weaker', async () => {
    session({ signed: false, store: memoryStore(), maxage: 60_000 } as never, koaApp(Koa));
    session({ signed: false, store: memoryStore() }, koaApp(Koa));
    await settled();
    expect(codes().sort()).toEqual([
      'SESS_KOA_SESSION_GENID',
      'SESS_KOA_SESSION_MAXAGE',
      'SESS_KOA_SESSION_SAMESITE',
      'SESS_KOA_SESSION_UNSIGNED',
    ]);
    const text = warnings.map((warning) => warning.message).join('\n');
    expect(text).toMatch(/set sameSite: 'lax'/);
    expect(text).toMatch(/remove signed: false/);
    expect(text).toMatch(/genid: \(\) => randomBytes\(24\)/);
    expect(warnings.every((warning) => warning.name === 'SessWarning')).toBe(true);
  });

  it('app.keys shorter than 32 bytes sign as they did, with a warning at the first request', async () => {
    const app = koaApp(Koa, ['some secret hurr']);
    app.use(session({ sameSite: 'lax' }, app));
    app.use((ctx) => {
      ctx.session!.n = 1;
      ctx.body = 'ok';
    });
    const browser = new Browser(await serve(app));
    expect(lineOf(await browser.get('/'), 'koa.sess.sig')).toBeDefined();
    await browser.get('/');
    await settled();
    expect(codes().filter((code) => code === 'SESS_KOA_SESSION_SHORT_KEY')).toHaveLength(1);
    expect(warnings.at(-1)?.message).toMatch(/at least 32 random bytes/);
  });

  it('without app.keys, a signed session fails the request with a message saying what to set', async () => {
    const app = koaApp(Koa, null);
    app.use(session(app));
    app.use((ctx) => {
      ctx.body = 'ok';
    });
    const errors: Error[] = [];
    app.on('error', (error: Error) => errors.push(error));
    expect((await new Browser(await serve(app)).get('/')).status).toBe(500);
    expect(errors[0]?.message).toMatch(/set app\.keys = \[secret\]/);
  });
});

describe('options', () => {
  it('are refused when unknown (with "did you mean" or a hint for other libraries’ names) or out of range', () => {
    const app = koaApp(Koa);
    const refused: [unknown, RegExp][] = [
      [{ secret: 'x' }, /unknown option "secret": koa-session signs with app\.keys/],
      [{ name: 'sid' }, /calls the cookie name key/],
      [{ cookie: {} }, /top-level options/],
      [{ autocommit: false }, /did you mean "autoCommit"/],
      [{ maxAge: 10 }, /maxAge must be a number of ms from 1000/],
      [{ sameSite: 'sometimes' }, /sameSite must be/],
      [{ key: 'koa sess' }, /key must be a cookie name/],
      [{ rolling: 'yes' }, /rolling must be one of true, false/],
      [{ externalKey: { get: () => '' } }, /externalKey must have get\(\), set\(\): missing set/],
      [{ ContextStore: class {} }, /ContextStore\.prototype must have get\(\), set\(\), destroy\(\)/],
      [{ genid: 'uuid' }, /genid must be a function/],
      [{ path: 'no-slash' }, /path/],
    ];
    for (const [options, message] of refused) expect(() => session(options as never, app), JSON.stringify(options)).toThrow(message);
  });

  it("accept koa-session's old key, its maxage spelling, and sameSite in any case or as true", async () => {
    const app = koaApp(Koa);
    app.use(session({ key: 'koa:sess', maxage: 60_000, sameSite: 'Strict' } as never, app));
    app.use((ctx) => {
      ctx.session!.n = 1;
      ctx.body = 'ok';
    });
    const reply = await new Browser(await serve(app)).get('/');
    expect(lineOf(reply, 'koa:sess')).toMatch(/^koa:sess=[A-Za-z0-9+/=]+; Max-Age=60; Path=\/; Expires=.*; HttpOnly; SameSite=Strict$/);
    expect(lineOf(reply, 'koa:sess.sig')).toBeDefined();
    expect(() => session({ sameSite: true }, koaApp(Koa))).not.toThrow();
  });
});
