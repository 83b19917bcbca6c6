/**
 * The failover test's global setup: it starts its own replicated clusters, so all it needs to
 * know is whether redis-server and redis-cli run here (with CI=true they must).
 */
import type { TestProject } from 'vitest/node';
import { checkBinaries } from './global-setup.js';

export default async function setup(project: TestProject): Promise<void> {
  const binaries = await checkBinaries();
  if (!binaries.ok && process.env['CI'] === 'true') throw new Error(`[store-redis tests] CI=true and ${binaries.reason}`);
  project.provide('binaries', binaries);
}
