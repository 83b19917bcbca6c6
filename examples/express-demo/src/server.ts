/**
 * Starts the demo: `pnpm demo` (or `npm run demo` from the repository root).
 * PORT (default 3000, 0 for any free port), HOST (default 127.0.0.1), SESSION_SECRET (default:
 * a random one per start, so sessions end when the demo restarts).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';

const secret = process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url');
const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);

const server = createApp({ secret }).listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  console.log(`sess demo (memory store) listening on http://${host}:${bound}/`);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
