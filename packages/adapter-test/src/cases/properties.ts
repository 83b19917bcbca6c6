/**
 * Property-based (fast-check), through a full request on the adapter: arbitrary Cookie headers
 * never throw or answer 5xx, and no edit of a valid cookie value is ever accepted. Runs are
 * kept modest (the seed is printed on failure; replay with `{ seed, path }`).
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { lookupsOf } from '../env.js';
import type { CaseEnv } from '../env.js';
import { rawRequest } from '../raw.js';
import { expectPrototypeClean, prototypeKeys } from './hostile-input.js';

const RUNS = 100;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Header bytes: cookie syntax, escapes, quotes, prototype names and obs-text; no CR, LF or NUL. */
const headerPiece = fc.oneof(
  fc.constantFrom(
    'sid',
    'sid=',
    '=',
    ';',
    '; ',
    ' ',
    '\t',
    '%',
    '%E0%A4%A',
    '%00',
    '%zz',
    '"',
    '.',
    ',',
    '\\',
    '__proto__',
    'constructor',
    'toString',
    '\xff',
    '\x80',
    '\x7f',
    '\x01',
  ),
  fc.string({ unit: fc.constantFrom(...'abcXYZ019-_.=;%" \t'.split('')), maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength: 40 }),
);
const cookieHeader = fc.array(headerPiece, { maxLength: 30 }).map((pieces) => pieces.join(''));

/** One edit of a value: replace, insert or delete a character, or append text. */
const edit = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), char: fc.constantFrom(...`${B64URL}.`.split('')) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), char: fc.constantFrom(...`${B64URL}.`.split('')) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), char: fc.constant('') }),
  fc.record({
    op: fc.constant('append' as const),
    at: fc.constant(0),
    char: fc.string({ unit: fc.constantFrom(...`${B64URL}.`.split('')), minLength: 1, maxLength: 8 }),
  }),
);

function applyEdits(value: string, edits: ReadonlyArray<{ op: string; at: number; char: string }>): string {
  let out = value;
  for (const { op, at, char } of edits) {
    const index = out.length === 0 ? 0 : at % out.length;
    if (op === 'replace') out = `${out.slice(0, index)}${char}${out.slice(index + 1)}`;
    else if (op === 'insert') out = `${out.slice(0, index)}${char}${out.slice(index)}`;
    else if (op === 'delete') out = `${out.slice(0, index)}${out.slice(index + 1)}`;
    else out = `${out}${char}`;
  }
  return out;
}

export function propertyCases(env: CaseEnv): void {
  it('property: any Cookie header gets a 2xx with no session or the real one, never a 5xx', async () => {
    const context = await env.start();
    const { client, url } = context;
    await client.request('/count');
    const value = client.jar.get('sid') as string;
    const before = prototypeKeys();
    await fc.assert(
      fc.asyncProperty(cookieHeader, fc.boolean(), async (header, withSession) => {
        const sent = withSession ? `${header}; sid=${value}` : header;
        const gets = lookupsOf(context);
        const reply = await rawRequest(url, '/read', sent);
        // Node's parser refuses control characters other than tab with a clean 400 before any
        // middleware runs; anything else reaches the adapter and must get a normal answer.
        if (/[\x00-\x08\x0a-\x1f\x7f]/.test(sent)) {
          expect(reply.status).toBe(400);
          return;
        }
        expect(reply.status).toBe(200);
        expect(['0', '1']).toContain(reply.body);
        // The session is found only when the header really carries its cookie.
        if (reply.body === '1') expect(sent).toContain(`sid=${value}`);
        if (!sent.includes(value)) expect(lookupsOf(context)).toBe(gets);
      }),
      { numRuns: RUNS },
    );
    if (context.sessions === 'server') expect(context.store.calls.set).toBe(1);
    expectPrototypeClean(before);
  });

  it('property: no edit of a valid cookie value is accepted, and none reaches the store', async () => {
    const context = await env.start();
    const { client, url } = context;
    await client.post('/login');
    const value = client.jar.get('sid') as string;
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
        const forged = applyEdits(value, edits);
        fc.pre(forged !== value);
        const gets = lookupsOf(context);
        const reply = await rawRequest(url, '/me', `sid=${forged}`);
        expect(reply.status).toBe(200);
        expect(reply.body).toBe('nobody');
        expect(lookupsOf(context)).toBe(gets);
      }),
      { numRuns: RUNS },
    );
    expect((await client.request('/me')).body).toBe('ada');
  });
}
