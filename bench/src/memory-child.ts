/**
 * Heap held by live sessions in one store, run by `memory.ts` as
 * `node --expose-gc memory-child.ts <sess|express-session> <count>`; prints JSON on stdout.
 * Each session is the bench's five-key session under each library's own id format, written
 * through the store's own `set`, as the middleware would.
 */
import { randomBytes } from 'node:crypto';
import expressSession from 'express-session';
import { generateId } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { PRIME_DATA } from './scenarios.js';

const DAY_MS = 86_400_000;
const [kind, countText] = process.argv.slice(2);
const count = Number(countText);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
if (!Number.isSafeInteger(count) || count < 1) throw new Error(`bad count ${countText}`);

function heapAfterGc(): number {
  // Several passes: weak references and finalizers can free more on a later pass.
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

async function fillSess(): Promise<unknown> {
  // maxEntries at least count, so the LRU bound evicts nothing; no sweep timer during the fill.
  const store = memoryStore({ maxEntries: Math.max(count, 100_000), sweepIntervalMs: 0 });
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const data = { ...PRIME_DATA, views: i, user: `user-${i}` };
    await store.set(generateId(), { data, meta: { createdAt: now, touchedAt: now, expiresAt: now + DAY_MS } }, DAY_MS);
  }
  return store;
}

async function fillExpressSession(): Promise<unknown> {
  const store = new expressSession.MemoryStore();
  for (let i = 0; i < count; i++) {
    // What express-session hands its store: the data plus its Cookie (serialised with toJSON).
    // The typings declare no constructor options; express-session's Cookie takes them (cookie.js).
    const cookie = new (expressSession.Cookie as unknown as new (options: object) => expressSession.Cookie)({
      maxAge: DAY_MS,
      httpOnly: true,
      path: '/',
    });
    const session = { cookie, ...PRIME_DATA, views: i, user: `user-${i}` };
    // uid-safe(24), express-session's default id: 32 base64url characters.
    await new Promise<void>((resolve, reject) =>
      store.set(randomBytes(24).toString('base64url'), session, (error) => (error ? reject(error) : resolve())),
    );
  }
  return store;
}

const before = heapAfterGc();
const store = await (kind === 'sess'
  ? fillSess()
  : kind === 'express-session'
    ? fillExpressSession()
    : Promise.reject(new Error(`unknown kind ${kind}`)));
const after = heapAfterGc();
// Keep the store reachable until after the second measurement.
if (store === undefined) throw new Error('unreachable');
console.log(JSON.stringify({ kind, count, heapDeltaBytes: after - before }));
process.exit(0);
