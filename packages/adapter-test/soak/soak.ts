/**
 * Bounded soak: each adapter (Express 5, Koa 3, h3 v2) on the memory store and on Redis, under
 * mixed reads, writes, regenerates and destroys from many simulated browsers, each with its own
 * cookie jar and its own count of the writes it made. Not a unit test: run it by hand or from
 * scripts/verify.sh with a short duration.
 *
 *   pnpm --filter @sess/adapter-test soak -- --duration 60 [--clients 50] [--adapters express,koa,h3] [--stores memory,redis]
 *
 * Each server runs in its own child process (started with --expose-gc), so its memory is the
 * server's alone. Redis: `REDIS_URL` (default redis://127.0.0.1:6379), keys under a random
 * prefix that is cleared at the end. Exit code 1 on any error, any lost write, or (runs of
 * 30 s and more) heap growth past the tolerance; 2 on bad arguments. `SOAK_DROP_EVERY=k` makes
 * the servers drop every k-th write (answering as if saved): the run must then fail.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, listen } from '../src/client.js';
import type { Served } from '../src/client.js';

const ADAPTERS = ['express', 'koa', 'h3'] as const;
const STORES = ['memory', 'redis'] as const;
type Adapter = (typeof ADAPTERS)[number];
type StoreKind = (typeof STORES)[number];

const SECRET = 'soak-secret-of-at-least-thirty-two-bytes!';
const PACKAGES = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Heap after a forced GC may grow this much between warm-up end and the end of the run. */
const HEAP_TOLERANCE_BYTES = 8 * 1024 * 1024;
const HEAP_TOLERANCE_RATIO = 0.25;
/** Below this, warm-up is too short for the heap comparison to mean anything: printed, not judged. */
const JUDGE_HEAP_FROM_S = 30;

/** Imports `specifier` as the package at `packages/<owner>` resolves it (frameworks are its deps, not ours). */
async function importFrom<T>(owner: string, specifier: string): Promise<T> {
  const require = createRequire(join(PACKAGES, owner, 'package.json'));
  let resolved: string;
  try {
    resolved = require.resolve(specifier);
  } catch {
    // ESM-only packages (h3 v2) have no `require` condition: find their package.json and entry.
    const manifestPath = require.resolve(`${specifier}/package.json`);
    const manifest = require(manifestPath) as {
      exports?: { '.': { import?: string; default?: string } | string };
      module?: string;
      main?: string;
    };
    const dot = manifest.exports?.['.'];
    const entry = typeof dot === 'string' ? dot : (dot?.import ?? dot?.default ?? manifest.module ?? manifest.main ?? 'index.js');
    resolved = join(dirname(manifestPath), typeof entry === 'string' ? entry : 'index.js');
  }
  return (await import(pathToFileURL(resolved).href)) as T;
}

/** An adapter or store package as built (`pnpm turbo run build` first). */
async function importBuilt<T>(pkg: string): Promise<T> {
  return (await import(pathToFileURL(join(PACKAGES, pkg, 'dist', 'index.js')).href)) as T;
}

// ---------------------------------------------------------------------------------------------
// Server side (child process)
// ---------------------------------------------------------------------------------------------

interface SessionLike {
  n?: number;
}

/**
 * Self-test of the soak's own accounting: `SOAK_DROP_EVERY=k` makes every k-th write answer as
 * if it had saved, without touching the session, so the run must report lost writes.
 */
const DROP_EVERY = Number(process.env['SOAK_DROP_EVERY'] ?? 0);
let writesSeen = 0;
/** The `/write` route's work: `n + 1`, unless this write is one the self-test drops. */
function bump(session: SessionLike): string {
  const next = (session.n ?? 0) + 1;
  writesSeen += 1;
  if (DROP_EVERY > 0 && writesSeen % DROP_EVERY === 0) return String(next);
  session.n = next;
  return String(next);
}

