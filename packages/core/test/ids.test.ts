import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { generateId, isWellFormedId } from '../src/ids.js';

// Every pool refill is recorded, so the tests can check which random bytes each id received.
const fills = vi.hoisted(() => [] as Buffer[]);
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    randomFillSync: <T extends NodeJS.ArrayBufferView>(buffer: T): T => {
      actual.randomFillSync(buffer);
      fills.push(Buffer.from(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)));
      return buffer;
    },
  };
});

/** A fresh copy of the module, with an empty pool. */
async function freshIds() {
  vi.resetModules();
  return import('../src/ids.js');
}

beforeEach(() => {
  fills.length = 0;
});

describe('generateId', () => {
  it('makes 32 base64url characters that decode to 24 bytes (192 bits)', async () => {
    const fresh = await freshIds();
    const id = fresh.generateId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(24);
    expect(Buffer.from(id, 'base64url').toString('base64url')).toBe(id);
  });

  it('makes 10,000 distinct ids', async () => {
    const fresh = await freshIds();
    const ids = new Set(Array.from({ length: 10_000 }, fresh.generateId));
    expect(ids.size).toBe(10_000);
  });

  it('draws nothing from the CSPRNG until the first id is asked for', async () => {
    await freshIds();
    expect(fills).toHaveLength(0);
  });

  it('hands out every byte of a refill once, in order, then refills', async () => {
    const fresh = await freshIds();
    const first = Array.from({ length: 170 }, fresh.generateId);
    expect(fills).toHaveLength(1);
    expect(Buffer.concat(first.map((id) => Buffer.from(id, 'base64url')))).toEqual(fills[0]);

    const next = fresh.generateId();
    expect(fills).toHaveLength(2);
    expect(Buffer.from(next, 'base64url')).toEqual(fills[1]?.subarray(0, 24));
    expect(first).not.toContain(next);
  });

  it('refills once every 170 ids across many refills', async () => {
    const fresh = await freshIds();
    const ids = Array.from({ length: 170 * 5 + 1 }, fresh.generateId);
    expect(fills).toHaveLength(6);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('isWellFormedId', () => {
  it('accepts generateId output and UUIDs', () => {
    for (let index = 0; index < 1_000; index++) expect(isWellFormedId(generateId())).toBe(true);
    expect(isWellFormedId(randomUUID())).toBe(true);
    expect(isWellFormedId('123e4567-e89b-12d3-a456-426614174000')).toBe(true);
  });

  it('accepts 22 and 128 characters, and every allowed character', () => {
    expect(isWellFormedId('a'.repeat(22))).toBe(true);
    expect(isWellFormedId('a'.repeat(128))).toBe(true);
    expect(isWellFormedId('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')).toBe(true);
  });

  it.each([
    ['21 characters', 'a'.repeat(21)],
    ['129 characters', 'a'.repeat(129)],
    ['the empty string', ''],
    ['a path', `../${'x'.repeat(22)}`],
    ['a glob', `${'x'.repeat(22)}*`],
    ['NUL', `${'x'.repeat(22)}\0`],
    ['a backslash', `${'x'.repeat(22)}\\`],
    ['a dot', `${'x'.repeat(22)}.`],
    ['standard base64', `${'x'.repeat(22)}+/=`],
    ['a space', `${'x'.repeat(11)} ${'x'.repeat(11)}`],
    ['CR LF', `${'x'.repeat(22)}\r\n`],
    ['a colon', `sess:${'x'.repeat(22)}`],
    ['non-ASCII', `${'x'.repeat(22)}é`],
    ['a full-width letter', `${'x'.repeat(22)}Ａ`],
    ['a lone surrogate', `${'x'.repeat(22)}\uD800`],
  ])('rejects %s', (_, id) => {
    expect(isWellFormedId(id)).toBe(false);
  });

  it('rejects non-strings instead of throwing', () => {
    for (const value of [undefined, null, 42, {}, ['a'.repeat(22)], { length: 30 }]) {
      expect(isWellFormedId(value as unknown as string)).toBe(false);
    }
  });

  it('agrees with /^[A-Za-z0-9_-]{22,128}$/ on any string', () => {
    const reference = /^[A-Za-z0-9_-]{22,128}$/;
    const mostlyIdChars = fc.string({
      unit: fc.oneof(
        { weight: 20, arbitrary: fc.constantFrom(...'Aa0-_zZ9') },
        { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
      ),
      minLength: 18,
      maxLength: 132,
    });
    fc.assert(
      fc.property(fc.oneof(mostlyIdChars, fc.string({ unit: 'binary', maxLength: 200 })), (id) => {
        expect(isWellFormedId(id)).toBe(reference.test(id));
      }),
      { numRuns: 2_000 },
    );
  });
});
