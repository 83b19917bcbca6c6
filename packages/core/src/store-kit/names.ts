/**
 * Names and ids as a store keeps them. Redis and PostgreSQL both receive strings as UTF-8, which
 * cannot hold a lone surrogate ('\uD800' and '\uDC00' would both arrive as U+FFFD and collide),
 * and PostgreSQL's text cannot hold U+0000 at all. `escapeName` writes each of those, and the
 * escape character itself, as the escape and four hex digits; everything else, surrogate pairs
 * included, is unchanged, so ordinary names read the same in the database as in the app.
 */
import { createHash } from 'node:crypto';

/**
 * Starts an escape: U+FFFF, a noncharacter, which Unicode promises never appears in interchanged
 * text, so names written before escaping existed (and ordinary names) hold none.
 */
export const NAME_ESCAPE = '\uFFFF';
/** What needs escaping: U+0000, any surrogate (pairs are let through one by one) and the escape. */
const NEEDS_ESCAPE = /[\u0000\uD800-\uDFFF\uFFFF]/;
/** An escape as `escapeName` writes it: the escape and the code unit in four upper-case hex digits. */
const ESCAPED = /\uFFFF(D[89A-F][0-9A-F]{2}|FFFF|0000)/g;

/**
 * A name a database keeps exactly: lone surrogates, U+0000 and U+FFFF become U+FFFF and the code
 * unit in hex ('\uD800' is stored as '\uFFFFD800'). `unescapeName` undoes it.
 */
export function escapeName(name: string): string {
  if (!NEEDS_ESCAPE.test(name)) return name;
  let escaped = '';
  for (let i = 0; i < name.length; i += 1) {
    const unit = name.charCodeAt(i);
    const next = name.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      escaped += name.slice(i, i + 2);
      i += 1;
    } else if ((unit >= 0xd800 && unit <= 0xdfff) || unit === 0xffff || unit === 0) {
      escaped += NAME_ESCAPE + unit.toString(16).toUpperCase().padStart(4, '0');
    } else {
      escaped += name[i];
    }
  }
  return escaped;
}

/** The name `escapeName` was given. A U+FFFF that starts no escape is itself, so older names keep their meaning. */
export function unescapeName(stored: string): string {
  if (!stored.includes(NAME_ESCAPE)) return stored;
  return stored.replace(ESCAPED, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * A session id as a store keys it with `hashIds`: SHA-256 of the id in base64url. A dump of the
 * database then holds no id a cookie could carry, and the digest is still unique.
 */
export function hashedId(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
