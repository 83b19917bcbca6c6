/**
 * What a user gets from npm: the packed @sess/express tarball (with @sess/core and
 * @sess/store-memory packed the same way) installs into a scratch project outside the
 * workspace, pulls in nothing beyond those and their own runtime dependencies (Express comes
 * from the user), and a ten-line app runs with it over real HTTP.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packages = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'sess-express-pack-'));

function pack(name: string): string {
  const dir = join(packages, name);
  if (!existsSync(join(dir, 'dist/index.js'))) throw new Error(`${name} is not built: run pnpm build first`);
  execFileSync('pnpm', ['pack', '--pack-destination', scratch], { cwd: dir, stdio: 'pipe' });
  const tarball = readdirSync(scratch).find((file) => file.startsWith(`sess-${name}-`) && file.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`no tarball for ${name}`);
  return join(scratch, tarball);
}

const app = `
const express = require('express');
const { session } = require('@sess/express');
const app = express();
app.use(session({ secret: 'a-secret-that-is-at-least-32-bytes-long' }));
app.get('/', (req, res) => {
  req.session.views = (req.session.views || 0) + 1;
  res.send('views ' + req.session.views);
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('the published @sess/express', () => {
  beforeAll(() => {
    const tarballs = ['core', 'store-memory', 'express'].map(pack);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', 'express@5', ...tarballs], { cwd: scratch, stdio: 'pipe' });
  }, 180_000);

  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('pulls in only @sess/core, @sess/store-memory and their own runtime dependencies', () => {
    interface Node {
      dependencies?: Record<string, Node>;
    }
    const tree = JSON.parse(execFileSync('npm', ['ls', '--all', '--json'], { cwd: scratch, encoding: 'utf8' })) as Node;
    const namesUnder = (node: Node | undefined, names = new Set<string>()) => {
      for (const [name, child] of Object.entries(node?.dependencies ?? {})) {
        names.add(name);
        namesUnder(child, names);
      }
      return names;
    };
    // Everything installed, minus what Express (the user's own dependency) brings.
    const fromExpress = namesUnder(tree.dependencies?.express);
    const added = [...namesUnder(tree)].filter((name) => name !== 'express' && !fromExpress.has(name));
    expect(added.sort()).toEqual(['@sess/core', '@sess/express', '@sess/store-memory', 'xstate']);
  });

  it('runs a ten-line app that sets the session cookie and counts visits', async () => {
    writeFileSync(join(scratch, 'app.cjs'), app);
    const child = spawn(process.execPath, ['app.cjs'], { cwd: scratch, stdio: ['ignore', 'pipe', 'inherit'] });
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
    } finally {
      child.kill();
    }
  });
});
