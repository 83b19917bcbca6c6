/**
 * Express's half of the lifecycle: commit before the headers leave, then apply the HTTP
 * effects with the framework's own response API.
 */
import { ServerResponse } from 'node:http';
import type { Response } from 'express';
import { assertNever, setCookieLine } from '@sess/core';
import type { HttpEffect } from '@sess/core';

export function applyEffects(res: Response, effects: readonly HttpEffect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'cookie.set':
      case 'cookie.delete':
        res.append('Set-Cookie', setCookieLine(effect));
        break;
      case 'header.vary':
        res.vary(effect.value);
        break;
      case 'header.cacheControl':
        res.setHeader('Cache-Control', effect.value);
        break;
      default:
        assertNever(effect);
    }
  }
}

type Output = 'writeHead' | 'write' | 'end';
type Method = (this: Response, ...args: unknown[]) => unknown;
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
function through(res: Response, hold: Hold, name: Output, original: Method, args: unknown[]): unknown {
  if (hold.phase === 'done') return original.apply(res, args);
  hold.held.push(() => original.apply(res, args));
  if (hold.phase === 'open') {
    hold.phase = 'committing';
    const status = name === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode;
    const release = () => {
      hold.phase = 'done';
      hold.restore?.();
    };
    hold.commit(status).then(
      (effects) => {
        applyEffects(res, effects);
        release();
        for (const call of hold.held.splice(0)) call();
      },
      (error: unknown) => {
        hold.held.length = 0;
        release();
        hold.fail(error);
      },
    );
  }
  return name === 'write' ? true : res;
}

/** Express's own response prototype, which every app's `app.response` inherits; none for a bare Node response. */
function expressPrototype(res: Response): object | undefined {
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
    methods[name] = function gated(this: Response, ...args: unknown[]): unknown {
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
  res: Response,
  commit: (status: number) => Promise<readonly HttpEffect[]>,
  fail: (error: unknown) => void,
): void {
  const hold: Hold = { commit, fail, phase: 'open', held: [] };
  const proto = Object.hasOwn(res, 'writeHead') || Object.hasOwn(res, 'write') || Object.hasOwn(res, 'end') ? undefined : expressPrototype(res);
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
