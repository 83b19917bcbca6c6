/** The HTTP effects, applied to a response's headers (a Fetch `Headers` or a Node response). */
import { assertNever, setCookieLine } from '@sess/core';
import type { HttpEffect } from '@sess/core';

/** The three header operations the effects need; both h3 majors' responses provide them. */
export interface HeaderTarget {
  append(name: string, value: string): void;
  set(name: string, value: string): void;
  get(name: string): string | null;
}

/** Adds a field to Vary once, as `vary` does for Express and Koa. */
function varyWith(current: string | null, field: string): string {
  if (current === null || current.trim() === '') return field;
  const fields = current.split(',').map((item) => item.trim().toLowerCase());
  return fields.includes('*') || fields.includes(field.toLowerCase()) ? current : `${current}, ${field}`;
}

export function applyEffects(headers: HeaderTarget, effects: readonly HttpEffect[]): void {
  for (const effect of effects) {
    switch (effect.type) {
      case 'cookie.set':
      case 'cookie.delete':
        headers.append('set-cookie', setCookieLine(effect));
        break;
      case 'header.vary':
        headers.set('vary', varyWith(headers.get('vary'), effect.value));
        break;
      case 'header.cacheControl':
        headers.set('cache-control', effect.value);
        break;
      default:
        assertNever(effect);
    }
  }
}
