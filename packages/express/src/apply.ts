/**
 * Express's half of the lifecycle: commit before the headers leave, then apply the HTTP
 * effects with Node's response API (which connect and a bare `http` server have too).
 */
import { ServerResponse } from 'node:http';
import { assertNever, setCookieLine } from '@sess/core';
import type { HttpEffect } from '@sess/core';

/** Node's own header API, not Express's, so a bare `http`/connect response works the same. */
export function applyEffects(res: ServerResponse, effects: readonly HttpEffect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'cookie.set':
      case 'cookie.delete':
        res.appendHeader('Set-Cookie', setCookieLine(effect));
        break;
      case 'header.vary':
        vary(res, effect.value);
        break;
      case 'header.cacheControl':
        res.setHeader('Cache-Control', effect.value);
        break;
      default:
        assertNever(effect);
    }
  }
}

/** Adds `field` to Vary unless it is there already or Vary is `*` (what Express's `res.vary` does). */
function vary(res: ServerResponse, field: string): void {
  const current = res.getHeader('Vary');
  const fields = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (fields.some((name) => name === '*' || name.toLowerCase() === field.toLowerCase())) return;
  res.setHeader('Vary', [...fields, field].join(', '));
}

type Output = 'writeHead' | 'write' | 'end';
type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
const OUTPUTS: readonly Output[] = ['writeHead', 'write', 'end'];

/** One response's commit, and the output it holds until the commit is done. */
interface Hold {
  readonly commit: (status: number) => Promise<readonly HttpEffect[]>;
  readonly fail: (error: unknown) => void;
  phase: 'open' | 'committing' | 'done';
  readonly held: Array<() => void>;
  /** Puts back the response's own output methods, where the hold replaced them. */
  restore?: () => void;
}

/** Holds of the responses that pass through the gates on Express's shared prototype. */
const holds = new WeakMap<object, Hold>();
const gatedPrototypes = new WeakSet<object>();

/** One output call under `hold`: the first starts the commit, and every call waits for it. */
function through(res: ServerResponse, hold: Hold, name: Output, original: Method, args: unknown[]): unknown {
  if (hold.phase === 'done') return original.apply(res, args);
  if (hold.phase === 'committing') {
    hold.held.push(() => original.apply(res, args));
    return name === 'write' ? true : res;
  }
  const held = name === 'writeHead' ? takeHeaders(res, args) : args;
  hold.phase = 'committing';
  hold.held.push(() => original.apply(res, held));
  const release = () => {
    hold.phase = 'done';
    hold.restore?.();
  };
  hold
    .commit(name === 'writeHead' ? (held[0] as number) : res.statusCode)
    .then((effects) => {
      release();
      applyEffects(res, effects);
      for (const call of hold.held.splice(0)) call();
    })
    // A failed commit, or the app's own output refused on replay (a bad `write`, say): Express's
    // error handling gets it, as it would have without the hold. Past the headers (or if even
    // `fail`, a bare server's own `next`, throws) only the socket can still tell the client.
    .catch((error: unknown) => {
      hold.held.length = 0;
      release();
      if (res.headersSent) res.destroy();
      else hold.fail(error);
    })
    .catch(() => res.destroy());
  return name === 'write' ? true : res;
}

/**
 * What Node's `writeHead` itself does first: the status check, then `setHeader` for each header
 * (`removeHeader` + `appendHeader` for a raw array). Done now, a value Node refuses throws in the
 * handler, as without the hold, and the session's Set-Cookie and Vary join the app's instead of
 * being replaced by them on replay. Returns the arguments left to replay.
 */
function takeHeaders(res: ServerResponse, [status, reason, headers]: unknown[]): unknown[] {
  const code = (status as number) | 0;
  if (code < 100 || code > 999)
    throw Object.assign(new RangeError(`Invalid status code: ${String(status)}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
  const given = typeof reason === 'string' ? headers : (headers ?? reason);
  if (Array.isArray(given)) {
    if (given.length % 2 !== 0) throw Object.assign(new TypeError("The argument 'headers' is invalid"), { code: 'ERR_INVALID_ARG_VALUE' });
    for (let i = 0; i < given.length; i += 2) res.removeHeader(given[i] as string);
    for (let i = 0; i < given.length; i += 2) if (given[i]) res.appendHeader(given[i] as string, given[i + 1] as string);
  } else if (typeof given === 'object' && given !== null) {
    for (const [field, value] of Object.entries(given)) if (field) res.setHeader(field, value as string);
  }
  return typeof reason === 'string' ? [code, reason] : [code];
}

/** Express's own response prototype, which every app's `app.response` inherits; none for a bare Node response. */
function expressPrototype(res: ServerResponse): object | undefined {
  for (let proto = Object.getPrototypeOf(res) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
    if (Object.getPrototypeOf(proto) === ServerResponse.prototype) return proto;
  }
  return undefined;
}

/** Gates `writeHead`, `write` and `end` on `proto` once; a response without a hold passes straight through. */
function gatePrototype(proto: object): void {
  if (gatedPrototypes.has(proto)) return;
  gatedPrototypes.add(proto);
  const methods = proto as Record<Output, Method>;
  for (const name of OUTPUTS) {
    const original = methods[name];
    methods[name] = function gated(this: ServerResponse, ...args: unknown[]): unknown {
      const hold = holds.get(this);
      return hold === undefined ? original.apply(this, args) : through(this, hold, name, original, args);
    };
  }
}

/**
 * Holds the response's first `writeHead`, `write` or `end` until `commit` has run, so the
 * store write finishes and the cookie is set before any byte leaves; then replays the held
 * calls in order. If the commit fails, the held output is dropped and `fail` hands the error
 * to Express, whose error handling answers with a 5xx: a lost write never ends in a 2xx.
 * (express-session instead writes all but the last byte while it waits.)
 *
 * The gates sit on Express's shared response prototype, installed once, with each response's
 * hold in a WeakMap. Methods assigned to each response instead change its shape, and Express's
 * and Node's own work on `res` slows down with it: ~12-15 us a request, measured on Express 5.
 * A response that already has its own output methods (another middleware wrapped them, maybe
 * before the gates existed) is wrapped on the instance, outermost, as before.
 */
export function commitBeforeHeaders(
  res: ServerResponse,
  commit: (status: number) => Promise<readonly HttpEffect[]>,
  fail: (error: unknown) => void,
): void {
  const hold: Hold = { commit, fail, phase: 'open', held: [] };
  const proto =
    Object.hasOwn(res, 'writeHead') || Object.hasOwn(res, 'write') || Object.hasOwn(res, 'end') ? undefined : expressPrototype(res);
  if (proto !== undefined) {
    gatePrototype(proto);
    holds.set(res, hold);
    return;
  }
  const own = res as unknown as Record<Output, Method>;
  const original = { writeHead: own.writeHead, write: own.write, end: own.end };
  for (const name of OUTPUTS) {
    own[name] = function gated(...args: unknown[]) {
      return through(res, hold, name, original[name], args);
    };
  }
  hold.restore = () => Object.assign(own, original);
}
