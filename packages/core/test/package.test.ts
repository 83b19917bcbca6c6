/**
 * What a user gets from npm: the packed @sess/core tarball installs into a scratch project
 * outside the workspace, and both `import` and `require` load it, with its types resolving for
 * each (an ESM and a CJS file typechecked by the workspace's tsc under NodeNext).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'sess-core-pack-'));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const secret = 'a-secret-that-is-at-least-32-bytes-long';

// Each file signs an id and verifies it; the `@ts-expect-error` lines fail the typecheck if the
// types did not resolve (an `any` would accept them).
const files = {
  'esm.mts': `
import { createSigner, SessConfigError, type Store } from '@sess/core';
const signer = createSigner('${secret}');
const verified = signer.verify('sid', signer.sign('sid', 'AAAAAAAAAAAAAAAAAAAAAAAA'));
// @ts-expect-error secrets are strings (never called: it would throw)
const misuse = () => createSigner(42);
const missing: Store['get'] | undefined = undefined;
console.log(JSON.stringify({ id: verified?.id, configError: new SessConfigError('x') instanceof Error, missing, misuse: typeof misuse }));
`,
  'cjs.cts': `
import core = require('@sess/core');
const signer = core.createSigner('${secret}');
const verified = signer.verify('sid', signer.sign('sid', 'AAAAAAAAAAAAAAAAAAAAAAAA'));
// @ts-expect-error verify returns a VerifiedCookie or undefined, not a string
const wrong: string = verified;
console.log(JSON.stringify({ id: verified?.id, configError: new core.SessConfigError('x') instanceof Error, wrong: typeof wrong }));
`,
};

const tsconfig = {
  compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', types: [], outDir: 'out' },
  files: Object.keys(files),
};

describe('the published @sess/core', () => {
  let typecheck: { status: number | null; output: string };

  beforeAll(() => {
    execFileSync('pnpm', ['pack', '--pack-destination', scratch], { cwd: packageDir, stdio: 'pipe' });
    const tarball = readdirSync(scratch).find((file) => file.startsWith('sess-core-') && file.endsWith('.tgz'));
    if (tarball === undefined) throw new Error('pnpm pack wrote no tarball');
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', join(scratch, tarball)], { cwd: scratch, stdio: 'pipe' });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(scratch, name), text);
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify(tsconfig));
    // One tsc run typechecks both files and emits out/esm.mjs and out/cjs.cjs.
    const run = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: scratch, encoding: 'utf8' });
    typecheck = { status: run.status, output: run.stdout + run.stderr };
  }, 180_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('typechecks from ESM and from CJS under NodeNext with the shipped .d.ts / .d.cts', () => {
    expect(typecheck.output).toBe('');
    expect(typecheck.status).toBe(0);
  });

  it.each([
    ['import', 'out/esm.mjs'],
    ['require', 'out/cjs.cjs'],
  ])('%s loads it and signs and verifies an id', (_, compiled) => {
    const out = JSON.parse(execFileSync(process.execPath, [compiled], { cwd: scratch, encoding: 'utf8' })) as {
      id?: string;
      configError?: boolean;
    };
    expect(out.id).toBe('AAAAAAAAAAAAAAAAAAAAAAAA');
    expect(out.configError).toBe(true);
  });
});
