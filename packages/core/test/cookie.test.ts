import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SET_COOKIE_OVERHEAD_BYTES, hasCookie, readCookie, serializeCookie, serializeDeletion } from '../src/cookie.js';
import { setCookieLine } from '../src/effects.js';
import type { CookieAttributes } from '../src/cookie.js';
import { SessConfigError } from '../src/errors.js';

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const tokenArb = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 24 });
/** Any UTF-16 code unit, lone surrogates included: what a broken client can put in a header. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

const FIRST_COOKIE_DATE = Date.UTC(1601, 0, 1);
const LAST_COOKIE_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The `name=value` pair a browser sends back for a `Set-Cookie` value. */
const sentBack = (setCookie: string) => setCookie.split('; ')[0] as string;

function expectCookieInvalid(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SessConfigError);
    expect(error).toHaveProperty('code', 'cookie_invalid');
    return;
  }
  expect.fail('expected a SessConfigError');
}

describe('readCookie', () => {
  it('finds a cookie among others', () => {
    expect(readCookie('a=1; sid=abc; b=2', 'sid')).toBe('abc');
    expect(readCookie('sid=abc', 'sid')).toBe('abc');
    expect(readCookie('a=1;sid=abc', 'sid')).toBe('abc');
  });

  it('returns undefined when the header or the cookie is absent', () => {
    expect(readCookie(undefined, 'sid')).toBeUndefined();
    expect(readCookie('', 'sid')).toBeUndefined();
    expect(readCookie('a=1; b=2', 'sid')).toBeUndefined();
  });

  it('matches the exact, case-sensitive name only', () => {
    expect(readCookie('SID=1; sid2=2; xsid=3; s id=4', 'sid')).toBeUndefined();
    expect(readCookie('Sid=1; sid=2', 'sid')).toBe('2');
  });

  it('returns the first of several cookies with the name', () => {
    expect(readCookie('sid=specific; sid=general', 'sid')).toBe('specific');
  });

  it('trims spaces and tabs around names and values', () => {
    expect(readCookie('a=1;  \t sid \t=  abc \t ; b=2', 'sid')).toBe('abc');
  });

  it('strips one pair of surrounding double quotes', () => {
    expect(readCookie('sid="abc"', 'sid')).toBe('abc');
    expect(readCookie('sid=""abc""', 'sid')).toBe('"abc"');
    expect(readCookie('sid=""', 'sid')).toBe('');
    expect(readCookie('sid="', 'sid')).toBe('"');
    expect(readCookie('sid="abc', 'sid')).toBe('"abc');
  });

  it('keeps everything after the first `=` in the value', () => {
    expect(readCookie('sid=a=b=c', 'sid')).toBe('a=b=c');
  });

  it('percent-decodes values that contain %', () => {
    expect(readCookie('sid=caf%C3%A9%20au%20lait', 'sid')).toBe('café au lait');
    expect(readCookie('sid="%3B"', 'sid')).toBe(';');
  });

  it('returns the raw value when it does not decode', () => {
    expect(readCookie('sid=%', 'sid')).toBe('%');
    expect(readCookie('sid=%E0%A4%A', 'sid')).toBe('%E0%A4%A');
    expect(readCookie('sid=100%', 'sid')).toBe('100%');
    expect(readCookie('sid=%ZZ', 'sid')).toBe('%ZZ');
  });

  it('returns the empty string for an empty value', () => {
    expect(readCookie('sid=; a=1', 'sid')).toBe('');
    expect(readCookie('sid=', 'sid')).toBe('');
  });

  it.each([';;;', '=', '==', ';=;', '   ', '\t', 'sid', 'sid;sid;sid', '=sid', '\r\n', 'sid\r\n=x', '\0', 'ünïcødé=☃', '\uD800=\uDFFF'])(
    'skips malformed input without throwing: %j',
    (header) => {
      expect(readCookie(header, 'sid')).toBeUndefined();
    },
  );

  it('reads past malformed pairs', () => {
    expect(readCookie(';;; =; novalue; =x; sid=ok', 'sid')).toBe('ok');
    expect(readCookie('a;b;c;sid=ok', 'sid')).toBe('ok');
  });

  it('returns control and non-ASCII characters in a value as they came', () => {
    expect(readCookie('sid=a\0b\r\nc', 'sid')).toBe('a\0b\r\nc');
    expect(readCookie('sid=☃', 'sid')).toBe('☃');
  });

  it('never matches the empty name', () => {
    expect(readCookie('=x; a=1', '')).toBeUndefined();
  });

  it('treats prototype property names as ordinary names', () => {
    const header = '__proto__=polluted; constructor=c; toString=t; hasOwnProperty=h; polluted=yes';
    expect(readCookie(header, '__proto__')).toBe('polluted');
    expect(readCookie(header, 'constructor')).toBe('c');
    expect(readCookie(header, 'toString')).toBe('t');
    expect(readCookie('a=1', '__proto__')).toBeUndefined();
    expect(readCookie('a=1', 'constructor')).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });

  it('never throws, whatever the header and name', () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: anyCodeUnit }),
      fc.string({ unit: fc.constantFrom('=', ';', ' ', '\t', '"', '%', '\r', '\n', '\0', 'a', 'E', '0') }),
    );
    fc.assert(
      fc.property(anyString, anyString, (header, name) => {
        const value = readCookie(header, name);
        expect(value === undefined || typeof value === 'string').toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  describe('1 MB headers', () => {
    const MB = 1 << 20;
    const shapes: ReadonlyArray<readonly [string, (size: number) => string]> = [
      ['pairs without =', (size) => 'a;'.repeat(size / 2)],
      ['many small cookies', (size) => 'a=b; '.repeat(size / 5)],
      ['one huge value', (size) => `x=${'v'.repeat(size)}`],
      ['whitespace around a value', (size) => `x=${' '.repeat(size)}y`],
      ['whitespace around a name', (size) => `${' '.repeat(size)}x=y`],
      ['near-miss names', (size) => 'sidx=1; '.repeat(size / 8)],
      ['undecodable escapes', (size) => `x=${'%E0%A4%A'.repeat(size / 8)}`],
    ];

    it.each(shapes)('finds the cookie after %s', (_, filler) => {
      expect(readCookie(`${filler(MB)}; sid=found`, 'sid')).toBe('found');
      expect(readCookie(filler(MB), 'sid')).toBeUndefined();
    });

    it('decodes a 1 MB percent-encoded value', () => {
      const value = '☃'.repeat(MB / 9);
      expect(readCookie(`sid=${encodeURIComponent(value)}`, 'sid')).toBe(value);
    });

    // A quadratic scan would take ~100x as long on 10x the input; linear takes ~10x.
    it.each(shapes)('scales linearly with %s', (_, filler) => {
      const small = `${filler(MB / 10)}; sid=found`;
      const large = `${filler(MB)}; sid=found`;
      const time = (header: string) => {
        let best = Number.POSITIVE_INFINITY;
        // The best of many runs: a busy machine preempts some, and a ratio of single runs says little.
        for (let run = 0; run < 15; run++) {
          const started = performance.now();
          readCookie(header, 'sid');
          best = Math.min(best, performance.now() - started);
        }
        return best;
      };
      time(large); // warm up the JIT on the shape first
      expect(time(large) / Math.max(time(small), 0.05)).toBeLessThan(40);
    });
  });
});

describe('hasCookie', () => {
  it('finds a cookie only by its name, never inside another name or a value', () => {
    expect(hasCookie('a=1; sid.test=1', 'sid.test')).toBe(true);
    expect(hasCookie(' sid.test = ; a=1', 'sid.test')).toBe(true);
    expect(hasCookie('xsid.test=1; sid=sid.test', 'sid.test')).toBe(false);
    expect(hasCookie('sid.test', 'sid.test')).toBe(false);
    expect(hasCookie(undefined, 'sid.test')).toBe(false);
    expect(hasCookie('=1', '')).toBe(false);
  });

  it('says what readCookie says, whatever the header', () => {
    const names = fc.constantFrom('sid.test', 's', 'a b');
    const header = fc.string({ unit: fc.constantFrom('sid.test', 's', 'a', ' ', '=', ';', '"', '%', '1') });
    fc.assert(
      fc.property(header, names, (text, name) => {
        expect(hasCookie(text, name)).toBe(readCookie(text, name) !== undefined);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('serializeCookie', () => {
  it('writes every attribute in the documented order', () => {
    const expires = Date.UTC(2030, 0, 2, 3, 4, 5);
    expect(
      serializeCookie('sid', 'abc', {
        priority: 'high',
        partitioned: true,
        sameSite: 'lax',
        secure: true,
        httpOnly: true,
        expires,
        path: '/app',
        domain: 'example.com',
        maxAgeMs: 3_600_000,
      }),
    ).toBe(
      'sid=abc; Max-Age=3600; Domain=example.com; Path=/app; Expires=Wed, 02 Jan 2030 03:04:05 GMT; HttpOnly; Secure; SameSite=Lax; Partitioned; Priority=High',
    );
  });

  it('writes only the name and value when no attribute is given', () => {
    expect(serializeCookie('sid', 'abc', {})).toBe('sid=abc');
  });

  it('leaves out false flags', () => {
    expect(serializeCookie('sid', 'abc', { httpOnly: false, secure: false, partitioned: false })).toBe('sid=abc');
  });

  it.each([
    ['lax', 'Lax'],
    ['strict', 'Strict'],
    ['none', 'None'],
  ] as const)('writes SameSite=%s as %s', (sameSite, text) => {
    expect(serializeCookie('sid', 'v', { sameSite, secure: true })).toBe(`sid=v; Secure; SameSite=${text}`);
  });

  it.each([
    ['low', 'Low'],
    ['medium', 'Medium'],
    ['high', 'High'],
  ] as const)('writes Priority=%s as %s', (priority, text) => {
    expect(serializeCookie('sid', 'v', { priority })).toBe(`sid=v; Priority=${text}`);
  });

  it.each([
    [0, 0],
    [999, 0],
    [1_000, 1],
    [1_999, 1],
    [86_400_000, 86_400],
    [-5_000, 0],
  ])('writes maxAgeMs %d as Max-Age=%d (whole seconds, rounded down)', (maxAgeMs, seconds) => {
    expect(serializeCookie('sid', 'v', { maxAgeMs })).toBe(`sid=v; Max-Age=${seconds}`);
  });

  it('writes Max-Age as digits however long the lifetime: browsers ignore `Max-Age=1e+22`, and the cookie would end with the browser', () => {
    expect(serializeCookie('sid', 'v', { maxAgeMs: 1e25 })).toBe(`sid=v; Max-Age=${Number.MAX_SAFE_INTEGER}`);
    expect(serializeCookie('sid', 'v', { maxAgeMs: Number.MAX_VALUE })).toBe(`sid=v; Max-Age=${Number.MAX_SAFE_INTEGER}`);
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (maxAgeMs) => {
        const seconds = /; Max-Age=(.*)$/.exec(serializeCookie('sid', 'v', { maxAgeMs }))?.[1];
        expect(seconds).toMatch(/^\d+$/);
        if (maxAgeMs / 1000 < Number.MAX_SAFE_INTEGER) expect(seconds).toBe(String(Math.max(0, Math.floor(maxAgeMs / 1000))));
      }),
      { numRuns: 500 },
    );
  });

  it('writes Expires in the years a cookie date can carry (1601-9999): a browser reads year 0068 as 2068, and skips year 10000', () => {
    const first = 'Mon, 01 Jan 1601 00:00:00 GMT';
    const last = 'Fri, 31 Dec 9999 23:59:59 GMT';
    const year68 = new Date(Date.UTC(2000, 8, 3)).setUTCFullYear(68); // Date.UTC(68, ...) would mean 1968
    expect(serializeCookie('sid', 'v', { expires: year68 })).toBe(`sid=v; Expires=${first}`);
    expect(serializeCookie('sid', 'v', { expires: -8.64e15 })).toBe(`sid=v; Expires=${first}`);
    expect(serializeCookie('sid', 'v', { expires: Date.UTC(1601, 0, 1) })).toBe(`sid=v; Expires=${first}`);
    expect(serializeCookie('sid', 'v', { expires: Date.UTC(9999, 11, 31, 23, 59, 59, 999) })).toBe(`sid=v; Expires=${last}`);
    expect(serializeCookie('sid', 'v', { expires: Date.UTC(10_000, 0, 1) })).toBe(`sid=v; Expires=${last}`);
    expect(serializeCookie('sid', 'v', { expires: 8.64e15 })).toBe(`sid=v; Expires=${last}`);
  });

  it('writes Expires as an HTTP date in UTC', () => {
    expect(serializeCookie('sid', 'v', { expires: 0 })).toBe('sid=v; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    const expires = Date.UTC(2031, 5, 15, 12, 0, 0, 999);
    expect(serializeCookie('sid', 'v', { expires })).toBe(`sid=v; Expires=${new Date(expires).toUTCString()}`);
  });

  it('writes each Expires as its own time says, whatever times came before (same second, either side of 1970, the last valid one)', () => {
    const time = fc.oneof(
      fc.integer({ min: -8.64e15, max: 8.64e15 }),
      fc.integer({ min: -3_000, max: 3_000 }),
      fc.integer({ min: 8.64e15 - 2_000, max: 8.64e15 + 2_000 }),
      fc.integer({ min: FIRST_COOKIE_DATE - 2_000, max: FIRST_COOKIE_DATE + 2_000 }),
      fc.integer({ min: LAST_COOKIE_DATE - 2_000, max: LAST_COOKIE_DATE + 2_000 }),
    );
    fc.assert(
      fc.property(fc.array(time, { minLength: 1, maxLength: 12 }), (times) => {
        for (const expires of times) {
          // Clamped to the years a cookie date can carry (see above).
          const text = new Date(Math.min(Math.max(expires, FIRST_COOKIE_DATE), LAST_COOKIE_DATE)).toUTCString();
          if (Math.abs(expires) > 8.64e15) expectCookieInvalid(() => serializeCookie('sid', 'v', { expires }));
          else expect(serializeCookie('sid', 'v', { expires })).toBe(`sid=v; Expires=${text}`);
        }
      }),
    );
  });

  it('accepts a domain with a leading dot, and IP addresses', () => {
    expect(serializeCookie('sid', 'v', { domain: '.example.com' })).toBe('sid=v; Domain=.example.com');
    expect(serializeCookie('sid', 'v', { domain: 'sub-1.Example.co.uk' })).toBe('sid=v; Domain=sub-1.Example.co.uk');
    expect(serializeCookie('sid', 'v', { domain: 'localhost' })).toBe('sid=v; Domain=localhost');
    expect(serializeCookie('sid', 'v', { domain: '127.0.0.1' })).toBe('sid=v; Domain=127.0.0.1');
  });

  it('keeps a value made of cookie-octets as it is', () => {
    const octets = "!#$&'()*+-./0123456789:<=>?@AZ[]^_`az{|}~";
    expect(serializeCookie('sid', octets, {})).toBe(`sid=${octets}`);
    expect(serializeCookie('sid', '', {})).toBe('sid=');
  });

  it.each([
    ['a space', 'a b', 'a%20b'],
    ['a semicolon', 'a;b', 'a%3Bb'],
    ['a comma', 'a,b', 'a%2Cb'],
    ['a double quote', '"a"', '%22a%22'],
    ['a backslash', 'a\\b', 'a%5Cb'],
    ['CR LF', 'a\r\nSet-Cookie: x=y', 'a%0D%0ASet-Cookie%3A%20x%3Dy'],
    ['NUL', 'a\0', 'a%00'],
    ['non-ASCII', 'café', 'caf%C3%A9'],
    ['a percent sign', '100%', '100%25'],
    ['something that looks encoded', '%41', '%2541'],
  ])('percent-encodes a value with %s', (_, value, encoded) => {
    const header = serializeCookie('sid', value, {});
    expect(header).toBe(`sid=${encoded}`);
    expect(readCookie(sentBack(header), 'sid')).toBe(value);
  });

  it.each([
    ['empty', ''],
    ['a space', 's id'],
    ['a semicolon', 's;id'],
    ['a comma', 's,id'],
    ['an equals sign', 's=id'],
    ['CR LF', 'sid\r\nX-Evil: 1'],
    ['NUL', 'sid\0'],
    ['DEL', 'sid\x7f'],
    ['non-ASCII', 'sïd'],
    ['a separator', 's(id)'],
    ['a slash', 's/id'],
    ['a double quote', '"sid"'],
  ])('refuses a name with %s', (_, name) => {
    expectCookieInvalid(() => serializeCookie(name, 'v', {}));
  });

  it('refuses a name that is not a string (plain-JS callers)', () => {
    expectCookieInvalid(() => serializeCookie(undefined as unknown as string, 'v', {}));
  });

  it('accepts every token character in a name', () => {
    expect(serializeCookie(TOKEN_CHARS, 'v', {})).toBe(`${TOKEN_CHARS}=v`);
  });

  it.each([
    ['a semicolon', '/a;b'],
    ['a comma', '/a,b'],
    ['a space', '/a b'],
    ['CR LF', '/a\r\nX-Evil: 1'],
    ['NUL', '/a\0'],
    ['a tab', '/a\tb'],
    ['DEL', '/a\x7f'],
    ['non-ASCII', '/café'],
    ['no leading slash', 'app'],
    ['nothing at all', ''],
    // RFC 6265bis §5.6: browsers ignore an attribute value over 1024 octets, so the cookie would
    // get the request's default path, and this Path could neither find nor delete it.
    ['over 1024 bytes', `/${'a'.repeat(1024)}`],
  ])('refuses a path with %s', (_, path) => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { path }));
  });

  it('accepts ordinary paths', () => {
    expect(serializeCookie('sid', 'v', { path: '/' })).toBe('sid=v; Path=/');
    expect(serializeCookie('sid', 'v', { path: `/${'a'.repeat(1023)}` })).toHaveLength(`sid=v; Path=/`.length + 1023);
    expect(serializeCookie('sid', 'v', { path: "/a-b_c.d~e/%20/f:g@h!$&'()*+=" })).toBe("sid=v; Path=/a-b_c.d~e/%20/f:g@h!$&'()*+=");
  });

  it.each([
    ['a semicolon', 'example.com;x'],
    ['a comma', 'example.com,evil.com'],
    ['a space', 'example .com'],
    ['CR LF', 'example.com\r\nX-Evil: 1'],
    ['an underscore', 'ex_ample.com'],
    ['a port', 'example.com:8080'],
    ['a trailing dot', 'example.com.'],
    ['two dots', 'example..com'],
    ['a leading hyphen', '-example.com'],
    ['a label ending in a hyphen', 'example-.com'],
    ['a label over 63 characters', `${'a'.repeat(64)}.com`],
    ['over 253 characters', `${'a.'.repeat(127)}com`],
    ['non-ASCII', 'exämple.com'],
    ['a bare dot', '.'],
    ['nothing at all', ''],
  ])('refuses a domain with %s', (_, domain) => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { domain }));
  });

  it('refuses SameSite=None without Secure', () => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { sameSite: 'none' }));
    expectCookieInvalid(() => serializeCookie('sid', 'v', { sameSite: 'none', secure: false }));
  });

  it('refuses Partitioned without Secure', () => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { partitioned: true }));
  });

  it('refuses a SameSite or Priority outside the union (plain-JS callers)', () => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { sameSite: 'Lax' } as unknown as CookieAttributes));
    expectCookieInvalid(() => serializeCookie('sid', 'v', { sameSite: 'toString' } as unknown as CookieAttributes));
    expectCookieInvalid(() => serializeCookie('sid', 'v', { priority: 'urgent' } as unknown as CookieAttributes));
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, 8.64e15 + 1])('refuses expires %d', (expires) => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { expires }));
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY])('refuses maxAgeMs %d', (maxAgeMs) => {
    expectCookieInvalid(() => serializeCookie('sid', 'v', { maxAgeMs }));
  });

  it('refuses a value with a lone surrogate, which has no UTF-8 form', () => {
    expectCookieInvalid(() => serializeCookie('sid', 'a\uD800b', {}));
  });

  it('prefixes error messages with [sess] and shows control characters escaped', () => {
    expect(() => serializeCookie('sid\r\n', 'v', {})).toThrow('[sess] cookie name "sid\\r\\n"');
  });

  describe('cookie name prefixes', () => {
    it('__Host- forces Secure and Path=/', () => {
      expect(serializeCookie('__Host-sid', 'v', {})).toBe('__Host-sid=v; Path=/; Secure');
      expect(serializeCookie('__Host-sid', 'v', { secure: false, path: '/', httpOnly: true })).toBe(
        '__Host-sid=v; Path=/; HttpOnly; Secure',
      );
    });

    it('__Host- refuses a Domain rather than dropping it', () => {
      expectCookieInvalid(() => serializeCookie('__Host-sid', 'v', { domain: 'example.com', secure: true }));
    });

    it('__Host- refuses a path other than /', () => {
      expectCookieInvalid(() => serializeCookie('__Host-sid', 'v', { path: '/app', secure: true }));
    });

    it('__Secure- forces Secure and keeps the path and domain', () => {
      expect(serializeCookie('__Secure-sid', 'v', { secure: false, path: '/app', domain: 'example.com' })).toBe(
        '__Secure-sid=v; Domain=example.com; Path=/app; Secure',
      );
    });

    it('matches prefixes case-insensitively, as browsers do', () => {
      expect(serializeCookie('__host-sid', 'v', {})).toBe('__host-sid=v; Path=/; Secure');
      expect(serializeCookie('__SECURE-sid', 'v', {})).toBe('__SECURE-sid=v; Secure');
      expectCookieInvalid(() => serializeCookie('__HOST-sid', 'v', { domain: 'example.com' }));
    });

    it('lets a forced Secure satisfy SameSite=None and Partitioned', () => {
      expect(serializeCookie('__Host-sid', 'v', { sameSite: 'none', partitioned: true })).toBe(
        '__Host-sid=v; Path=/; Secure; SameSite=None; Partitioned',
      );
    });

    it('leaves names that only resemble a prefix alone', () => {
      expect(serializeCookie('_Host-sid', 'v', {})).toBe('_Host-sid=v');
      expect(serializeCookie('__Hostsid', 'v', { domain: 'example.com' })).toBe('__Hostsid=v; Domain=example.com');
    });
  });

  it('round-trips any valid name and any Unicode value through readCookie', () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme' }),
      fc.string(),
      // What trips codecs up: escapes, quotes, separators and whitespace at the edges.
      fc.string({ unit: fc.constantFrom('%', '2', '5', 'E', 'a', '"', ';', ',', '=', ' ', '\t', '\\') }),
    );
    fc.assert(
      fc.property(tokenArb, value, tokenArb, (name, cookieValue, otherName) => {
        const setCookie = serializeCookie(name, cookieValue, { path: '/', httpOnly: true, secure: true, sameSite: 'lax' });
        const header = otherName === name ? sentBack(setCookie) : `${otherName}=x; ${sentBack(setCookie)}; ${name}=later`;
        expect(readCookie(header, name)).toBe(cookieValue);
      }),
      { numRuns: 1_000 },
    );
  });

  it('always emits a header value Node accepts', () => {
    fc.assert(
      fc.property(tokenArb, fc.string({ unit: 'binary' }), (name, value) => {
        expect(serializeCookie(name, value, { secure: true })).toMatch(/^[\x20-\x7e]+$/);
      }),
    );
  });
});