/** A store to hand the adapter, and how to clean up after it. */
async function makeStore(kind: StoreKind): Promise<{ store: unknown; close(): Promise<void> }> {
  if (kind === 'memory') {
    const { memoryStore } = await import('@sess/store-memory');
    const store = memoryStore();
    return { store, close: () => store.close() };
  }
  const { createClient } = await importFrom<{ createClient(options: object): RedisClient }>('store-redis', 'redis');
  const { redisStore } = await importBuilt<{ redisStore(options: object): { clear(): Promise<void> } }>('store-redis');
  const client = createClient({ url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', disableOfflineQueue: true });
  client.on('error', (error: unknown) => console.error('redis client error:', error));
  await client.connect();
  const store = redisStore({ client, prefix: `sess-soak:${randomBytes(6).toString('hex')}:` });
  return {
    store,
    async close() {
      await store.clear();
      await client.quit();
    },
  };
}

interface RedisClient {
  on(event: 'error', listener: (error: unknown) => void): void;
  connect(): Promise<unknown>;
  quit(): Promise<unknown>;
}

type Listener = Parameters<typeof listen>[0];

async function expressApp(store: unknown): Promise<Listener> {
  type Req = { session: SessionLike & { regenerate(options: { keepData: boolean }): Promise<void>; destroy(): Promise<void> } };
  type Res = { send(body: string): void; status(code: number): Res };
  type Handler = (req: Req, res: Res, next: (error?: unknown) => void) => void;
  type App = Listener & {
    use(...handlers: unknown[]): void;
    get(path: string, handler: Handler): void;
    post(path: string, handler: Handler): void;
  };
  const { default: express } = await importFrom<{ default: () => App }>('express', 'express');
  const { session } = await importBuilt<{ session(options: object): unknown }>('express');
  const app = express();
  app.use(session({ secret: SECRET, store }));
  const async =
    (work: (req: Req, res: Res) => Promise<void>): Handler =>
    (req, res, next) =>
      void work(req, res).catch(next);
  app.get('/read', (req, res) => res.send(String(req.session.n ?? 0)));
  app.post('/write', (req, res) => res.send(bump(req.session)));
  app.post(
    '/regenerate',
    async(async (req, res) => {
      // Kept, as on Koa and h3: @sess/express's regenerate() empties the session by default.
      await req.session.regenerate({ keepData: true });
      res.send(String(req.session.n ?? 0));
    }),
  );
  app.post(
    '/destroy',
    async(async (req, res) => {
      await req.session.destroy();
      res.send('0');
    }),
  );
  app.use((_error: unknown, _req: Req, res: Res, _next: unknown) => res.status(500).send('error'));
  return app;
}

async function koaApp(store: unknown): Promise<Listener> {
  type Ctx = { method: string; path: string; body: unknown; session: (SessionLike & { regenerate(): Promise<void> }) | null };
  type App = { silent: boolean; use(middleware: unknown): void; callback(): Listener };
  const { default: Koa } = await importFrom<{ default: new () => App }>('koa', 'koa');
  const { session } = await importBuilt<{ session(options: object): unknown }>('koa');
  const app = new Koa();
  app.silent = true;
  app.use(session({ secret: SECRET, store }));
  app.use(async (ctx: Ctx) => {
    const s = ctx.session as SessionLike & { regenerate(): Promise<void> };
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'GET /read') ctx.body = String(s.n ?? 0);
    else if (route === 'POST /write') ctx.body = bump(s);
    else if (route === 'POST /regenerate') {
      await s.regenerate();
      ctx.body = String(s.n ?? 0);
    } else if (route === 'POST /destroy') {
      ctx.session = null;
      ctx.body = '0';
    }
  });
  return app.callback();
}

async function h3App(store: unknown): Promise<Listener> {
  type H3Session = { data: SessionLike; regenerate(): Promise<void>; destroy(): Promise<void> };
  type App = { use(middleware: unknown): void; on(method: string, path: string, handler: (event: unknown) => unknown): void };
  const { H3, toNodeHandler } = await importFrom<{ H3: new (options: object) => App; toNodeHandler(app: App): Listener }>('h3', 'h3');
  const { session, useSession } = await importBuilt<{ session(options: object): unknown; useSession(event: unknown): Promise<H3Session> }>(
    'h3',
  );
  const app = new H3({ silent: true });
  app.use(session({ secret: SECRET, store }));
  app.on('GET', '/read', async (event) => String((await useSession(event)).data.n ?? 0));
  app.on('POST', '/write', async (event) => {
    return bump((await useSession(event)).data);
  });
  app.on('POST', '/regenerate', async (event) => {
    const s = await useSession(event);
    await s.regenerate();
    return String(s.data.n ?? 0);
  });
  app.on('POST', '/destroy', async (event) => {
    await (await useSession(event)).destroy();
    return '0';
  });
  return toNodeHandler(app);
}

type ToChild = { type: 'memory' } | { type: 'stop' };
type FromChild =
  | { type: 'ready'; url: string }
  | { type: 'memory'; rss: number; heapUsed: number }
  | { type: 'stopped' }
  | { type: 'failed'; message: string };

async function serve(adapter: Adapter, kind: StoreKind): Promise<void> {
  const send = (message: FromChild) => process.send?.(message);
  let cleanUp = async () => undefined as void;
  let stopping = false;
  // The load side went away (killed, crashed): clear the Redis prefix, then don't outlive it.
  process.on('disconnect', () => {
    if (stopping) return;
    const bound = setTimeout(() => process.exit(1), 2_000);
    void cleanUp().finally(() => {
      clearTimeout(bound);
      process.exit(1);
    });
  });
  try {
    const { store, close } = await makeStore(kind);
    cleanUp = close;
    const handler = await { express: expressApp, koa: koaApp, h3: h3App }[adapter](store);
    const served: Served = await listen(handler);
    process.on('message', (message: ToChild) => {
      if (message.type === 'memory') {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        gc?.();
        const { rss, heapUsed } = process.memoryUsage();
        send({ type: 'memory', rss, heapUsed });
      } else {
        stopping = true;
        void (async () => {
          await served.close();
          await close();
          send({ type: 'stopped' });
          process.disconnect();
        })();
      }
    });
    send({ type: 'ready', url: served.url });
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
    process.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Load side (parent process)
// ---------------------------------------------------------------------------------------------

class ServerProcess {
  private readonly waiting = new Map<FromChild['type'], Array<(message: FromChild) => void>>();
  private constructor(readonly child: ChildProcess) {
    child.on('message', (message: FromChild) => {
      const queue = this.waiting.get(message.type) ?? this.waiting.get('failed');
      queue?.shift()?.(message);
    });
  }

  static async start(adapter: Adapter, kind: StoreKind): Promise<{ server: ServerProcess; url: string }> {
    const child = fork(fileURLToPath(import.meta.url), ['--serve', adapter, kind], {
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const server = new ServerProcess(child);
    const first = await Promise.race([server.next('ready'), server.next('failed'), server.exited()]);
    if (first.type !== 'ready')
      throw new Error(`${adapter}/${kind} server did not start: ${first.type === 'failed' ? first.message : 'exited'}`);
    return { server, url: first.url };
  }

  private next<T extends FromChild['type']>(type: T): Promise<Extract<FromChild, { type: T }>> {
    return new Promise((resolve) => {
      const queue = this.waiting.get(type) ?? [];
      queue.push(resolve as (message: FromChild) => void);
      this.waiting.set(type, queue);
    });
  }

  private exited(): Promise<{ type: 'exited' }> {
    return new Promise((resolve) => this.child.once('exit', () => resolve({ type: 'exited' })));
  }

  async memory(): Promise<{ rss: number; heapUsed: number }> {
    const reply = this.next('memory');
    this.child.send({ type: 'memory' } satisfies ToChild);
    return reply;
  }

  async stop(): Promise<void> {
    const exited = this.exited();
    const stopped = this.next('stopped');
    this.child.send({ type: 'stop' } satisfies ToChild);
    await Promise.race([stopped, exited]);
    await exited;
  }
}

interface Tally {
  requests: number;
  errors: number;
  lostWrites: number;
  writes: number;
  regenerates: number;
  destroys: number;
  firstProblem?: string;
}

/** One browser: its own jar and the value its session must hold, given the writes it made. */
async function browse(url: string, until: number, tally: Tally, random: () => number): Promise<void> {
  const client = new Client(url);
  let expected = 0;
  const problem = (kind: 'errors' | 'lostWrites', text: string) => {
    tally[kind] += 1;
    tally.firstProblem ??= text;
  };
  const step = async (method: 'GET' | 'POST', path: string, want: number) => {
    tally.requests += 1;
    let reply: Awaited<ReturnType<typeof client.request>>;
    try {
      reply = await client.request(path, { method });
    } catch (error) {
      problem('errors', `${method} ${path}: ${String(error)}`);
      return;
    }
    if (reply.status !== 200) problem('errors', `${method} ${path}: status ${reply.status} ${reply.body.slice(0, 80)}`);
    else if (reply.body !== String(want)) problem('lostWrites', `${method} ${path}: expected ${want}, got ${reply.body}`);
  };
  while (Date.now() < until) {
    const roll = random();
    if (roll < 0.5) await step('GET', '/read', expected);
    else if (roll < 0.85) {
      expected += 1;
      tally.writes += 1;
      await step('POST', '/write', expected);
    } else if (roll < 0.95) {
      tally.regenerates += 1;
      await step('POST', '/regenerate', expected);
    } else {
      tally.destroys += 1;
      expected = 0;
      await step('POST', '/destroy', 0);
    }
  }
  // The last word: what the store holds for this browser equals the writes it made.
  await step('GET', '/read', expected);
}

/** A small seeded PRNG (mulberry32) so a run's mix can be replayed with --seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function soakOne(adapter: Adapter, kind: StoreKind, durationS: number, clients: number, seed: number): Promise<boolean> {
  const label = `${adapter.padEnd(7)} ${kind.padEnd(6)}`;
  const { server, url } = await ServerProcess.start(adapter, kind);
  const tally: Tally = { requests: 0, errors: 0, lostWrites: 0, writes: 0, regenerates: 0, destroys: 0 };
  try {
    const started = Date.now();
    const until = started + durationS * 1000;
    const warmUpMs = Math.min(10_000, durationS * 200);
    const random = prng(seed);
    const browsers = Array.from({ length: clients }, () => browse(url, until, tally, prng(Math.floor(random() * 2 ** 32))));
    const warm = await new Promise<{ rss: number; heapUsed: number }>((resolve, reject) => {
      setTimeout(() => server.memory().then(resolve, reject), warmUpMs);
    });
    await Promise.all(browsers);
    const end = await server.memory();
    const elapsedS = (Date.now() - started) / 1000;
    const growth = end.heapUsed - warm.heapUsed;
    const allowed = Math.max(HEAP_TOLERANCE_BYTES, warm.heapUsed * HEAP_TOLERANCE_RATIO);
    const judged = durationS >= JUDGE_HEAP_FROM_S;
    const heapOk = growth <= allowed;
    const ok = tally.errors === 0 && tally.lostWrites === 0 && (!judged || heapOk);
    console.log(
      `${ok ? 'ok  ' : 'FAIL'} ${label} ${tally.requests} requests (${(tally.requests / elapsedS).toFixed(0)}/s; ${tally.writes} writes, ` +
        `${tally.regenerates} regenerates, ${tally.destroys} destroys), ${tally.errors} errors, ${tally.lostWrites} lost writes; ` +
        `heapUsed ${mb(warm.heapUsed)} -> ${mb(end.heapUsed)} (${growth >= 0 ? '+' : ''}${mb(growth)}, allowed +${mb(allowed)}${judged ? '' : `, not judged under ${JUDGE_HEAP_FROM_S} s`}), ` +
        `rss ${mb(warm.rss)} -> ${mb(end.rss)}`,
    );
    if (tally.firstProblem !== undefined) console.log(`     first problem: ${tally.firstProblem}`);
    return ok;
  } finally {
    await server.stop();
  }
}

function list<T extends string>(value: string, allowed: readonly T[], option: string): T[] {
  const items = value.split(',').map((item) => item.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      console.error(`--${option}: unknown ${JSON.stringify(item)} (allowed: ${allowed.join(', ')})`);
      process.exit(2);
    }
  }
  return items as T[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    // `pnpm soak -- --duration 5` passes the `--` through; it would turn every option into a positional.
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: {
      serve: { type: 'boolean' },
      duration: { type: 'string', default: '60' },
      clients: { type: 'string', default: '50' },
      adapters: { type: 'string', default: ADAPTERS.join(',') },
      stores: { type: 'string', default: STORES.join(',') },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    },
    allowPositionals: true,
    strict: false,
  });
  if (values.serve === true) {
    const [adapter, kind] = process.argv.slice(process.argv.indexOf('--serve') + 1);
    return serve(adapter as Adapter, kind as StoreKind);
  }
  const durationS = Number(values.duration);
  const clients = Number(values.clients);
  const seed = Number(values.seed);
  if (!(durationS > 0) || !Number.isInteger(clients) || clients < 1 || !Number.isInteger(seed)) {
    console.error('usage: soak.ts [--duration seconds] [--clients n] [--adapters express,koa,h3] [--stores memory,redis] [--seed n]');
    process.exit(2);
  }
  const adapters = list(String(values.adapters), ADAPTERS, 'adapters');
  const stores = list(String(values.stores), STORES, 'stores');
  console.log(`soak: ${durationS} s per server, ${clients} clients, seed ${seed}; Express 5, Koa 3, h3 v2`);
  let failed = false;
  for (const adapter of adapters) {
    for (const kind of stores) {
      try {
        if (!(await soakOne(adapter, kind, durationS, clients, seed))) failed = true;
      } catch (error) {
        failed = true;
        console.log(`FAIL ${adapter} ${kind}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  console.log(failed ? 'soak: FAILED' : 'soak: passed');
  process.exitCode = failed ? 1 : 0;
}

await main();
