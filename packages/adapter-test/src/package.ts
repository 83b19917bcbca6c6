/**
 * What npm would publish for an adapter: the packed tarball holds only dist, README, LICENSE and
 * package.json, depends on nothing but @sess/core and @sess/store-memory, and takes the
 * framework as a peer.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

/** @param dir - the adapter's package folder; `peers` - its expected peerDependencies. */
export function runPackageCheck(dir: string, peers: Record<string, string>): void {
  const scratch = mkdtempSync(join(tmpdir(), 'sess-adapter-pack-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('publishes dist only, with @sess/core and @sess/store-memory as its only dependencies', () => {
    if (!existsSync(join(dir, 'dist/index.js'))) throw new Error('not built: run pnpm build first');
    execFileSync('pnpm', ['pack', '--pack-destination', scratch], { cwd: dir, stdio: 'pipe' });
    const tarball = join(scratch, readdirSync(scratch).find((file) => file.endsWith('.tgz')) as string);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    expect(files.filter((file) => !/^package\/(dist\/|README\.md$|LICENSE$|package\.json$)/.test(file))).toEqual([]);
    const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })) as Record<
      string,
      Record<string, string>
    >;
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual(['@sess/core', '@sess/store-memory']);
    expect(Object.values(manifest.dependencies ?? {}).every((range) => !range.startsWith('workspace:'))).toBe(true);
    expect(manifest.peerDependencies).toEqual(peers);
  });
}
