/**
 * Facts an adapter reads off the request and the response, and the one header it merges, each
 * written once: whether the request is secure, which cookies the response already sets, Vary.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { CookieEffect, HttpEffect } from '../effects.js';
import { assertNever, setCookieLine } from '../effects.js';
import type { ResponseFacts, Session } from '../session-api.js';
import { failureStatus } from './errors.js';
import { headerWrites, headersLeft } from './hold.js';

/** A header as Node, Koa and Fetch hand it out. */
export type HeaderValue = number | string | readonly string[] | null | undefined;

const linesOf = (value: HeaderValue): readonly string[] =>
  value === undefined || value === null ? [] : typeof value === 'object' ? value : [String(value)];

/**
 * Whether the request is secure: the first `X-Forwarded-Proto` value when the adapter trusts the
 * proxy and the header is there, else whether the connection itself is encrypted.
 */
export function isSecure(encrypted: boolean, forwardedProto: HeaderValue, trustProxy: boolean): boolean {
  // An empty header says nothing, as Express and Koa read it: the connection decides.
  const first = trustProxy ? linesOf(forwardedProto)[0]?.split(',')[0]?.trim().toLowerCase() || undefined : undefined;
  return first === undefined ? encrypted : first === 'https';
}

/** `isSecure` for a Node request: TLS on its socket, or what a trusted proxy says. */
export function isSecureRequest(req: IncomingMessage, trustProxy: boolean): boolean {
  return isSecure((req.socket as Partial<TLSSocket>).encrypted === true, req.headers['x-forwarded-proto'], trustProxy);
}

/** The names of the cookies in `Set-Cookie` lines (a Node header value, or `Headers.getSetCookie()`). */
export function setCookieNames(setCookie: HeaderValue): string[] {
  return linesOf(setCookie).map((line) => line.slice(0, line.indexOf('=')).trim());
}

/** A comma-separated header's items, trimmed, over all its lines. */
const itemsOf = (value: HeaderValue): string[] =>
  linesOf(value)
    .join(',')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** A Cache-Control directive's name, lower-cased, without its argument. */
const directiveName = (directive: string): string => (directive.split('=')[0] as string).trim().toLowerCase();

/** Whether a Cache-Control value keeps shared caches (a CDN, a proxy) from storing the response. */
export function keepsSharedCachesOut(cacheControl: HeaderValue): boolean {
  // Most responses carry none: no parsing on every commit.
  if (cacheControl === undefined || cacheControl === null || cacheControl === '') return false;
  return itemsOf(cacheControl).some((directive) => {
    const name = directiveName(directive);
    return name === 'private' || name === 'no-store';
  });
}

/**
 * A response's Cache-Control made private, as the core's `header.cacheControl` effect asks when
 * it sets a cookie: `private` where there was none, the app's value as it is where it keeps shared
 * caches out already, else the app's value with `private` in place of what let a shared cache
 * store it (`public`, `s-maxage`, `proxy-revalidate`). A shared cache would otherwise hand the
 * cookie of one visitor's new session to the next.
 */
export function privately(cacheControl: HeaderValue): string {
  if (cacheControl === undefined || cacheControl === null || cacheControl === '') return 'private';
  if (keepsSharedCachesOut(cacheControl)) return linesOf(cacheControl).join(', ');
  return ['private', ...itemsOf(cacheControl).filter((directive) => !SHARED_ONLY.has(directiveName(directive)))].join(', ');
}

const SHARED_ONLY = new Set(['public', 's-maxage', 'proxy-revalidate']);

/**
 * What `commit` needs to know about the response: its status, whether the app already sets the
 * session's cookie itself (the core then keeps its hands off it) and whether its Cache-Control
 * keeps shared caches out already (the core leaves that as the app chose it).
 */
export function responseFacts(status: number, name: string, setCookie: HeaderValue, sharedCachesKeptOut: boolean): ResponseFacts {
  return { status, cookieAlreadySet: setCookieNames(setCookie).includes(name), sharedCachesKeptOut };
}

