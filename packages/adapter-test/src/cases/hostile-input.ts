/**
 * Design §6 "parsing never throws": hostile Cookie headers, sent byte for byte over real HTTP.
 * Each gets a normal answer (no session, or the session the header really names), never a 5xx
 * or a dropped connection, and `Object.prototype` is untouched. Linear-time parsing of 1 MB
 * headers is proven on `readCookie` itself in packages/core/test/cookie.test.ts ("1 MB
 * headers"); here we check what a server does with them.
 */
import { expect, it } from 'vitest';
import { callsOf, lookupsOf } from '../env.js';
import type { CaseContext, CaseEnv } from '../env.js';
import { rawCookiesNamed, rawRequest } from '../raw.js';

/** Object.prototype's own keys now, to compare after hostile input. */
export function prototypeKeys(): string[] {
  return Reflect.ownKeys(Object.prototype).map(String).sort();
}

export function expectPrototypeClean(before: string[]): void {
  expect(prototypeKeys()).toEqual(before);
  const probe = {} as Record<string, unknown>;
  for (const key of ['polluted', 'views', 'user', 'sid', 'x', '1']) expect(probe[key], key).toBeUndefined();
}

/** A visitor whose session holds `views 1`; returns its Cookie pair `sid=<value>`. */
async function withSession(context: CaseContext): Promise<string> {
  await context.client.request('/count');
  return `sid=${context.client.jar.get('sid') as string}`;
}

/** Headers that name no session (`/read` answers `0`). Bytes are latin1 chars. */
const NO_SESSION: ReadonlyArray<readonly [string, string]> = [
  ['a lone %', '%'],
  ['sid=%', 'sid=%'],
  ['a truncated escape', 'sid=%E0%A4%A'],
  ['a bad escape in a quoted value', 'sid="%E0%A4%A'],
  ['only separators', ';;;'],
  ['a lone =', '='],
  ['an empty name', '=sid'],
  ['spaces only', '   '],
  ['a tab only', '\t'],
  ['an empty value', 'sid='],
  ['a name without =', 'sid'],
  ['empty values twice', 'sid=;sid='],
  ['a lone quote', 'sid="'],
  ['empty quotes', 'sid=""'],
  ['several =', 'sid=a=b=c'],
  ['prototype names only', '__proto__=1; constructor=2; hasOwnProperty=3; toString=4; valueOf=5'],
  ['a JSON-looking __proto__', '__proto__={"polluted":true}; sid=j:{"__proto__":{"polluted":1}}'],
  ['non-ASCII bytes', 'sid=\xff\xfe\xe9; caf\xe9=\xe9'],
  ['percent-encoded NUL, CR and LF', 'sid=%00%0d%0a; x=%00'],
  ['percent-encoded UTF-8', 'sid=%C3%A9%F0%9F%8D%AA'],
  ['8 KB of separators', ';'.repeat(8_192)],
  ['8 KB of = signs', '='.repeat(8_192)],
  ['8 KB of %', '%'.repeat(8_192)],
  ['an 8 KB sid value', `sid=${'A'.repeat(8_192)}`],
];

