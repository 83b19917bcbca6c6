import { type IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SessStoreError, SessUsageError } from '../../src/index.js';
import type { HttpEffect, ResponseFacts, Session } from '../../src/index.js';
import {
  afterSignOut,
  applyEffects,
  commitFetch,
  cookieLines,
  dropBody,
  errorHeaders,
  failureError,
  httpFailure,
  isSecure,
  keepsSharedCachesOut,
  privately,
  isSecureRequest,
  markHttpError,
  nodeHeaders,
  nodeResponseFacts,
  responseFacts,
  setCookieNames,
  varyWith,
  withHeaders,
} from '../../src/adapter/index.js';

const request = (encrypted: boolean, forwarded?: string | string[]) =>
  ({ socket: { encrypted }, headers: forwarded === undefined ? {} : { 'x-forwarded-proto': forwarded } }) as unknown as IncomingMessage;

describe('request facts', () => {
  it("is secure over TLS, or by a trusted proxy's first X-Forwarded-Proto", () => {
    expect(isSecure(true, undefined, false)).toBe(true);
    expect(isSecure(false, 'https', false)).toBe(false);
    expect(isSecure(false, 'HTTPS, http', true)).toBe(true);
    expect(isSecure(true, ['http'], true)).toBe(false);
    expect(isSecure(true, null, true)).toBe(true);
    expect(isSecure(true, '', true)).toBe(true);
    expect(isSecure(true, ' , https', true)).toBe(true);
    expect(isSecure(false, '', true)).toBe(false);
    expect(isSecureRequest(request(false, 'https'), true)).toBe(true);
    expect(isSecureRequest(request(true), false)).toBe(true);
    expect(isSecureRequest(request(false, 'https'), false)).toBe(false);
  });
});

