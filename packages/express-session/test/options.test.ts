/**
 * Options are checked once, at construction: a mistake fails there with a message that says what
 * to write, never on a request. Where express-session's default is kept although sess's is
 * safer, a warning says so, once per process, naming the safer choice.
 */
import { describe, expect, it } from 'vitest';
import { SECRET, SHORT_SECRET, session, warningsDuring } from './helpers.js';

const quiet = { secret: SECRET, resave: false, saveUninitialized: false, cookie: { secure: 'auto', sameSite: 'lax' } } as const;

describe('options, checked at construction', () => {
  it.each([
    [{ ...quiet, resve: false }, /unknown option "resve": did you mean "resave"\?/],
    [{ ...quiet, maxAge: 1_000 }, /unknown option "maxAge": use cookie\.maxAge \(ms\)/],
    [{ ...quiet, cookie: { maxage: 60_000 } }, /unknown option "maxage": did you mean "maxAge"\?/],
    [{ ...quiet, resave: 'false' }, /resave must be one of true, false/],
    [{ ...quiet, unset: 'forget' }, /unset must be one of "destroy", "keep"/],
    [{ ...quiet, genid: 'uuid' }, /genid must be a function/],
    [{ ...quiet, secret: [] }, /secret option array must contain one or more strings/],
    [{ ...quiet, secret: [SECRET, ''] }, /secret #1 must be a non-empty string or Buffer/],
    [{ ...quiet, store: { get() {} } }, /store must be an express-session store .* missing set, destroy, on/],
    [{ ...quiet, cookie: { maxAge: -1 } }, /cookie\.maxAge must be a number of ms/],
    [{ ...quiet, cookie: { sameSite: 'none' } }, /SameSite=None requires Secure/],
    [{ ...quiet, cookie: { path: 'admin' } }, /cookie path "admin" must start with "\/"/],
    [{ ...quiet, name: 'bad name' }, /cookie name "bad name" is not an RFC 9110 token/],
  ])('refuses %j', (options, message) => {
    expect(() => session(options as never)).toThrow(message);
  });

  it('takes every option express-session documents, and its legacy `key`', () => {
    expect(() =>
      session({
        secret: [SECRET, 'an-older-secret-that-still-verifies-32b'],
        genid: () => 'an-id-of-at-least-22-characters',
        name: 'app.sid',
        store: new session.MemoryStore(),
        cookie: {
          maxAge: 60_000,
          httpOnly: true,
          path: '/',
          domain: 'example.com',
          secure: 'auto',
          sameSite: 'auto',
          partitioned: true,
          priority: 'high',
          signed: true,
        },
        rolling: true,
        resave: true,
        proxy: true,
        saveUninitialized: true,
        unset: 'destroy',
      }),
    ).not.toThrow();
    expect(() => session({ ...quiet, key: 'legacy.sid' } as never)).not.toThrow();
  });
});

describe('warnings', () => {
  it("express-session's deprecations for undefined resave and saveUninitialized, once per process", async () => {
    const first = await warningsDuring(() => session({ secret: SECRET, cookie: quiet.cookie }));
    expect(first).toEqual(['SESS_EXPRESS_SESSION_RESAVE', 'SESS_EXPRESS_SESSION_SAVE_UNINITIALIZED']);
    expect(await warningsDuring(() => session({ secret: SECRET, cookie: quiet.cookie }))).toEqual([]);
  });

  it("express-session's deprecation when cookie-parser's req.secret is to sign", async () => {
    expect(await warningsDuring(() => session({ resave: false, saveUninitialized: false, cookie: quiet.cookie }))).toEqual([
      'SESS_EXPRESS_SESSION_REQ_SECRET',
    ]);
  });

  it('a secret shorter than 32 bytes is kept, and warned about once, naming the safer secret', async () => {
    const codes: string[] = [];
    const messages: string[] = [];
    const listen = (warning: Error & { code?: string }) => {
      codes.push(warning.code ?? '');
      messages.push(warning.message);
    };
    process.on('warning', listen);
    try {
      session({ ...quiet, secret: SHORT_SECRET });
      session({ ...quiet, secret: [SECRET, SHORT_SECRET] });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listen);
    }
    expect(codes).toEqual(['SESS_EXPRESS_SESSION_SHORT_SECRET']);
    expect(messages[0]).toMatch(/12 bytes: .* at least 32 random bytes is the safe choice \(make one with node -e/);
  });

  it("express-session's cookie defaults (no Secure, no SameSite) are kept, and warned about once", async () => {
    const codes = await warningsDuring(() => {
      session({ ...quiet, cookie: {} });
      session({ ...quiet, cookie: { secure: false } });
    });
    expect(codes).toEqual(['SESS_EXPRESS_SESSION_COOKIE_DEFAULTS']);
  });

  it('MemoryStore in production is warned about, as express-session does', async () => {
    const environment = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(await warningsDuring(() => session(quiet))).toEqual(['SESS_EXPRESS_SESSION_MEMORY_STORE']);
    } finally {
      process.env.NODE_ENV = environment;
    }
  });

  it('a cookie.maxAge past 400 days is shortened to what browsers keep, with a warning', async () => {
    expect(await warningsDuring(() => session({ ...quiet, cookie: { ...quiet.cookie, maxAge: 10 * 365 * 86_400_000 } }))).toEqual([
      'SESS_EXPRESS_SESSION_LONG_MAX_AGE',
    ]);
  });
});
