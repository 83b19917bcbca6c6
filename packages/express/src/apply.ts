/**
 * Express's half of the lifecycle: commit before the headers leave, then apply the HTTP
 * effects with the framework's own response API.
 */
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

/**
 * Holds the response's first `writeHead`, `write` or `end` until `commit` has run, so the
 * store write finishes and the cookie is set before any byte leaves; then replays the held
 * calls in order. If the commit fails, the held output is dropped and `fail` hands the error
 * to Express, whose error handling answers with a 5xx: a lost write never ends in a 2xx.
 * (express-session instead writes all but the last byte while it waits.)
 */
export function commitBeforeHeaders(
  res: Response,
  commit: (status: number) => Promise<readonly HttpEffect[]>,
  fail: (error: unknown) => void,
): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as const;
  const held: Array<() => void> = [];
  let phase: 'open' | 'committing' | 'done' = 'open';

  const release = () => {
    phase = 'done';
    res.writeHead = original.writeHead;
    res.write = original.write;
    res.end = original.end;
  };

  const gate = (name: Output) =>
    function gated(this: Response, ...args: unknown[]): unknown {
      if (phase === 'done') return (original[name] as (...a: unknown[]) => unknown).apply(res, args);
      held.push(() => (original[name] as (...a: unknown[]) => unknown).apply(res, args));
      if (phase === 'open') {
        phase = 'committing';
        const status = name === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode;
        commit(status).then(
          (effects) => {
            applyEffects(res, effects);
            release();
            for (const call of held.splice(0)) call();
          },
          (error: unknown) => {
            held.length = 0;
            release();
            fail(error);
          },
        );
      }
      return name === 'write' ? true : res;
    };

  res.writeHead = gate('writeHead') as Response['writeHead'];
  res.write = gate('write') as Response['write'];
  res.end = gate('end') as Response['end'];
}