describe('response facts', () => {
  it('reads the names of the cookies a response sets, and whether its Cache-Control keeps shared caches out', () => {
    expect(setCookieNames(undefined)).toEqual([]);
    expect(setCookieNames('a=1; Path=/')).toEqual(['a']);
    expect(setCookieNames([' sid = x', 'b=2'])).toEqual(['sid', 'b']);
    expect(responseFacts(200, 'sid', ['sid=app'], false)).toEqual({ status: 200, cookieAlreadySet: true, sharedCachesKeptOut: false });
    const res = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
    res.setHeader('Set-Cookie', ['x=1']);
    res.setHeader('Cache-Control', 'no-store');
    expect(nodeResponseFacts(res, 201, 'sid')).toEqual({ status: 201, cookieAlreadySet: false, sharedCachesKeptOut: true });
  });

  it('nodeResponseFacts says only that the headers left, on a response written past the framework', () => {
    const res = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
    res.setHeader('Set-Cookie', ['sid=app']);
    res.writeHead(200);
    expect(nodeResponseFacts(res, 500, 'sid')).toEqual({ status: 500, headersSent: true });
  });

  it('commitFetch commits with the facts of Fetch headers and those under them', () => {
    const seen: ResponseFacts[] = [];
    const session = { commit: (facts: ResponseFacts) => (seen.push(facts), []) } as unknown as Session;
    commitFetch(session, 200, 'sid', new Headers({ 'set-cookie': 'sid=app', 'cache-control': 'no-store' }));
    commitFetch(
      session,
      404,
      'sid',
      new Headers({ 'set-cookie': 'theme=dark' }),
      new Headers([
        ['set-cookie', 'sid=error'],
        ['cache-control', 'private, no-cache'],
      ]),
    );
    commitFetch(session, 500, 'sid', undefined, undefined, true);
    expect(seen).toEqual([
      { status: 200, cookieAlreadySet: true, sharedCachesKeptOut: true },
      { status: 404, cookieAlreadySet: true, sharedCachesKeptOut: true },
      { status: 500, cookieAlreadySet: false, sharedCachesKeptOut: false, headersSent: true },
    ]);
  });

  it('afterSignOut commits once the sign-out is over, with its failure for the commit to answer', async () => {
    const seen: unknown[] = [];
    const commit = (failure: { readonly error: unknown } | undefined) => (seen.push(failure), seen.length);
    let ended = false;
    const ending = new Promise<void>((resolve) => setImmediate(() => ((ended = true), resolve())));
    const committed = afterSignOut(ending, (failure) => (seen.push(ended), commit(failure)));
    expect(seen).toEqual([]);
    expect(await committed).toBe(2);
    const down = new SessStoreError('memory', 'destroy', new Error('down'));
    expect(await afterSignOut(Promise.reject(down), commit)).toBe(3);
    expect(seen).toEqual([true, undefined, { error: down }]);
    await expect(
      afterSignOut(Promise.resolve(), () => {
        throw down;
      }),
    ).rejects.toBe(down);
  });

  it('merges Vary once, and leaves Vary: * alone', () => {
    expect(varyWith(undefined, 'Cookie')).toBe('Cookie');
    expect(varyWith('Accept', 'Cookie')).toBe('Accept, Cookie');
    expect(varyWith(['Accept', 'cookie'], 'Cookie')).toBe('Accept, cookie');
    expect(varyWith('*', 'Cookie')).toBe('*');
  });

  it('nodeHeaders is a Node response seen through the Headers methods', () => {
    const res = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
    const headers = nodeHeaders(res);
    headers.append('set-cookie', 'a=1');
    headers.append('set-cookie', 'b=2');
    headers.set('vary', 'Cookie');
    expect([headers.get('set-cookie'), headers.get('vary')]).toEqual([['a=1', 'b=2'], 'Cookie']);
  });

  it('applyEffects appends cookies, merges Vary, sets Cache-Control, on Fetch Headers and a Node response alike', () => {
    const effects: HttpEffect[] = [
      { type: 'cookie.set', name: 'sid', value: 'v', attributes: { path: '/', httpOnly: true } },
      { type: 'cookie.delete', name: 'sid.test', attributes: { path: '/' } },
      { type: 'header.vary', value: 'Cookie' },
      { type: 'header.cacheControl', value: 'private' },
    ];
    const fetchHeaders = new Headers({ vary: 'Accept', 'set-cookie': 'theme=dark' });
    applyEffects(fetchHeaders, effects);
    expect([fetchHeaders.getSetCookie(), fetchHeaders.get('vary'), fetchHeaders.get('cache-control')]).toEqual([
      ['theme=dark', 'sid=v; Path=/; HttpOnly', expect.stringMatching(/^sid\.test=; Max-Age=0; Path=\//)],
      'Accept, Cookie',
      'private',
    ]);
    const res = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
    res.setHeader('Vary', 'Accept');
    applyEffects(nodeHeaders(res), effects);
    expect([res.getHeader('set-cookie'), res.getHeader('vary'), res.getHeader('cache-control')]).toEqual([
      fetchHeaders.getSetCookie().slice(1),
      'Accept, Cookie',
      'private',
    ]);
  });

  it("applyEffects writes cookies through the adapter's cookieLine, which may leave one out", () => {
    const headers = new Headers();
    const effects: HttpEffect[] = [
      { type: 'cookie.set', name: 'sid', value: 'v', attributes: {} },
      { type: 'cookie.set', name: 'other', value: 'w', attributes: {} },
    ];
    applyEffects(headers, effects, (effect) => (effect.name === 'sid' ? `sid=${encodeURIComponent('s:v')}` : undefined));
    expect(headers.getSetCookie()).toEqual(['sid=s%3Av']);
  });

  it('cookieLines keeps the cookie effects only', () => {
    const effects: HttpEffect[] = [
      { type: 'cookie.delete', name: 'sid', attributes: { path: '/' } },
      { type: 'header.vary', value: 'Cookie' },
    ];
    expect(cookieLines(effects)).toEqual([expect.stringMatching(/^sid=; Max-Age=0; Path=\//)]);
  });

  it('withHeaders sets headers in place, or on a copy when they are immutable', async () => {
    const mutable = new Response('body');
    expect(withHeaders(mutable, (headers) => headers.set('x-a', '1'))).toBe(mutable);
    const redirect = Response.redirect('http://localhost/elsewhere', 303);
    const copied = withHeaders(redirect, (headers) => headers.set('x-a', '1'));
    expect(copied).not.toBe(redirect);
    expect([copied.status, copied.headers.get('x-a'), copied.headers.get('location')]).toEqual([303, '1', 'http://localhost/elsewhere']);
    expect(() =>
      withHeaders(mutable, () => {
        throw new RangeError('not about headers');
      }),
    ).toThrow(RangeError);
  });
});

describe('Cache-Control for a response that sets a cookie', () => {
  it('keepsSharedCachesOut: private or no-store in any case, in one line or several', () => {
    expect(
      ['private', 'no-store', 'Private, max-age=60', ['max-age=0', 'NO-STORE'], 'private="set-cookie"'].map(keepsSharedCachesOut),
    ).toEqual([true, true, true, true, true]);
    expect([undefined, null, '', 'public, max-age=60', 'max-age=60', 'no-cache', 'privately'].map(keepsSharedCachesOut)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('privately: private where none was chosen, the app value kept where it is private already, else public and s-maxage replaced by private', () => {
    expect(privately(undefined)).toBe('private');
    expect(privately('')).toBe('private');
    expect(privately('no-store')).toBe('no-store');
    expect(privately(['private', 'max-age=5'])).toBe('private, max-age=5');
    expect(privately('public, max-age=60, s-maxage=600')).toBe('private, max-age=60');
    expect(privately('Public,  S-MaxAge=600, proxy-revalidate, must-revalidate')).toBe('private, must-revalidate');
    expect(privately('max-age=60')).toBe('private, max-age=60');
    expect(privately('no-cache')).toBe('private, no-cache');
  });

  it('errorHeaders makes an error answer private too when it sets a cookie, keeping a private choice as it was', () => {
    const effects: HttpEffect[] = [{ type: 'header.cacheControl', value: 'private' }];
    expect(errorHeaders({ headers: { 'Cache-Control': 'public, max-age=5' } }, effects)['Cache-Control']).toBe('private, max-age=5');
    expect(errorHeaders({ headers: { 'cache-control': 'no-store' } }, effects)['cache-control']).toBe('no-store');
    expect(errorHeaders({}, effects)['cache-control']).toBe('private');
  });
});

describe('error mapping', () => {
  it('dropBody destroys a Node stream, cancels a web stream or a Response body, and leaves the rest', async () => {
    const node = Readable.from(['a']);
    dropBody(node);
    expect(node.destroyed).toBe(true);
    const cancelled: string[] = [];
    const web = (name: string) => new ReadableStream({ cancel: () => void cancelled.push(name) });
    dropBody(web('stream'));
    dropBody(new Response(web('response')));
    const locked = web('locked');
    locked.getReader();
    dropBody(locked);
    dropBody('text');
    dropBody(undefined);
    await Promise.resolve();
    expect(cancelled).toEqual(['stream', 'response']);
  });

  it('maps what sess throws to a status, a status text and a message a client may see', () => {
    const storeDown = new SessStoreError('memory', 'set', new Error('down'));
    expect(httpFailure(storeDown)).toEqual({ status: 503, statusText: 'Service Unavailable', message: 'Session store unavailable' });
    expect(httpFailure(new SessUsageError('misuse'))).toEqual({
      status: 500,
      statusText: 'Internal Server Error',
      message: 'Internal Server Error',
    });
    expect(httpFailure(new Error('other'))).toBeUndefined();
    const made = failureError(storeDown);
    expect(made).toMatchObject({
      message: 'Session store unavailable',
      status: 503,
      statusCode: 503,
      statusMessage: 'Service Unavailable',
      cause: storeDown,
    });
    expect(failureError(storeDown, (failure) => failure.status)).toBe(503);
    expect(failureError('not sess')).toBeUndefined();
  });

  it('markHttpError gives a sess error its status hint in place, as http-errors marks one, and leaves anything else', () => {
    const storeDown = new SessStoreError('memory', 'set', new Error('down'));
    expect(markHttpError(storeDown)).toBe(storeDown);
    expect(storeDown).toMatchObject({ status: 503, expose: false });
    const other = new Error('the app');
    expect(markHttpError(other)).toBe(other);
    expect(Object.keys(other)).toEqual([]);
    expect(markHttpError('text')).toBe('text');
    expect(markHttpError(null)).toBe(null);
  });

  it("errorHeaders adds the session's effects to an error's own headers, in any case: its Set-Cookie first, its Vary merged, its Cache-Control kept", () => {
    const effects: HttpEffect[] = [
      { type: 'cookie.set', name: 'sid', value: 'v', attributes: { path: '/' } },
      { type: 'header.vary', value: 'Cookie' },
      { type: 'header.cacheControl', value: 'private' },
    ];
    const own = { 'Set-Cookie': 'theme=dark', VARY: 'Accept', 'Cache-Control': 'no-store', 'X-Other': 1 };
    const error = Object.assign(new Error('teapot'), { headers: own });
    expect(errorHeaders(error, effects)).toEqual({
      'Set-Cookie': ['theme=dark', 'sid=v; Path=/'],
      VARY: 'Accept, Cookie',
      'Cache-Control': 'no-store',
      'X-Other': 1,
    });
    expect(error.headers).toBe(own);
    expect(own['Set-Cookie']).toBe('theme=dark');
    expect(errorHeaders(new Error('plain'), effects)).toEqual({
      'set-cookie': ['sid=v; Path=/'],
      vary: 'Cookie',
      'cache-control': 'private',
    });
  });
});
