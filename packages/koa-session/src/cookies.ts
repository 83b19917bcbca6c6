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

/** A Set-Cookie line for any name Koa's cookies take (checked at construction): sess's serializer writes the rest. */
function setLine(name: string, value: string, attributes: CookieAttributes): string {
  return TOKEN.test(name) ? serializeCookie(name, value, attributes) : name + serializeCookie('k', value, attributes).slice(1);
}

/** The deleting Set-Cookie line for any name Koa's cookies take. */
function deletionLine(name: string, attributes: CookieAttributes): string {
  return TOKEN.test(name) ? serializeDeletion(name, attributes) : name + serializeDeletion('k', attributes).slice(1);
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
  const empty = setLine(name, '', attributes);
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
  return [session, setLine(`${name}.sig`, signature, attributes)];
}

/** Lines deleting the session cookie, and its `.sig` when sessions are signed. */
export function deletionLines(name: string, attributes: CookieAttributes, signed: boolean): string[] {
  const session = deletionLine(name, attributes);
  return signed ? [session, deletionLine(`${name}.sig`, attributes)] : [session];
}

type SameSite = NonNullable<CookieAttributes['sameSite']>;

/** Cookie attributes to build a copy in. */
type Attributes = { -readonly [Name in keyof CookieAttributes]: CookieAttributes[Name] };

/** A copy of `attributes` with this SameSite (none when undefined) and Partitioned. */
export function withSameSite(attributes: CookieAttributes, sameSite: SameSite | undefined, partitioned: boolean): Attributes {
  const result: Attributes = { ...attributes };
  if (sameSite === undefined) delete result.sameSite;
  else result.sameSite = sameSite;
  if (partitioned) result.partitioned = true;
  else delete result.partitioned;
  return result;
}

/** SameSite and Partitioned as koa-session's cookie has them, for a Secure cookie or a plain one. */
interface Variant {
  readonly sameSite: SameSite | undefined;
  readonly partitioned: boolean;
  /** The core plans them so: its attributes go out as they are. */
  readonly asPlanned: boolean;
}

/**
 * koa-session's SameSite and Partitioned, decided once. koa-session takes SameSite=None and
 * Partitioned with any `secure`, and sends no SameSite unless one is set; the core plans None and
 * Partitioned only for a cookie that is always Secure, and Lax where koa-session has none. So the
 * core is given what it can plan (`planned`), and `koaAttributes` gives each cookie it plans
 * koa-session's by the one thing a request decides, whether that cookie is Secure: a Secure one
 * carries the app's SameSite and Partitioned; one that is not (a plain request's with `secure`
 * unset, or any with `secure: false`) goes without None and Partitioned, which browsers drop
 * without Secure (and sess's serializer refuses).
 */
export function sameSitePlan(sameSite: SameSite | undefined, partitioned: boolean, secure: boolean | undefined) {
  const alwaysSecure = secure === true;
  const planned = {
    sameSite: sameSite === undefined || (sameSite === 'none' && !alwaysSecure) ? 'lax' : sameSite,
    partitioned: alwaysSecure && partitioned,
  } as const;
  const variant = (sameSite: SameSite | undefined, partitioned: boolean): Variant => ({
    sameSite,
    partitioned,
    asPlanned: sameSite === planned.sameSite && partitioned === planned.partitioned,
  });
  const onSecure = variant(sameSite, partitioned);
  const onPlain = variant(sameSite === 'none' ? undefined : sameSite, false);
  // The core hands every deletion, and every cookie without an expiry, the same frozen attributes
  // on each request: those are translated once (frozen, they cannot go stale).
  const translated = new WeakMap<CookieAttributes, CookieAttributes>();
  function koaAttributes(attributes: CookieAttributes): CookieAttributes {
    const wanted = attributes.secure === true ? onSecure : onPlain;
    if (wanted.asPlanned) return attributes;
    const known = translated.get(attributes);
    if (known !== undefined) return known;
    const result = withSameSite(attributes, wanted.sameSite, wanted.partitioned);
    if (Object.isFrozen(attributes)) translated.set(attributes, Object.freeze(result));
    return result;
  }
  return { planned, koaAttributes };
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
