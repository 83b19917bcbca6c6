/**
 * What every adapter's own tests share: the secrets they sign and seal with, servers that
 * close after each test, and a watch on what escapes to the process.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
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

/**
 * Whatever escapes to the process (an unhandled rejection, an uncaught exception) while the
 * file's tests run, in order: with sess as without, there must be nothing.
 */
export function escapesWatched(): unknown[] {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => void escaped.push(error);
  beforeAll(() => {
    process.on('unhandledRejection', onEscape);
    process.on('uncaughtException', onEscape);
  });
  afterAll(() => {
    process.off('unhandledRejection', onEscape);
    process.off('uncaughtException', onEscape);
  });
  return escaped;
}
