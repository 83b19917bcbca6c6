/**
 * What a user gets from npm. The tarball holds dist only and takes Hono as a peer
 * (`runPackageCheck`); and the packed @sess/hono (with @sess/core and @sess/store-memory packed
 * the same way) installs with npm into a scratch project outside the workspace, next to hono and
 * @hono/node-server from the registry, where a ten-line TypeScript app typechecks against the
 * shipped `.d.ts` (with `SessionData` merged in), compiles, and counts visits over real HTTP.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPackageCheck } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { hono: '^4.0.0' });

const packages = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'sess-hono-pack-'));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function pack(name: string): string {
  const dir = join(packages, name);
  if (!existsSync(join(dir, 'dist/index.js'))) throw new Error(`${name} is not built: run pnpm build first`);
  execFileSync('pnpm', ['pack', '--pack-destination', scratch], { cwd: dir, stdio: 'pipe' });
  const tarball = readdirSync(scratch).find((file) => file.startsWith(`sess-${name}-`) && file.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`no tarball for ${name}`);
  return join(scratch, tarball);
}

// The `@ts-expect-error` line fails the typecheck if `c.get('session')` were `any`.
const app = `
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { session, type SessionEnv } from '@sess/hono';
declare module '@sess/hono' { interface SessionData { views?: number } }
const app = new Hono<SessionEnv>().use(session({ secret: 'a-secret-that-is-at-least-32-bytes-long' }));
app.get('/', async (c) => {
  const s = await c.get('session').load();
  s.data.views = (s.data.views ?? 0) + 1;
  return c.text('views ' + s.data.views);
});
// @ts-expect-error views is a number
app.get('/typed', async (c) => c.text(((await c.get('session').load()).data.views = 'many')));
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => console.log(info.port));
`;

const tsconfig = {
  compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], outDir: 'out' },
  files: ['app.mts'],
};

describe('the published @sess/hono', () => {
  let typecheck: { status: number | null; output: string };

  beforeAll(() => {
    const tarballs = ['core', 'store-memory', 'hono'].map(pack);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', 'hono@4', '@hono/node-server@2', '@types/node@20', ...tarballs], {
      cwd: scratch,
      stdio: 'pipe',
    });
    writeFileSync(join(scratch, 'app.mts'), app);
    writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify(tsconfig));
    const run = spawnSync(process.execPath, [tsc, '-p', '.'], { cwd: scratch, encoding: 'utf8' });
    typecheck = { status: run.status, output: run.stdout + run.stderr };
  }, 180_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('typechecks a typed app under NodeNext with the shipped .d.ts', () => {
    expect(typecheck.output).toBe('');
    expect(typecheck.status).toBe(0);
  });

  it('loads with require as well as import', () => {
    const loaded = execFileSync(process.execPath, ['-e', "console.log(typeof require('@sess/hono').session)"], {
      cwd: scratch,
      encoding: 'utf8',
    });
    expect(loaded.trim()).toBe('function');
  });

  it('runs the app: the session cookie is set and visits are counted', async () => {
    const child = spawn(process.execPath, ['out/app.mjs'], { cwd: scratch, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((done, fail) => {
        child.stdout.once('data', (chunk: Buffer) => done(chunk.toString().trim()));
        child.once('exit', (code) => fail(new Error(`app exited with ${code}`)));
      });
      const first = await fetch(`http://127.0.0.1:${port}/`);
      const cookie = first.headers.getSetCookie()[0]?.split(';')[0] as string;
      expect(await first.text()).toBe('views 1');
      expect(cookie).toMatch(/^sid=/);
      const second = await fetch(`http://127.0.0.1:${port}/`, { headers: { cookie } });
      expect(await second.text()).toBe('views 2');
      expect(second.headers.getSetCookie()).toEqual([]);
    } finally {
      child.kill();
    }
  });
});
