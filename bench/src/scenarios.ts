/**
 * What the bench measures: servers (a framework plus a session implementation and its store) and
 * workloads (what each request does with the session). Shared by the runner and the servers.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export const FRAMEWORKS = ['express', 'koa', 'h3', 'fastify', 'hono'] as const;
export type Framework = (typeof FRAMEWORKS)[number];
/**
 * `bare`: no session middleware at all; `floor`: the session servers' middleware and routes with
 * no session work in them (see `FLOOR_LABEL`); `peer`: the framework's usual session library.
 */
export type Implementation = 'bare' | 'floor' | 'peer' | 'sess';
export type StoreKind = 'none' | 'memory' | 'cookie' | 'redis' | 'postgres';

export interface Scenario {
  /** `<framework>/<label>`, what `--only` matches and what every table shows. */
  readonly id: string;
  readonly framework: Framework;
  readonly impl: Implementation;
  readonly store: StoreKind;
  /** In `--quick` runs only these workloads (the CI smoke run stays short); full runs do all. */
  readonly quickWorkloads: readonly Workload[];
}

function scenario(
  framework: Framework,
  label: string,
  impl: Implementation,
  store: StoreKind,
  quickWorkloads: readonly Workload[] = QUICK_WORKLOADS,
): Scenario {
  return { id: `${framework}/${label}`, framework, impl, store, quickWorkloads };
}

/**
 * `sess+memory` with `asyncContext: true`, its handlers reaching the session through
 * `getSession()` from a helper instead of `req.session` / `ctx.session` / `useSession(event)`:
 * what the AsyncLocalStorage costs per request, held against `sess+memory` in the same run.
 */
export const GET_SESSION_LABEL = 'sess+memory+getSession';
/**
 * A middleware that waits one promise step and calls on, with the session servers' routes over
 * a plain object: what the framework itself charges for the shape of a server with an async
 * session middleware, before any session work. sess's cost above it is sess's own.
 */
export const FLOOR_LABEL = 'floor';
/**
 * The floor with the Redis client alone: before calling on, each request makes the Redis round
 * trips `sess+redis` makes on the same route, through the same client, with no session work. What
 * it adds over the floor is what the client itself costs a request (see `clientRoundTrips`).
 */
export const FLOOR_REDIS_LABEL = 'floor+redis';

/**
 * With `SESS_BENCH_FLOOR_SPIN_US=<n>` in the environment, each floor request first keeps the CPU
 * busy for n µs in plain JavaScript: a calibration. Its CPU per request over the plain floor
 * shows what n µs of work costs a request under the bench's load, so how much of what sess adds
 * is its own work and how much the load setup puts on top of any slower server. With
 * `SESS_BENCH_FLOOR_TOUCH_KB=<n>` each floor request also writes one byte in every 64 of the next
 * n KB of a 64 MB buffer, bringing that much memory the CPU's caches have not seen into them: what
 * the spin leaves out, to tell work from the caches it leaves cold for the kernel and the rest.
 */
export function floorWork(): () => void {
  const spinMs = Number(process.env.SESS_BENCH_FLOOR_SPIN_US ?? 0) / 1000;
  const touchBytes = Number(process.env.SESS_BENCH_FLOOR_TOUCH_KB ?? 0) * 1024;
  if (!(spinMs > 0) && !(touchBytes > 0)) return () => {};
  const memory = touchBytes > 0 ? new Uint8Array(64 << 20) : undefined;
  let at = 0;
  return () => {
    const started = performance.now();
    while (performance.now() - started < spinMs) {}
    if (memory === undefined) return;
    for (let end = at + touchBytes; at < end; at += 64) memory[at % memory.length]! += 1;
    at %= memory.length;
  };
}

