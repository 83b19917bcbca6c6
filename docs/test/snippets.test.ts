/**
 * Every ```ts block of the root README, each packages/<name>/README.md, docs/*.md and
 * docs/migration/*.md compiles under `tsc --strict` against the workspace packages, as a user
 * would paste it into an ES module of their own: one file per block, compiled on its own (a
 * `declare module` in one block must not make another compile).
 *
 * A block that only makes sense after something else (a test helper of the adapter's own, a
 * variable from the prose) may be preceded by an HTML comment that supplies that context:
 *
 *   <!-- snippet: fragment
 *   import Koa from 'koa';
 *   declare const app: Koa;
 *   -->
 *
 * The comment's lines are compiled before the block and never shown on GitHub or npm. A
 * relative import in a block (`import { contractApp } from './routes.js'`) names a file of the
 * reader's own, so it is left out of the compile: the fragment comment declares what it imports.
 * Blocks that import `@sess/h3/v1` or `@sess/h3-session/v1` are compiled with `h3` resolving to h3 v1, the major they are for.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const DOCS = dirname(dirname(fileURLToPath(import.meta.url)));
const ROOT = dirname(DOCS);
// Inside docs/, so the snippets resolve express, koa, h3, redis, ... from docs/node_modules.
const OUT = join(DOCS, '.snippets');

interface Snippet {
  /** e.g. packages/express/README.md:42 (the line of the opening fence). */
  readonly where: string;
  readonly file: string;
  readonly prelude: string;
  readonly code: string;
}

function markdownFiles(): string[] {
  const packages = readdirSync(join(ROOT, 'packages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join('packages', entry.name, 'README.md'))
    .filter((path) => {
      try {
        readFileSync(join(ROOT, path));
        return true;
      } catch {
        return false;
      }
    });
  const docs = readdirSync(DOCS)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  const migration = readdirSync(join(DOCS, 'migration'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', 'migration', name));
  return ['README.md', ...packages.sort(), ...docs.sort(), ...migration.sort()];
}

const FRAGMENT = '<!-- snippet: fragment';

function snippetsOf(path: string): Snippet[] {
  const lines = readFileSync(join(ROOT, path), 'utf8').split('\n');
  const found: Snippet[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[index] as string);
    if (open === null) continue;
    const indent = (open[1] as string).length;
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !/^\s*```\s*$/.test(lines[end] as string)) {
      const line = (lines[end++] as string).slice(indent);
      body.push(/^import .* from '\.\.?\/.*';/.test(line) ? `// the reader's own file: ${line}` : line);
    }
    // The comment, if any, ends on the line just above the fence.
    let prelude = '';
    if ((lines[index - 1] ?? '').trim() === '-->') {
      const start = lines.lastIndexOf(FRAGMENT, index - 1);
      if (start >= 0) prelude = lines.slice(start + 1, index - 1).join('\n');
    }
    const slug = `${path.replace(/[/.]/g, '_')}_${index + 1}`;
    found.push({ where: `${path}:${index + 1}`, file: join(OUT, `${slug}.ts`), prelude, code: body.join('\n') });
    index = end;
  }
  return found;
}

const options: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2023.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: ['node'],
  skipLibCheck: true,
  noEmit: true,
};

const h3v1Options: ts.CompilerOptions = { ...options, baseUrl: DOCS, paths: { h3: ['node_modules/h3v1/dist/index.d.ts'] } };

const snippets = markdownFiles().flatMap(snippetsOf);
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
// A package.json of its own makes every snippet an ES module (top-level await), as in an app.
writeFileSync(join(OUT, 'package.json'), '{ "type": "module" }\n');
for (const snippet of snippets) {
  // `export {}` keeps a block without imports a module, so blocks never share a global scope.
  writeFileSync(snippet.file, `${snippet.prelude}\n${snippet.code}\nexport {};\n`);
}

const host = ts.createCompilerHost(options);
let previous: ts.Program | undefined;

function compile(snippet: Snippet): string[] {
  const forV1 = /from '@sess\/h3(-session)?\/v1'/.test(snippet.code);
  const program = ts.createProgram([snippet.file], forV1 ? h3v1Options : options, host, forV1 ? undefined : previous);
  if (!forV1) previous = program;
  const source = program.getSourceFile(snippet.file);
  const preludeLines = snippet.prelude === '' ? 1 : snippet.prelude.split('\n').length;
  return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((diagnostic) => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file === undefined || diagnostic.start === undefined) return text;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    const inBlock = line + 1 - preludeLines;
    return `${inBlock >= 1 ? `line ${inBlock} of the block` : 'in the snippet: fragment comment'}: ${text}`;
  });
}

describe('README snippets compile under tsc --strict', () => {
  it('finds the blocks', () => {
    expect(snippets.length).toBeGreaterThan(20);
  });

  for (const snippet of snippets) {
    it(`${snippet.where} (${relative(DOCS, snippet.file)})`, () => {
      expect(compile(snippet)).toEqual([]);
    });
  }
});