export function hostileInputCases(env: CaseEnv): void {
  it('malformed Cookie headers give no session and a normal answer, never a 5xx', async () => {
    const context = await env.start();
    await withSession(context);
    const before = prototypeKeys();
    const calls = callsOf(context);
    for (const [label, cookie] of NO_SESSION) {
      const reply = await rawRequest(context.url, '/read', cookie);
      expect(reply.status, label).toBe(200);
      expect(reply.body, label).toBe('0');
      for (const line of rawCookiesNamed(reply, 'sid')) expect(line, label).toMatch(/^sid=; Max-Age=0/);
    }
    expect(callsOf(context)).toEqual(calls);
    expectPrototypeClean(before);
  });

  it('a malformed header still lets a write start a fresh session', async () => {
    const context = await env.start();
    const before = prototypeKeys();
    for (const [label, cookie] of NO_SESSION.slice(0, 8)) {
      const reply = await rawRequest(context.url, '/count', cookie);
      expect(reply.status, label).toBe(200);
      expect(reply.body, label).toBe('views 1');
      expect(rawCookiesNamed(reply, 'sid'), label).toHaveLength(1);
    }
    if (context.sessions === 'server') expect(context.store.size).toBe(8);
    expectPrototypeClean(before);
  });

  it('cookies named __proto__, constructor, hasOwnProperty and toString before the session cookie are skipped', async () => {
    const context = await env.start();
    const session = await withSession(context);
    const before = prototypeKeys();
    const reply = await rawRequest(context.url, '/read', `__proto__=x; constructor=y; hasOwnProperty=z; toString=w; valueOf=v; ${session}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('1');
    expectPrototypeClean(before);
  });

  it('the session cookie is found behind 8 KB of other cookies', async () => {
    const context = await env.start();
    const session = await withSession(context);
    const reply = await rawRequest(context.url, '/read', `pad=${'x'.repeat(8_192)}; ${session}`);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('1');
  });

  // Documented (design §6): browsers send the most specific path first, so the first wins.
  it('duplicate session cookies: the first one wins', async () => {
    const context = await env.start();
    const session = await withSession(context);
    const other = context.newClient();
    await other.request('/count');
    await other.request('/count');
    const otherSession = `sid=${other.jar.get('sid') as string}`;
    expect((await rawRequest(context.url, '/read', `${session}; sid=garbage`)).body).toBe('1');
    expect((await rawRequest(context.url, '/read', `sid=garbage; ${session}`)).body).toBe('0');
    expect((await rawRequest(context.url, '/read', `${session}; ${otherSession}`)).body).toBe('1');
    expect((await rawRequest(context.url, '/read', `${otherSession}; ${session}`)).body).toBe('2');
  });

  it('a junk session cookie sent first (planted on a longer path) draws no deletion, on any method, and the real session survives', async () => {
    const context = await env.start();
    const session = await withSession(context);
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      const reply = await rawRequest(context.url, '/read', `sid=planted-junk; ${session}`, { method });
      // A deletion at the configured path would hit the real cookie, not the planted one.
      expect(rawCookiesNamed(reply, 'sid'), method).toEqual([]);
    }
    expect((await rawRequest(context.url, '/read', session)).body).toBe('1');
  });

  it('raw CR, LF and NUL in the Cookie header are refused by the HTTP parser with a clean 400', async () => {
    const context = await env.start();
    const session = await withSession(context);
    for (const [label, cookie] of [
      ['CR', `${session}\rx=1`],
      ['NUL', `sid=a\0b; ${session}`],
      ['LF', `sid=a\nb; ${session}`],
    ] as const) {
      const reply = await rawRequest(context.url, '/read', cookie);
      expect(reply.status, label).toBe(400);
    }
    expect(lookupsOf(context)).toBe(0);
    expect((await rawRequest(context.url, '/read', session)).body).toBe('1');
  });

  // Node's default max header size is 16 KB: larger headers never reach the middleware.
  it('64 KB and 1 MB Cookie headers get a clean 431 from Node, and the server keeps serving', async () => {
    const context = await env.start();
    const session = await withSession(context);
    const big = await rawRequest(context.url, '/read', `${session}; pad=${'x'.repeat(64 * 1024)}`);
    expect(big.status).toBe(431);
    const huge = await rawRequest(context.url, '/read', `${session}; pad=${'x'.repeat(1024 * 1024)}`);
    // Node answers 431 and closes while the client may still be writing the megabyte; a reset
    // can then swallow the 431 line on the client's side (status 0). Never a 2xx or a 5xx.
    expect([431, 0]).toContain(huge.status);
    expect(lookupsOf(context)).toBe(0);
    expect((await rawRequest(context.url, '/read', session)).body).toBe('1');
  });
}
