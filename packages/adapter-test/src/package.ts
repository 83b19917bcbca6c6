/**
 * What npm would publish for an adapter: the packed tarball holds only dist, README, LICENSE and
 * package.json, depends on nothing but @sess/core and @sess/store-memory, and takes the
 * framework as a peer.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * @param dir - the adapter's package folder; `peers` - its expected peerDependencies;
 *   `extraDependencies` - runtime dependencies it needs beyond the two sess ones (Fastify's
 *   `fastify-plugin`).
 */
export function runPackageCheck(dir: string, peers: Record<string, string>, extraDependencies: readonly string[] = []): void {
  const scratch = mkdtempSync(join(tmpdir(), 'sess-adapter-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const dependencies = ['@sess/core', '@sess/store-memory', ...extraDependencies].sort();
  // `pnpm pack` takes about a second alone and several with a whole workspace's tests beside it.
  it(`publishes dist only, with ${dependencies.join(', ')} as its only dependencies`, { timeout: 60_000 }, () => {
    if (!existsSync(join(dir, 'dist/index.js'))) throw new Error('not built: run pnpm build first');
    execFileSync('pnpm', ['pack', '--pack-destination', scratch], { cwd: dir, stdio: 'pipe' });
    const tarball = join(scratch, readdirSync(scratch).find((file) => file.endsWith('.tgz')) as string);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    expect(files.filter((file) => !/^package\/(dist\/|README\.md$|LICENSE$|package\.json$)/.test(file))).toEqual([]);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<
      string,
      Record<string, string>
    >;
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(dependencies);
    expect(Object.values(manifest.dependencies ?? {}).every((range) => !range.startsWith('workspace:'))).toBe(true);
    expect(manifest.peerDependencies).toEqual(peers);
  });
}

/** npm's view of the environment without pnpm's `npm_config_*` settings, which npm warns about. */
function npmEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_config_')));
}

/** A scratch project outside the workspace with packed sess packages installed, as a user gets them. */
export interface PackedProject {
  readonly dir: string;
  /** `npm ls --all --json` of the project. */
  tree(): PackageTree;
  /**
   * Writes `source` to `file` and runs it with Node; the app prints its port as its first line
   * of output. Resolves once it does.
   */
  start(file: string, source: string): Promise<{ readonly url: string; close(): void }>;
  remove(): void;
}

export interface PackageTree {
  readonly dependencies?: Record<string, PackageTree>;
}

/** Every package name under `node`, at any depth. */
export function namesUnder(node: PackageTree | undefined, names = new Set<string>()): Set<string> {
  for (const [name, child] of Object.entries(node?.dependencies ?? {})) {
    names.add(name);
    namesUnder(child, names);
  }
  return names;
}

/**
 * Packs each workspace package folder (`core`, `store-memory`, ...) with `pnpm pack` and installs
 * the tarballs with npm, plus `registryPackages` (`express@5`), into a fresh scratch project.
 * `aliases` installs a tarball under another name (`{ 'express-session': 'express-session' }`
 * installs the packed folder `express-session` as `express-session`, as an npm alias would).
 */
export function installPacked(
  folders: readonly string[],
  registryPackages: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): PackedProject {
  const packages = join(import.meta.dirname, '../..');
  const dir = mkdtempSync(join(tmpdir(), 'sess-packed-'));
  const tarballs = new Map<string, string>();
  for (const folder of folders) {
    const source = join(packages, folder);
    if (!existsSync(join(source, 'dist'))) throw new Error(`${folder} is not built: run pnpm build first`);
    const before = new Set(readdirSync(dir));
    execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: source, stdio: 'pipe' });
    const tarball = readdirSync(dir).find((file) => !before.has(file) && file.endsWith('.tgz'));
    if (tarball === undefined) throw new Error(`pnpm pack made no tarball for ${folder}`);
    tarballs.set(folder, join(dir, tarball));
  }
  const specs = folders.map((folder) => {
    const alias = aliases[folder];
    return alias === undefined ? (tarballs.get(folder) as string) : `${alias}@file:${tarballs.get(folder)}`;
  });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', ...registryPackages, ...specs], {
    cwd: dir,
    stdio: 'pipe',
    env: npmEnvironment(),
  });
  return {
    dir,
    tree: () =>
      JSON.parse(execFileSync('npm', ['ls', '--all', '--json'], { cwd: dir, encoding: 'utf8', env: npmEnvironment() })) as PackageTree,
    async start(file, source) {
      writeFileSync(join(dir, file), source);
      const child = spawn(process.execPath, [file], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
      const port = await new Promise<string>((done, fail) => {
        child.stdout.once('data', (chunk: Buffer) => done(chunk.toString().trim().split('\n')[0] as string));
        child.once('exit', (code) => fail(new Error(`${file} exited with ${code}`)));
      });
      return { url: `http://127.0.0.1:${port}`, close: () => void child.kill() };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Installs the packed `folders` with `registryPackages` (see `installPacked`) and runs each app
 * of `apps` (title -> file name and source) from there: each must print its port, answer
 * `views 1` with a session cookie, then `views 2` when that cookie comes back. `more` adds
 * tests of its own on the same installed project.
 */
export function runPackedApps(
  title: string,
  folders: readonly string[],
  registryPackages: readonly string[],
  apps: Readonly<Record<string, { readonly file: string; readonly source: string }>>,
  more?: (project: () => PackedProject) => void,
): void {
  describe(title, () => {
    let project: PackedProject | undefined;
    // npm may fetch the framework from the registry: the limit is for that download.
    beforeAll(() => {
      project = installPacked(folders, registryPackages);
    }, 300_000);
    afterAll(() => project?.remove());

    for (const [name, { file, source }] of Object.entries(apps)) {
      it(`runs ${name}: it sets the session cookie and counts visits`, async () => {
        const running = await (project as PackedProject).start(file, source);
        try {
          const first = await fetch(`${running.url}/`);
          const cookie = first.headers.getSetCookie()[0]?.split(';')[0] as string;
          expect(await first.text()).toBe('views 1');
          const second = await fetch(`${running.url}/`, { headers: { cookie } });
          expect(await second.text()).toBe('views 2');
        } finally {
          running.close();
        }
      });
    }
    more?.(() => project as PackedProject);
  });
}
