import { runStoreConformance } from '@sess/store-test';
import { memoryStore } from '../src/index.js';

// One clock shared by the store and the suite: the suite advances it to move past TTLs.
let now = Date.UTC(2026, 0, 1);
const clock = { advance: (ms: number) => void (now += ms) };

runStoreConformance({
  name: 'memory',
  create: () => memoryStore({ clock: () => now }),
  clock,
  // Each memory store holds its own records: a second one is a store in another namespace.
  createSibling: () => memoryStore({ clock: () => now }),
});
