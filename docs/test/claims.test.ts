/**
 * Facts the docs state that the code decides, checked against the code so the two cannot drift
 * apart: the option tables of packages/core/README.md and packages/store-memory/README.md against
 * the options the code accepts and their defaults, the codes of docs/errors.md against
 * `SessErrorCode` and the classes that throw them, and the size of a small cookie session.
 * Names and defaults are read from the sources; behaviour is checked on the built packages.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cookieSessions, createSessionManager, setCookieLine } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { describe, expect, it } from 'vitest';

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The rows of the first table after `heading` (a line of the document), as lists of cells. */
function tableAfter(markdown: string, heading: string, nth = 0): string[][] {
  const lines = markdown.split('\n');
  let at = lines.indexOf(heading);
  if (at < 0) throw new Error(`no line "${heading}"`);
  const tables: string[][][] = [];
  let current: string[][] | undefined;
  for (at++; at < lines.length && !/^#{1,3} /.test(lines[at] as string); at++) {
    const line = lines[at] as string;
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    if (current === undefined) tables.push((current = []));
    // `\|` inside a cell is a literal bar (in a type such as `string \| string[]`).
    current.push(
      line
        .replace(/\\\|/g, '\u0000')
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim().replace(/\u0000/g, '|')),
    );
  }
  const table = tables[nth];
  if (table === undefined) throw new Error(`no table ${nth} after "${heading}"`);
  return table.slice(2); // the header and the |---| line
}

/** The `names` a first cell lists: `a`, `b` and `c.d` / `c.e`. */
const namesIn = (cell: string) => [...cell.matchAll(/`([A-Za-z.]+)`/g)].map((match) => match[1] as string);

/** The string literals of `const NAME = [ ... ]` in a source file. */
function constList(source: string, name: string): string[] {
  const body = new RegExp(`const ${name} = \\[([^\\]]*)\\]`).exec(source)?.[1];
  if (body === undefined) throw new Error(`no const ${name}`);
  return [...body.matchAll(/'([^']+)'/g)].map((match) => match[1] as string);
}

