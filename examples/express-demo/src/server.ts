/**
 * Starts the demo: `pnpm demo` (or `npm run demo` from the repository root).
 * PORT (default 3000, 0 for any free port), HOST (default 127.0.0.1), SESSION_SECRET (default:
 * a random one per start, so sessions end when the demo restarts), REDIS_URL (default none: the
 * memory store; set it to keep sessions in Redis, shared by every demo process you start).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { redisStore } from '@sess/store-redis';
import { createApp } from './app.js';

const secret = process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url');
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);
const redisUrl = process.env.REDIS_URL;

// Fail fast while Redis is down instead of queueing commands (see @sess/store-redis's README).
const redis = redisUrl === undefined ? undefined : createClient({ url: redisUrl, disableOfflineQueue: true });
redis?.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis?.connect();

const store = redis === undefined ? undefined : redisStore({ client: redis, prefix: 'sess-demo:' });
const server = createApp({ secret, ...(store === undefined ? {} : { store }) }).listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(`sess demo (${redis === undefined ? 'memory store' : `Redis at ${redisUrl}`}) listening on http://${host}:${bound}/`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => void (redis?.quit() ?? Promise.resolve()).finally(() => process.exit(0))));
}