describe('SET_COOKIE_OVERHEAD_BYTES', () => {
  const bound = (name: string, value: string, attributes: CookieAttributes) =>
    name.length + value.length + (attributes.domain?.length ?? 0) + (attributes.path?.length ?? 1) + SET_COOKIE_OVERHEAD_BYTES;

  it('bounds the line with every attribute at its longest', () => {
    const attributes: CookieAttributes = {
      maxAgeMs: Number.MAX_VALUE,
      expires: -8.64e15,
      domain: 'example.com',
      path: '/a',
      httpOnly: true,
      secure: true,
      sameSite: 'strict',
      partitioned: true,
      priority: 'medium',
    };
    const { domain: _domain, path: _path, ...hostAttributes } = attributes;
    const line = serializeCookie('__Host-sid', 'v', hostAttributes);
    expect(line.length).toBeLessThanOrEqual(bound('__Host-sid', 'v', {}));
    expect(serializeCookie('sid', 'v', attributes).length).toBeLessThanOrEqual(bound('sid', 'v', attributes));
  });

  it('bounds the line for any attributes and a base64url value', () => {
    const attributes = fc.record(
      {
        maxAgeMs: fc.double({ noNaN: true, noDefaultInfinity: true }),
        expires: fc.integer({ min: -8.64e15, max: 8.64e15 }),
        domain: fc.constantFrom('example.com', '.a.example.org'),
        path: fc.constantFrom('/', '/app', '/a/b/c'),
        httpOnly: fc.boolean(),
        sameSite: fc.constantFrom('lax' as const, 'strict' as const, 'none' as const),
        partitioned: fc.boolean(),
        priority: fc.constantFrom('low' as const, 'medium' as const, 'high' as const),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.base64String(), attributes, (value, given) => {
        const cookie: CookieAttributes = { ...given, secure: true };
        expect(serializeCookie('sid', value, cookie).length).toBeLessThanOrEqual(bound('sid', value, cookie));
      }),
    );
  });
});

