/**
 * What every adapter's own tests share: the secrets they sign and seal with, and servers that
 * close after each test.
 */
import { afterEach } from 'vitest';
import type { Served } from './client.js';

export { COOKIE_SECRET, SECRET } from './env.js';

/**
 * A list to push each test's servers into; they are closed after every test, so a failing
 * test leaves no server behind for the next one.
 */
export function closedAfterEach(): Served[] {
  const servers: Served[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });
  return servers;
}
