/**
 * The HTTP effects, applied with Node's response API rather than Express's, so a bare `http` or
 * connect response works the same.
 */
import type { ServerResponse } from 'node:http';
import type { HttpEffect } from '@sess/core';
import { assertNever, setCookieLine, varyWith } from '@sess/core/adapter';

/** Applies `effects` to `res`, and returns it. */
export function applyEffects<Res extends ServerResponse>(res: Res, effects: readonly HttpEffect[]): Res {
  for (const effect of effects) {
    switch (effect.type) {
      case 'cookie.set':
      case 'cookie.delete':
        res.appendHeader('Set-Cookie', setCookieLine(effect));
        break;
      case 'header.vary':
        res.setHeader('Vary', varyWith(res.getHeader('Vary'), effect.value));
        break;
      case 'header.cacheControl':
        res.setHeader('Cache-Control', effect.value);
        break;
      default:
        assertNever(effect);
    }
  }
  return res;
}
