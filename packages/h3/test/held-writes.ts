import type { InspectableStore } from '@sess/adapter-test';

/**
 * Holds `store`'s writes until `open()`: `written` settles as the first one starts, and with
 * `fails` each held write then fails instead of storing. `restore()` puts the store's own `set` back.
 */
export function holdWrites(store: InspectableStore, fails = false) {
  let writing: () => void = () => undefined;
  const written = new Promise<void>((resolve) => (writing = resolve));
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const set = store.set;
  store.set = async (...args) => {
    writing();
    await gate;
    if (fails) throw new Error('injected late failure');
    return set(...args);
  };
  return { written, open, restore: () => void (store.set = set) };
}
