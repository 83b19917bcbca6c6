/**
 * The sealer derives its keys when it is made, never per cookie: a key derivation per request
 * (PBKDF2, as h3's sealed sessions run) would cost every request milliseconds. Node's key
 * derivation functions are wrapped so the test counts their calls; they still do their work.
 */
import { hkdfSync, pbkdf2Sync, scryptSync } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createSealer } from '../src/seal.js';
import type { SealMode } from '../src/seal.js';
import { OLD_SECRET, SECRET } from './fixtures.js';

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, hkdfSync: vi.fn(actual.hkdfSync), pbkdf2Sync: vi.fn(actual.pbkdf2Sync), scryptSync: vi.fn(actual.scryptSync) };
});

const derivations = () =>
  vi.mocked(hkdfSync).mock.calls.length + vi.mocked(pbkdf2Sync).mock.calls.length + vi.mocked(scryptSync).mock.calls.length;

const payload = (n: number) => ({ id: 'AAAAAAAAAAAAAAAAAAAAAAAA', data: { n }, meta: { createdAt: 1, touchedAt: 2, expiresAt: 3 } });

describe.each<SealMode>(['encrypt', 'sign'])('sealer keys, %s mode', (mode) => {
  beforeEach(() => vi.clearAllMocks());

  it('derives one key per secret when made, and none to seal, open, reject or open a rotated value', () => {
    const sealer = createSealer([SECRET, OLD_SECRET], mode);
    expect(vi.mocked(hkdfSync)).toHaveBeenCalledTimes(2);
    const old = createSealer([OLD_SECRET], mode);
    const made = derivations();
    for (let n = 0; n < 50; n++) {
      // Fresh values each time: the sealer remembers values it opened, and a repeat would skip the work.
      const value = sealer.seal('sid', payload(n));
      expect(sealer.open('sid', value)?.payload).toEqual(payload(n));
      expect(sealer.open('other', value)).toBeUndefined();
      expect(sealer.open('sid', old.seal('sid', payload(n)))?.rotated).toBe(true);
    }
    expect(derivations()).toBe(made);
  });
});
