/**
 * Starts the demo: `npm run demo` from the repository root, or `pnpm --filter sess-demo start`.
 * `npm run demo -- --help` prints the options (USAGE below).
 */
import { randomBytes } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createDemo } from './demo.js';
import { type FrameworkName, frameworks } from './frameworks/index.js';
import { STORES, StartupError, type StoreKind, openStore } from './stores.js';

const USAGE = `usage: npm run demo -- [--framework ${Object.keys(frameworks).join('|')}] [--store ${STORES.join('|')}]

  --framework    or FRAMEWORK; default express
  --store        or STORE; default redis when REDIS_URL is set, else postgres when
                 DATABASE_URL is set, else memory
  REDIS_URL      the Redis for --store redis (redis://127.0.0.1:6379)
  DATABASE_URL   the PostgreSQL for --store postgres (postgres://postgres@127.0.0.1:5432/test)
  PORT, HOST     where to listen; default 127.0.0.1:3000 (PORT=0 picks a free port)
  SESSION_SECRET at least 32 bytes; default a random one per start, so sessions end with the demo`;

const MAKE_SECRET = `node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`;

interface Settings {
  readonly framework: FrameworkName;
  readonly store: StoreKind;
  readonly url: string | undefined;
  readonly port: number;
  readonly host: string;
  readonly secret: string;
}

/** `value` if it is one of `choices`; otherwise a StartupError naming where it came from and the choices. */
function oneOf<T extends string>(value: string, choices: readonly T[], where: string): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new StartupError(`unknown ${where} "${value}": pick one of ${choices.join(', ')}`);
}

function settingsFrom(args: string[], env: NodeJS.ProcessEnv): Settings {
  const options = { framework: { type: 'string' }, store: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
  let values: { framework?: string; store?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args, options }));
  } catch (error) {
    throw new StartupError(`${(error as Error).message}\n${USAGE}`);
  }
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  // An empty variable counts as unset, as shells often leave them.
  const variable = (name: string) => env[name] || undefined;
  const framework = oneOf(values.framework ?? variable('FRAMEWORK') ?? 'express', Object.keys(frameworks) as FrameworkName[], 'framework');
  const inferred = variable('REDIS_URL') !== undefined ? 'redis' : variable('DATABASE_URL') !== undefined ? 'postgres' : 'memory';
  const store = oneOf(values.store ?? variable('STORE') ?? inferred, STORES, 'store');
  const secret = variable('SESSION_SECRET') ?? randomBytes(32).toString('base64url');
  // sess refuses it too, but its message can't know the secret came from SESSION_SECRET.
  if (Buffer.byteLength(secret) < 32) throw new StartupError(`SESSION_SECRET must be at least 32 bytes; make one with: ${MAKE_SECRET}`);
  const port = Number(variable('PORT') ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new StartupError(`PORT must be a port number (0 picks a free one), got "${env.PORT}"`);
  return {
    framework,
    store,
    url: store === 'redis' ? variable('REDIS_URL') : store === 'postgres' ? variable('DATABASE_URL') : undefined,
    port,
    host: variable('HOST') ?? '127.0.0.1',
    secret,
  };
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new StartupError(`port ${port} is in use: set PORT to another (0 picks a free one)`) : error),
    );
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2), process.env);
  const opened = await openStore(settings.store, settings.url);
  const framework = frameworks[settings.framework];
  const about = `${framework.name} with ${opened.label}`;
  const demo = createDemo({ store: opened.store, about });
  const server = createServer(await framework.app({ secret: settings.secret, store: opened.store, demo }));
  const { port } = await listen(server, settings.port, settings.host);
  console.log(`sess demo: ${about}, listening on http://${settings.host}:${port}/`);

  // Stop taking requests, let those in flight finish, then let go of the store's connections.
  const stop = () => server.close(() => void opened.close().finally(() => process.exit(0)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  // A start-up error says what to fix in one line; anything else is a bug, shown in full.
  if (error instanceof StartupError) console.error(`sess demo: ${error.message}`);
  else console.error('sess demo: could not start:', error);
  process.exit(1);
});
