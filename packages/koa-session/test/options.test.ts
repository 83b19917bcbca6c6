/**
 * Options are checked once, when `session()` is called, and koa-session's weaker defaults are
 * kept with one warning each per process (its own file: the warnings are once per module).
 */
import Koa from 'koa';
import { afterAll, describe, expect, it } from 'vitest';
import { SessConfigError } from '@sess/core';
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

  it('refuse BigInt values with a SessConfigError that shows them, never a TypeError', () => {
    const app = koaApp(Koa);
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ maxAge: 3600n }, /maxAge must be a number of ms from 1000 to \d+ \(400 days\) or 'session', got 3600n/],
      [{ maxage: 3600n }, /maxAge must be a number of ms .* got 3600n/],
      [{ maxAge: { ms: 3600n } }, /maxAge must be a number of ms .* got an object/],
      [{ sameSite: 1n }, /sameSite must be 'strict', 'lax', 'none', true, false or null, got 1n/],
      [{ sameSite: { lax: 1n } }, /sameSite must be .* got an object/],
      [{ key: 1n }, /key must be a cookie name \(no spaces, ";" or "="\), got 1n/],
      [{ prefix: 1n }, /prefix must be a string/],
      [{ path: 1n }, /path must be a string/],
      [{ domain: 1n }, /domain must be a string/],
      [{ rolling: 1n }, /rolling must be one of true, false/],
      [{ priority: 1n }, /priority must be one of/],
      [{ store: 1n }, /store must have get\(\), set\(\), destroy\(\)/],
    ];
    for (const [options, message] of refused) {
      let thrown: unknown;
      try {
        session(options as never, app);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(message)).toBeInstanceOf(SessConfigError);
      expect(thrown, String(message)).toMatchObject({ message: expect.stringMatching(message) });
    }
  });

  it('a BigInt ctx.session.maxAge fails with the SessUsageError any bad lifetime gets, never a TypeError', async () => {
    const app = koaApp(Koa);
    app.use(session({ sameSite: 'lax' }, app));
    app.use((ctx) => {
      const errors: { name: string; message: string }[] = [];
      for (const value of [3600n, 'forever']) {
        try {
          ctx.session!.maxAge = value as never;
        } catch (error) {
          errors.push({ name: (error as Error).name, message: (error as Error).message });
        }
      }
      ctx.body = errors;
    });
    const reply = await new Browser(await serve(app)).get('/');
    expect(JSON.parse(reply.body)).toEqual([
      { name: 'SessUsageError', message: expect.stringMatching(/ctx\.session\.maxAge must be a number of ms .* got 3600n$/) },
      { name: 'SessUsageError', message: expect.stringMatching(/ctx\.session\.maxAge must be a number of ms .* got "forever"$/) },
    ]);
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