/**
 * Commits `session` for a Fetch response (h3, Hono) of `status` with `headers` (none where the
 * framework has no response yet) and, under them, `under` (a thrown error's, which the framework
 * answers with too): the app may set the session's cookie or a Cache-Control in either.
 * `headersSent` says the answer left past the framework (see `ResponseFacts`).
 */
export function commitFetch(
  session: Session,
  status: number,
  name: string,
  headers: Headers | undefined,
  under?: Headers,
  headersSent = false,
): readonly HttpEffect[] | Promise<readonly HttpEffect[]> {
  const cookies = under === undefined ? (headers?.getSetCookie() ?? []) : [...under.getSetCookie(), ...(headers?.getSetCookie() ?? [])];
  const facts = responseFacts(status, name, cookies, keepsSharedCachesOut(headers?.get('cache-control') ?? under?.get('cache-control')));
  return session.commit(headersSent ? { ...facts, headersSent } : facts);
}

/**
 * `responseFacts` read off a Node response. One whose headers left past the framework (an app
 * wrote to it directly) says only that: the commit can add nothing to it, and saves nothing.
 */
export function nodeResponseFacts(res: ServerResponse, status: number, name: string): ResponseFacts {
  if (headersLeft(res)) return { status, headersSent: true };
  return responseFacts(status, name, res.getHeader('set-cookie'), keepsSharedCachesOut(res.getHeader('cache-control')));
}

/**
 * The Vary value with `field` added, unless it is there already or Vary is `*` (what the `vary`
 * package does for Express and Koa).
 */
export function varyWith(current: HeaderValue, field: string): string {
  // The usual case, a response with no Vary yet, without splitting anything.
  if (current === undefined || current === null || current === '') return field;
  const fields = linesOf(current)
    .join(',')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (fields.some((name) => name === '*' || name.toLowerCase() === field.toLowerCase())) return fields.join(', ');
  return [...fields, field].join(', ');
}

/** The Set-Cookie lines of `effects`, for an error response of a framework that drops the headers set before it (Koa). */
export function cookieLines(effects: readonly HttpEffect[]): string[] {
  return effects
    .filter((effect): effect is CookieEffect => effect.type === 'cookie.set' || effect.type === 'cookie.delete')
    .map(setCookieLine);
}

/**
 * The headers to answer `error` with, for a framework that answers an error with its `headers`
 * and drops those set on the response before it (Koa): the error's own (field names in any case)
 * with the session's effects applied. Its Set-Cookie lines go ahead of the session's, its Vary is
 * merged, its Cache-Control kept, made private if the session sets a cookie (see `privately`). The error's `headers` are left as they are.
 */
export function errorHeaders(error: object, effects: readonly HttpEffect[]): Record<string, HeaderValue> {
  const headers: Record<string, HeaderValue> = { ...(error as { headers?: object }).headers };
  const field = (name: string) => Object.keys(headers).find((key) => key.toLowerCase() === name) ?? name;
  applyEffects(
    {
      get: (name) => headers[field(name)],
      set: (name, value) => void (headers[field(name)] = value),
      append: (name, value) => void (headers[field(name)] = [headers[field(name)] ?? [], value].flat().map(String)),
    },
    effects,
  );
  return headers;
}

/** The three header operations of a Fetch `Headers` that applying effects needs: `Headers` itself, or `nodeHeaders(res)`. */
export interface HeaderTarget {
  append(name: string, value: string): void;
  set(name: string, value: string): void;
  get(name: string): HeaderValue;
}

/**
 * A Node response's headers through `HeaderTarget`: one small object per commit, its methods on
 * the prototype. Writes go past the seal of a response whose output waits for this commit.
 */
class NodeHeaders implements HeaderTarget {
  constructor(private readonly res: ServerResponse) {}
  append(name: string, value: string): void {
    headerWrites(this.res).appendHeader(name, value);
  }
  set(name: string, value: string): void {
    headerWrites(this.res).setHeader(name, value);
  }
  get(name: string): HeaderValue {
    return this.res.getHeader(name);
  }
}

