/**
 * koa-session's cookies as Set-Cookie lines: the session cookie and, when signed, its `.sig`
 * twin carrying keygrip's signature of `name=value` as the header holds it. The attributes are
 * the ones the core planned, serialized by sess (so they are checked as every sess cookie is).
 */
import type { CookieAttributes } from '@sess/core';
import { serializeCookie, serializeDeletion } from '@sess/core';
import { setCookieNames } from '@sess/core/adapter';
import type { Keys } from './keys.js';

/** RFC 9110 token: what sess's serializer takes as a name. koa-session 5's default `koa:sess` is not one. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A line for any name Koa's cookies take (checked at construction): sess's serializer writes the rest. */
function named(name: string, serialize: (name: string) => string): string {
  return TOKEN.test(name) ? serialize(name) : name + serialize('k').slice(1);
}

/** The session cookie `name=value`, and its `.sig` when `keys` sign it. */
export function cookieLines(name: string, value: string, attributes: CookieAttributes, keys: Keys | undefined): string[] {
  const line = named(name, (as) => serializeCookie(as, value, attributes));
  if (keys === undefined) return [line];
  // Keygrip signs `name=value` as the header carries it.
  const signature = keys.sign(line.slice(0, line.indexOf(';')));
  return [line, named(`${name}.sig`, (as) => serializeCookie(as, signature, attributes))];
}

/** Lines deleting the session cookie, and its `.sig` when sessions are signed. */
export function deletionLines(name: string, attributes: CookieAttributes, signed: boolean): string[] {
  const names = signed ? [name, `${name}.sig`] : [name];
  return names.map((each) => named(each, (as) => serializeDeletion(as, attributes)));
}

/**
 * The response's Set-Cookie lines with `lines` added; with koa-session's `overwrite`, earlier
 * lines for the session cookie and its `.sig` are dropped, as Koa's cookies drop them.
 */
export function mergedLines(
  current: number | string | readonly string[] | undefined,
  lines: readonly string[],
  name: string,
  overwrite: boolean,
): string[] {
  const existing = current === undefined ? [] : typeof current === 'object' ? [...current] : [String(current)];
  const replaced = [name, `${name}.sig`];
  const kept = overwrite ? existing.filter((line) => !replaced.includes(setCookieNames(line)[0] as string)) : existing;
  return [...kept, ...lines];
}
