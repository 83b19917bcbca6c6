/**
 * koa-session's cookies as Set-Cookie lines: the session cookie and, when signed, its `.sig`
 * twin carrying keygrip's signature of `name=value` as the header holds it. The value goes out as
 * Koa's cookies write it; the attributes are the ones the core planned, serialized by sess (so
 * they are checked as every sess cookie is).
 */
import type { CookieAttributes } from '@sess/core';
import { SessUsageError, serializeCookie, serializeDeletion } from '@sess/core';
import { setCookieNames } from '@sess/core/adapter';
import type { Keys } from './keys.js';

/** RFC 9110 token: what sess's serializer takes as a name. koa-session 5's default `koa:sess` is not one. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A line for any name Koa's cookies take (checked at construction): sess's serializer writes the rest. */
function named(name: string, serialize: (name: string) => string): string {
  return TOKEN.test(name) ? serialize(name) : name + serialize('k').slice(1);
}

/**
 * A value Koa's cookies write (cookies 0.9: field content without `;`): they write it as it is,
 * and read it back as it is, so nothing may be percent-encoded on the way out.
 */
const KOA_VALUE = /^[\t\x20-\x3A\x3C-\x7E\x80-\xFF]*$/;

/**
 * Checks that Koa's cookies could carry `value` as `name`'s value and hand it back unchanged.
 *
 * @param source - the app's option that made the value, for the message.
 * @throws SessUsageError for a value Koa's cookies refuse too.
 */
export function checkCookieValue(name: string, value: string, source: string): void {
  if (KOA_VALUE.test(value)) return;
  throw new SessUsageError(
    `the ${name} cookie's value ${JSON.stringify(value.slice(0, 40))} holds ";" or a control character, so no cookie can carry it: make ${source} return such a value no more`,
  );
}

/**
 * `name=value` with `attributes`, the value as koa-session writes it: sess's serializer would
 * percent-encode one holding `%` (an app's `encodeURIComponent` encode, a prefix), which Koa then
 * reads back still encoded, so the session would be lost at the next request.
 */
function line(name: string, value: string, attributes: CookieAttributes, source: string): string {
  checkCookieValue(name, value, source);
  const empty = named(name, (as) => serializeCookie(as, '', attributes));
  return `${name}=${value}${empty.slice(name.length + 1)}`;
}

/** The session cookie `name=value`, and its `.sig` when `keys` sign it. */
export function cookieLines(
  name: string,
  value: string,
  attributes: CookieAttributes,
  keys: Keys | undefined,
  source: 'encode' | 'genid',
): string[] {
  const session = line(name, value, attributes, source);
  if (keys === undefined) return [session];
  // Keygrip signs `name=value` as the header carries it.
  const signature = keys.sign(session.slice(0, session.indexOf(';')));
  return [session, named(`${name}.sig`, (as) => serializeCookie(as, signature, attributes))];
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
