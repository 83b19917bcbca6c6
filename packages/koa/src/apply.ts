/** Koa's half of the lifecycle: the HTTP effects, applied with Koa's own response API. */
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
  return effects.filter((effect): effect is CookieEffect => effect.type === 'cookie.set' || effect.type === 'cookie.delete').map(setCookieLine);
}

/** Names of the cookies the response already sets, to let the core keep its hands off them. */
export function setCookieNames(ctx: Context): string[] {
  // Read off Node's response: Koa 2's `ctx.response.get` copies every header to find one.
  const value = ctx.res.getHeader('set-cookie') ?? [];
  return (Array.isArray(value) ? value : [String(value)]).map((cookie) => cookie.slice(0, cookie.indexOf('=')).trim());
}