/**
 * With `SESS_BENCH_FLOOR_HEADERS=1` in the environment, the floor's requests and responses carry
 * the headers sess's do, with no session work: its load sends a cookie of sess's name and size (a
 * 32-character id, a dot, a 43-character signature), and it answers `Vary: Cookie` to a request
 * with a cookie, and on `/new` and `/regenerate` also `Cache-Control: private` and a `Set-Cookie`
 * line of sess's length, all constant strings. A calibration: what a session's HTTP alone costs a
 * request (a longer request, reading its headers, more response headers to write), apart from the
 * code that makes and reads them.
 */
export const FLOOR_COOKIE = process.env.SESS_BENCH_FLOOR_HEADERS === '1' ? `sid=${'i'.repeat(32)}.${'s'.repeat(43)}` : undefined;

type Headers = readonly (readonly [string, string])[];
const NO_HEADERS: Headers = [];
const VARY: Headers = [['Vary', 'Cookie']];
const SIGN_IN: Headers = [
  ['Cache-Control', 'private'],
  ['Set-Cookie', `${FLOOR_COOKIE}; Max-Age=86400; Path=/; Expires=Sun, 06 Dec 2026 17:52:28 GMT; HttpOnly; SameSite=Lax`],
  ['Vary', 'Cookie'],
];

/**
 * The session headers the floor answers on `path` with `SESS_BENCH_FLOOR_HEADERS=1`. Servers call
 * it only when `FLOOR_COOKIE` is set: reading the request's Cookie header makes Node build its
 * header object, which the plain floor never does.
 */
export function floorHeaders(path: string | undefined, cookieSent: boolean): Headers {
  if (path === '/new' || path === '/regenerate') return SIGN_IN;
  return cookieSent ? VARY : NO_HEADERS;
}

/**
 * With `SESS_BENCH_FLOOR_ALS=1` in the environment, each floor request runs on inside an
 * AsyncLocalStorage and its routes reach their session through it, as `getSession()` does: a
 * calibration of what AsyncLocalStorage itself costs a request on this Node, with no session work.
 */
export function floorContext<T>(session: T): { run<R>(fn: () => R): R; session(): T } {
  if (process.env.SESS_BENCH_FLOOR_ALS !== '1') return { run: (fn) => fn(), session: () => session };
  const storage = new AsyncLocalStorage<T>();
  return { run: (fn) => storage.run(session, fn), session: () => storage.getStore() as T };
}

/**
 * Each workload is one route on every server. `sendsCookie`: whether the load generator sends
 * the primed session cookie.
 *
 * - read: loads the session and reads one key.
 * - write: loads the session and increments a counter, then saves it. The client keeps sending
 *   the primed cookie: store-backed sessions count up, cookie-mode peers (whose Set-Cookie the
 *   load generator ignores) write `views` = 2 each time; the work per request is the same.
 * - new: a first-time visitor (no cookie): first write, new record, Set-Cookie.
 * - regenerate: "sign in": regenerate the id, then write the user. The primed cookie's record dies
 *   on the first request, so every later request is the same "sign in from a stale cookie":
 *   verify the cookie, a store miss, a new id, one save, Set-Cookie (express-session also
 *   destroys the unsaved old id). That keeps the work per request identical across the run;
 *   the cost of deleting a live old record is left out (it would need a fresh cookie per request).
 *   Cookie-mode peers have no store: their static cookie stays valid, so every request reads
 *   the primed data, clears it and seals a new cookie (h3 has no regenerate: clear + update).
 */
export const WORKLOADS = ['read', 'write', 'new', 'regenerate'] as const;
export type Workload = (typeof WORKLOADS)[number];

/**
 * The workloads of a `--quick` run, on every server but Express's, Koa's and h3's `sess+memory`,
 * which run them all: the CI smoke run starts and checks every server on a read and a write,
 * walks every route, and stays short.
 */
export const QUICK_WORKLOADS: readonly Workload[] = ['read', 'write'];

