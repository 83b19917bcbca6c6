/**
 * Cookies that h3 sealed with iron (`Fe26.2*...`), each opened once. The first request that
 * carries one moves its session into the store; every request carrying the same value (in
 * parallel, or until the browser has taken the new cookie) reuses that outcome instead of
 * running PBKDF2 again or creating a second session.
 */
import { createHash } from 'node:crypto';

/** iron's MAC prefix and separator: what every h3 seal (v1 and v2) starts with. */
const IRON_PREFIX = 'Fe26.2*';

/**
 * Seals remembered per config. An entry is a 43-character hash and a signed id, about 150 bytes:
 * some 1.5 MB at the bound. Past it the oldest is forgotten; a browser still sending that seal
 * after its session moved (it normally holds the new cookie after one response) opens it again.
 */
const REMEMBERED_SEALS = 10_000;

/** Whether a session value is an h3 seal rather than a sess signed id. */
export const isIronSeal = (value: string | undefined): value is string => value?.startsWith(IRON_PREFIX) === true;

export interface SealMemory {
  /**
   * The signed id the seal moved to, or `undefined` when it did not open. `move` runs once per
   * seal; callers with the same seal share its promise. A rejected move (a store failure) is
   * forgotten, so the next request carrying the seal tries again.
   */
  open(sealed: string, move: (sealed: string) => Promise<string | undefined>): Promise<string | undefined>;
}

export function sealMemory(): SealMemory {
  // Keyed by a hash: a chunked h3 seal can be several KB, and the map holds thousands.
  const moved = new Map<string, Promise<string | undefined>>();
  return {
    open(sealed, move) {
      const key = createHash('sha256').update(sealed).digest('base64url');
      const known = moved.get(key);
      if (known !== undefined) return known;
      const outcome = move(sealed);
      moved.set(key, outcome);
      if (moved.size > REMEMBERED_SEALS) moved.delete(moved.keys().next().value as string);
      outcome.catch(() => moved.get(key) === outcome && moved.delete(key));
      return outcome;
    },
  };
}