describe('packages/core/README.md: the options of createSessionManager', () => {
  const readme = read('packages/core/README.md');
  const source = read('packages/core/src/options.ts');
  const rows = [
    ...tableAfter(readme, '## Options (`createSessionManager`)', 0),
    ...tableAfter(readme, '## Options (`createSessionManager`)', 1),
  ];
  const documented = rows.flatMap((row) => namesIn(row[0] as string));

  it('lists every option the manager accepts, and no other', () => {
    const known = [
      ...constList(source, 'MANAGER_OPTIONS').filter((name) => name !== 'cookie'),
      ...constList(source, 'COOKIE_OPTIONS').map((name) => `cookie.${name}`),
    ];
    expect([...documented].sort()).toEqual([...known].sort());
  });

  it('gives the flags the defaults the code applies', () => {
    for (const row of rows) {
      if (row[1] !== '`boolean`') continue;
      const [name] = namesIn(row[0] as string) as [string];
      const key = name.replace(/^cookie\./, '');
      const applied = new RegExp(`flag\\((?:options|cookie)\\.${key}, '[^']+'\\) \\?\\? (true|false)`).exec(source)?.[1];
      expect(`${name}: ${row[2]}`).toBe(`${name}: \`${applied}\``);
    }
  });

  it('gives the numbers the defaults the code applies', () => {
    const stated: Record<string, string> = Object.fromEntries(rows.map((row) => [namesIn(row[0] as string)[0], row[2]]));
    expect(stated.maxAgeMs).toBe('24 h');
    expect(source).toMatch(/lifetimeMs\(options\.maxAgeMs, 'maxAgeMs', DEFAULT_MAX_AGE_MS,/);
    expect(source).toMatch(/^export const DEFAULT_MAX_AGE_MS = 86_400_000;$/m);
    for (const name of ['touchAfterMs', 'regenerateGraceMs', 'storeTimeoutMs']) {
      const applied = new RegExp(`lifetimeMs\\(options\\.${name}, '${name}', ([0-9_]+)(?:, \\d+)?\\)`).exec(source)?.[1]?.replace(/_/g, '');
      expect(`${name}: ${stated[name]}`).toBe(`${name}: \`${applied}\``);
    }
  });

  it('sets the cookie with the documented defaults (sid, Path=/, HttpOnly, SameSite=Lax, 24 h)', async () => {
    const manager = createSessionManager({ secret: 'a'.repeat(32), store: memoryStore() });
    const session = manager.begin({ cookieHeader: undefined, secure: false });
    await session.load();
    session.set('u', 1);
    const cookie = (await session.commit({ status: 200 })).find((effect) => effect.type === 'cookie.set');
    const line = setCookieLine(cookie as Parameters<typeof setCookieLine>[0]);
    expect(line).toMatch(/^sid=[^;]+; Max-Age=86400; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
  });
});

describe('packages/core/README.md: cookie sessions', () => {
  const readme = read('packages/core/README.md');

  it('states the size of a small sealed session, and which mode is longer', async () => {
    const paragraph = readme.slice(readme.indexOf('**The 4 KB limit.**'));
    const stated = Number(/`\{ u: 1 \}` is a value of about (\d+) characters/.exec(paragraph)?.[1]);
    const sizes: Record<string, number> = {};
    for (const mode of ['encrypt', 'sign'] as const) {
      const manager = createSessionManager({ secret: 'a'.repeat(32), store: cookieSessions({ secret: 'b'.repeat(32), mode }) });
      const session = manager.begin({ cookieHeader: undefined, secure: false });
      await session.load();
      session.set('u', 1);
      const cookie = (await session.commit({ status: 200 })).find((effect) => effect.type === 'cookie.set');
      sizes[mode] = (cookie as { value: string }).value.length;
    }
    expect(Math.abs((sizes.encrypt as number) - stated) / stated).toBeLessThan(0.15);
    expect(sizes.sign).toBeGreaterThan(sizes.encrypt as number);
    expect(readme).toContain('its value is a few characters longer');
  });
});

describe('packages/store-memory/README.md: the options of memoryStore', () => {
  const readme = read('packages/store-memory/README.md');
  const source = read('packages/store-memory/src/index.ts');
  const rows = tableAfter(readme, '## Options');

  it('lists every option of MemoryStoreOptions, and no other', () => {
    const body = /export interface MemoryStoreOptions \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? '';
    const known = [...body.matchAll(/readonly (\w+)\?:/g)].map((match) => match[1]);
    expect(rows.map((row) => namesIn(row[0] as string)[0]).sort()).toEqual(known.sort());
  });

  it('gives the defaults the code applies', () => {
    const constant = (name: string) => new RegExp(`const ${name} = ([0-9_]+);`).exec(source)?.[1];
    const stated = Object.fromEntries(rows.map((row) => [namesIn(row[0] as string)[0], row[2]]));
    expect(stated.maxEntries).toBe(`\`${constant('DEFAULT_MAX_ENTRIES')}\``);
    expect(stated.sweepIntervalMs).toBe(`\`${constant('DEFAULT_SWEEP_INTERVAL_MS')}\``);
    expect(stated.userIdKey).toBe("`'userId'`");
    expect(memoryStore().capabilities).toEqual({ deltaWrites: true, userIndex: true });
  });
});

describe('docs/errors.md: the error codes', () => {
  const errors = read('docs/errors.md');
  const source = read('packages/core/src/errors.ts');
  const headings = [...errors.matchAll(/^### `(\w+)` \((\w+)\)$/gm)].map((match) => [match[1] as string, match[2] as string]);

  it('documents every SessErrorCode, each under the class that throws it', () => {
    const union = /export type SessErrorCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
    const codes = [...union.matchAll(/'(\w+)'/g)].map((match) => match[1] as string);
    const classOf = (code: string) => {
      for (const name of ['SessConfigError', 'SessUsageError']) {
        const accepted =
          new RegExp(`class ${name} extends SessError \\{\\s*constructor\\(\\s*message: string,\\s*code: ([^=]+)=`).exec(source)?.[1] ?? '';
        if (accepted.includes(`'${code}'`)) return name;
      }
      return source.includes(`'${code}'`) && /timedOut \? 'store_timeout' : 'store_failed'/.test(source) && code.startsWith('store_')
        ? 'SessStoreError'
        : 'unknown';
    };
    expect(headings.map(([code]) => code).sort()).toEqual([...codes].sort());
    for (const [code, documented] of headings) expect(`${code} (${documented})`).toBe(`${code} (${classOf(code as string)})`);
  });
});