export const SCENARIOS: readonly Scenario[] = [
  scenario('express', 'bare', 'bare', 'none'),
  scenario('express', FLOOR_LABEL, 'floor', 'none'),
  scenario('express', FLOOR_REDIS_LABEL, 'floor', 'redis'),
  scenario('express', 'express-session+memory', 'peer', 'memory'),
  scenario('express', 'express-session+connect-redis', 'peer', 'redis'),
  scenario('express', 'sess+memory', 'sess', 'memory', WORKLOADS),
  scenario('express', GET_SESSION_LABEL, 'sess', 'memory'),
  scenario('express', 'sess+redis', 'sess', 'redis'),
  scenario('express', 'express-session+connect-pg-simple', 'peer', 'postgres'),
  scenario('express', 'sess+postgres', 'sess', 'postgres'),
  scenario('koa', 'bare', 'bare', 'none'),
  scenario('koa', FLOOR_LABEL, 'floor', 'none'),
  scenario('koa', FLOOR_REDIS_LABEL, 'floor', 'redis'),
  scenario('koa', 'koa-session+cookie', 'peer', 'cookie'),
  scenario('koa', 'sess+cookie', 'sess', 'cookie'),
  scenario('koa', 'koa-session+redis', 'peer', 'redis'),
  scenario('koa', 'sess+memory', 'sess', 'memory', WORKLOADS),
  scenario('koa', GET_SESSION_LABEL, 'sess', 'memory'),
  scenario('koa', 'sess+redis', 'sess', 'redis'),
  scenario('h3', 'bare', 'bare', 'none'),
  scenario('h3', FLOOR_LABEL, 'floor', 'none'),
  scenario('h3', FLOOR_REDIS_LABEL, 'floor', 'redis'),
  scenario('h3', 'useSession', 'peer', 'cookie'),
  scenario('h3', 'sess+cookie', 'sess', 'cookie'),
  scenario('h3', 'sess+memory', 'sess', 'memory', WORKLOADS),
  scenario('h3', GET_SESSION_LABEL, 'sess', 'memory'),
  scenario('h3', 'sess+redis', 'sess', 'redis'),
  scenario('fastify', 'bare', 'bare', 'none'),
  scenario('fastify', '@fastify/session+memory', 'peer', 'memory'),
  scenario('fastify', 'sess+memory', 'sess', 'memory'),
  scenario('fastify', GET_SESSION_LABEL, 'sess', 'memory'),
  scenario('fastify', 'sess+redis', 'sess', 'redis'),
  // Hono has no first-party session library: no peer.
  scenario('hono', 'bare', 'bare', 'none'),
  scenario('hono', 'sess+memory', 'sess', 'memory'),
  scenario('hono', GET_SESSION_LABEL, 'sess', 'memory'),
  scenario('hono', 'sess+redis', 'sess', 'redis'),
];

export function scenarioById(id: string): Scenario {
  const found = SCENARIOS.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`unknown scenario ${JSON.stringify(id)}`);
  return found;
}

/** Whether `scenario` is measured on `workload` in this run. */
export function runsWorkload(scenario: Scenario, workload: Workload, quick: boolean): boolean {
  return !quick || scenario.quickWorkloads.includes(workload);
}

export function sendsCookie(workload: Workload): boolean {
  return workload !== 'new';
}

/** What `/prime` stores: a small, typical session (five keys). */
export const PRIME_DATA = { views: 1, user: 'alice', role: 'member', theme: 'dark', lang: 'en' } as const;

/** 48 bytes: sess refuses secrets under 32 bytes, h3 passwords under 32 characters. */
export const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** Every route answers this; `/read` after `/prime` must say `views=1` for a session server. */
export function body(views: unknown): string {
  return `views=${typeof views === 'number' ? views : 0}`;
}

/** Messages between the runner and a server child (over the IPC channel). */
export type ServerMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'unavailable'; readonly reason: string }
  | { readonly type: 'cpu'; readonly id: number; readonly micros: number }
  | { readonly type: 'queries'; readonly id: number; readonly count: number };

/** `cpu`: the server's CPU time so far; `queries`: the PostgreSQL queries its pool has sent so far. */
export type ParentMessage = { readonly type: 'cpu' | 'queries'; readonly id: number };