describe('serializeDeletion', () => {
  it('writes an empty value that expires at once, with the same scope', () => {
    expect(serializeDeletion('sid', { path: '/app', domain: 'example.com', httpOnly: true, secure: true, sameSite: 'strict' })).toBe(
      'sid=; Max-Age=0; Domain=example.com; Path=/app; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Strict',
    );
  });

  it('works with no attributes at all', () => {
    expect(serializeDeletion('sid', {})).toBe('sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  });

  it('keeps Partitioned, since a partitioned cookie lives in its own jar', () => {
    expect(serializeDeletion('sid', { partitioned: true, secure: true })).toBe(
      'sid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; Partitioned',
    );
  });

  it('drops the lifetime of the full attributes it is often given', () => {
    const attributes: CookieAttributes = { path: '/', expires: Date.UTC(2040, 0, 1), maxAgeMs: 86_400_000 };
    expect(serializeDeletion('sid', attributes)).toBe('sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  });

  it('applies the same prefix rules as serializeCookie', () => {
    expect(serializeDeletion('__Host-sid', {})).toBe('__Host-sid=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure');
    expectCookieInvalid(() => serializeDeletion('__Host-sid', { domain: 'example.com' }));
  });

  it('validates like serializeCookie', () => {
    expectCookieInvalid(() => serializeDeletion('s;id', {}));
    expectCookieInvalid(() => serializeDeletion('sid', { path: '/a;b' }));
    expectCookieInvalid(() => serializeDeletion('sid', { domain: 'a b' }));
    expectCookieInvalid(() => serializeDeletion('sid', { sameSite: 'none' }));
  });
});

describe('setCookieLine', () => {
  it('is the Set-Cookie line of a cookie effect, set or delete', () => {
    const attributes = { path: '/', httpOnly: true, sameSite: 'lax', secure: true, maxAgeMs: 60_000 } as const;
    expect(setCookieLine({ type: 'cookie.set', name: 'sid', value: 'abc', attributes })).toBe(serializeCookie('sid', 'abc', attributes));
    expect(setCookieLine({ type: 'cookie.delete', name: 'sid', attributes })).toBe(serializeDeletion('sid', attributes));
    expect(setCookieLine({ type: 'cookie.delete', name: 'sid', attributes })).toMatch(/^sid=; Max-Age=0;/);
  });
});
