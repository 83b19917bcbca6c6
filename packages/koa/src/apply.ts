/** Koa's half of the lifecycle: the HTTP effects, applied with Koa's own response API. */
import type { ServerResponse } from 'node:http';
import type { Context } from 'koa';
import { assertNever, setCookieLine } from '@sess/core';
import type { CookieEffect, HttpEffect } from '@sess/core';

export function applyEffects(ctx: Context, effects: readonly HttpEffect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'cookie.set':
      case 'cookie.delete':
        ctx.append('Set-Cookie', setCookieLine(effect));
        break;
      case 'header.vary':
        ctx.vary(effect.value);
        break;
      case 'header.cacheControl':
        ctx.set('Cache-Control', effect.value);
        break;
      default:
        assertNever(effect);
    }
  }
}

/** The Set-Cookie lines of `effects`, for an error response (Koa clears the headers set before it). */
export function cookieLines(effects: readonly HttpEffect[]): string[] {
  return effects
    .filter((effect): effect is CookieEffect => effect.type === 'cookie.set' || effect.type === 'cookie.delete')
    .map(setCookieLine);
}

/** Names of the cookies the response already sets, to let the core keep its hands off them. */
export function setCookieNames(ctx: Context): string[] {
  // Read off Node's response: Koa 2's `ctx.response.get` copies every header to find one.
  const value = ctx.res.getHeader('set-cookie') ?? [];
  return (Array.isArray(value) ? value : [String(value)]).map((cookie) => cookie.slice(0, cookie.indexOf('=')).trim());
}

type Output = 'writeHead' | 'write' | 'end';
const OUTPUTS: readonly Output[] = ['writeHead', 'write', 'end'];

/**
 * For an app that writes to `ctx.res` itself (`ctx.respond = false`), possibly before
 * `await next()` returns: holds the response's first `writeHead`, `write` or `end` (Node sends
 * implicit headers through `writeHead`) until `commit` has run, so the store write is done and
 * the cookie is on the response before any byte leaves; then replays the held calls in order.
 * If `commit` fails, or the replay does, `answer` sends the error (past the headers, the socket
 * is closed), and the app's output from then on is dropped: writing to an ended response would
 * throw from an emitter nobody listens to.
 *
 * Returns `settle(status)`: commit now if no output has started it, and wait for it; it never
 * rejects. Methods go on this one response, since only responses that bypass Koa need them.
 */
export function holdOutput(
  res: ServerResponse,
  commit: (status: number) => Promise<void>,
  answer: (error: unknown) => void,
): (status: number) => Promise<void> {
  const own = res as unknown as Record<Output, (...args: unknown[]) => unknown>;
  const original = { writeHead: own.writeHead, write: own.write, end: own.end };
  const held: Array<() => unknown> = [];
  let settled: Promise<void> | undefined;
  const settle = (status: number) =>
    (settled ??= commit(status)
      .then(() => {
        Object.assign(own, original);
        for (const call of held.splice(0)) call();
      })
      .catch((error: unknown) => {
        held.length = 0;
        Object.assign(own, original);
        if (res.headersSent) res.destroy();
        else answer(error);
        for (const name of OUTPUTS) own[name] = dropped(res, name);
      })
      .catch(() => void res.destroy()));
  for (const name of OUTPUTS) {
    own[name] = (...args: unknown[]) => {
      const replay = name === 'writeHead' ? takeHeaders(res, args) : args;
      held.push(() => original[name].apply(res, replay));
      void settle(name === 'writeHead' ? (replay[0] as number) : res.statusCode);
      return name === 'write' ? true : res;
    };
  }
  return settle;
}

/**
 * What Node's `writeHead` does first, done at once: a status or header Node refuses throws in
 * the app's handler, as without the hold, and the session's Set-Cookie and Vary join the app's
 * headers instead of being replaced by them on replay. Returns the arguments left to replay.
 */
function takeHeaders(res: ServerResponse, [status, reason, headers]: unknown[]): unknown[] {
  const code = (status as number) | 0;
  if (code < 100 || code > 999)
    throw Object.assign(new RangeError(`Invalid status code: ${String(status)}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
  const given = typeof reason === 'string' ? headers : (headers ?? reason);
  if (Array.isArray(given)) {
    // A raw array may repeat a name (two Set-Cookie lines): it replaces what was set, as in Node.
    for (let i = 0; i < given.length; i += 2) res.removeHeader(String(given[i]));
    for (let i = 0; i < given.length; i += 2) res.appendHeader(String(given[i]), given[i + 1] as string);
  } else if (typeof given === 'object' && given !== null) {
    for (const [field, value] of Object.entries(given)) res.setHeader(field, value as string);
  }
  return typeof reason === 'string' ? [code, reason] : [code];
}

/** Output after an error answer goes nowhere; a callback still runs, so nobody waits on it forever. */
function dropped(res: ServerResponse, name: Output): (...args: unknown[]) => unknown {
  return (...args: unknown[]) => {
    const callback = args.at(-1);
    if (typeof callback === 'function') process.nextTick(callback as () => void);
    return name === 'write' ? true : res;
  };
}