/** A Node response as a `HeaderTarget`, so one `applyEffects` serves Fetch responses and Node ones. */
export const nodeHeaders = (res: ServerResponse): HeaderTarget => new NodeHeaders(res);

/**
 * Applies the core's HTTP effects to a response's headers. `cookieLine` writes a cookie effect's
 * Set-Cookie line, for an adapter that mirrors another library's cookie format; `undefined`
 * leaves the cookie out.
 */
export function applyEffects(
  headers: HeaderTarget,
  effects: readonly HttpEffect[],
  cookieLine: (effect: CookieEffect) => string | undefined = setCookieLine,
): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'cookie.set':
      case 'cookie.delete': {
        const line = cookieLine(effect);
        if (line !== undefined) headers.append('set-cookie', line);
        break;
      }
      case 'header.vary':
        headers.set('vary', varyWith(headers.get('vary'), effect.value));
        break;
      case 'header.cacheControl':
        headers.set('cache-control', privately(headers.get('cache-control')));
        break;
      default:
        assertNever(effect);
    }
  }
}

/**
 * Commits `session` for a response with `status` and applies the effects to `headers` (`cookieLine`
 * as for `applyEffects`): at once when the commit answered at once (so an output hold lets the
 * response through), else once its promise settles. The response's facts are read from `headers`
 * too, so its `get('set-cookie')` must give each line as Node does, not Fetch's joined value.
 */
export function commitHeaders(
  headers: HeaderTarget,
  session: Session,
  status: number,
  name: string,
  cookieLine?: (effect: CookieEffect) => string | undefined,
): Promise<void> | undefined {
  const committed = session.commit(
    responseFacts(status, name, headers.get('set-cookie'), keepsSharedCachesOut(headers.get('cache-control'))),
  );
  if (committed instanceof Promise) return committed.then((effects) => applyEffects(headers, effects, cookieLine));
  applyEffects(headers, committed, cookieLine);
  return undefined;
}

/**
 * Runs `commit` once `ending` (a sign-out the commit must wait for, since no 2xx may go out before
 * the record is gone) is over, with its failure, if any, for the commit to answer: a failed
 * sign-out has ended the session all the same, so the commit still deletes the cookie.
 */
export function afterSignOut<T>(
  ending: Promise<unknown>,
  commit: (failure: { readonly error: unknown } | undefined) => T,
): Promise<Awaited<T>> {
  return ending.then(
    () => commit(undefined),
    (error: unknown) => commit({ error }),
  ) as Promise<Awaited<T>>;
}

/**
 * `commitNodeResponse` once `ending` (a destroy the commit had to start) is done. A failed destroy
 * has ended the session all the same, so the commit runs for the error answer the failure
 * becomes: the cookie's deletion is on the response when the framework answers, and the failure
 * is passed on.
 */
export function commitNodeResponseAfter(
  ending: Promise<void>,
  res: ServerResponse,
  session: Session,
  status: number,
  name: string,
  cookieLine?: (effect: CookieEffect) => string | undefined,
): Promise<void> {
  return afterSignOut(ending, async (failure) => {
    await commitNodeResponse(res, session, failure === undefined ? status : failureStatus(failure.error), name, cookieLine);
    if (failure !== undefined) throw failure.error;
  });
}

/** `commitHeaders` for a Node response. */
export function commitNodeResponse(
  res: ServerResponse,
  session: Session,
  status: number,
  name: string,
  cookieLine?: (effect: CookieEffect) => string | undefined,
): Promise<void> | undefined {
  return commitHeaders(nodeHeaders(res), session, status, name, cookieLine);
}

/**
 * `response` after `apply` has set headers on it, in place; a response whose headers are immutable
 * (from `fetch` or `Response.redirect`) is copied first.
 */
export function withHeaders(response: Response, apply: (headers: Headers) => void): Response {
  try {
    apply(response.headers);
    return response;
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  const headers = new Headers(response.headers);
  apply(headers);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
