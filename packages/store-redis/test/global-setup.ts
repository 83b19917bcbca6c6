/**
 * Starts the 3-master Redis Cluster once for the whole run and checks the standalone server at
 * REDIS_URL, handing both to the tests with `provide`. Without the binaries or the server, the
 * tests that need them skip with the reason; with CI=true a missing service fails the run instead.
 */
import type { TestProject } from 'vitest/node';
import { REDIS_CLI, REDIS_SERVER, startCluster } from './servers.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** What a test gets: a way to reach the service, or why it cannot. */
export type Service<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    standalone: Service<string>;
    cluster: Service<readonly number[]>;
    /** redis-server and redis-cli can run here (the outage and round-trip tests start their own). */
    binaries: Service<true>;
  }
}

const run = promisify(execFile);

function reasonOf(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? String(error)) : String(error);
}

/** Whether redis-server and redis-cli run here. */
export async function checkBinaries(): Promise<Service<true>> {
  try {
    await run(REDIS_SERVER, ['--version'], { timeout: 5_000 });
    await run(REDIS_CLI, ['--version'], { timeout: 5_000 });
    return { ok: true, value: true };
  } catch (error) {
    return { ok: false, reason: `redis-server or redis-cli cannot run: ${reasonOf(error)}` };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const strict = process.env['CI'] === 'true';
  let standalone: Service<string>;
  try {
    const { stdout } = await run(REDIS_CLI, ['-u', url, 'PING'], { timeout: 5_000 });
    standalone = stdout.trim() === 'PONG' ? { ok: true, value: url } : { ok: false, reason: `${url} answered ${stdout.trim()}` };
  } catch (error) {
    standalone = { ok: false, reason: `no Redis at ${url}: ${reasonOf(error)}` };
  }
  const binaries = await checkBinaries();
  let cluster: Service<readonly number[]>;
  let stop = async (): Promise<void> => undefined;
  try {
    const started = await startCluster();
    stop = started.stop;
    cluster = { ok: true, value: started.ports };
  } catch (error) {
    cluster = { ok: false, reason: `could not start a Redis Cluster: ${reasonOf(error)}` };
  }
  if (strict) {
    // CI=true: nothing may skip for lack of a service.
    const missing = [standalone, cluster, binaries].filter((s) => !s.ok).map((s) => (s.ok ? '' : s.reason));
    if (missing.length > 0) {
      await stop();
      throw new Error(`[store-redis tests] CI=true and a service is missing: ${missing.join('; ')}`);
    }
  }
  project.provide('standalone', standalone);
  project.provide('cluster', cluster);
  project.provide('binaries', binaries);
  return stop;
}
