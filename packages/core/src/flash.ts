/**
 * Flash messages (set now, read once), kept in the session's data under one key as
 * `{ [kind]: messages[] }`. Pure functions over that value; the session reads and writes it.
 */

/** Where flash messages live in the session's data. */
export const FLASH_KEY = 'sess.flash';

export type Flashes = Record<string, unknown[]>;

/** The flashes a stored value holds. Only arrays count: a value of another shape is ignored rather than trusted. */
export function flashesOf(stored: unknown): Flashes {
  // Without a prototype, a kind named `__proto__` is just a kind.
  const flashes = Object.create(null) as Flashes;
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored)) return flashes;
  for (const [name, messages] of Object.entries(stored)) if (Array.isArray(messages)) flashes[name] = messages;
  return flashes;
}

/** `flashes` with `message` added under `kind`. */
export function withFlash(flashes: Flashes, kind: string, message: unknown): Flashes {
  const earlier = Object.hasOwn(flashes, kind) ? (flashes[kind] as unknown[]) : [];
  return { ...flashes, [kind]: [...earlier, message] };
}

/**
 * The messages of `kind` (or of every kind, flattened in kind order) and the flashes left after
 * taking them; `undefined` when there is nothing to take.
 */
export function takeFlashes(flashes: Flashes, kind: string | undefined): { taken: unknown[]; rest: Flashes } | undefined {
  const kinds = kind === undefined ? Object.keys(flashes) : Object.hasOwn(flashes, kind) ? [kind] : [];
  if (kinds.length === 0) return undefined;
  const rest: Flashes = { ...flashes };
  for (const name of kinds) delete rest[name];
  return { taken: kinds.flatMap((name) => flashes[name] ?? []), rest };
}
