/**
 * h3 2 servers: bare, h3's own sealed-cookie `useSession`, sess (memory, Redis, and memory with
 * `asyncContext` read through `getSession()`).
 */
import type { RequestListener } from 'node:http';
import { H3, toNodeHandler, useSession as h3UseSession } from 'h3';
import type { H3Event, Middleware } from 'h3';
import { memoryStore } from '@sess/store-memory';
import { cookieSessions } from '@sess/core';
import type { SessionStorage } from '@sess/core';
import {
  FLOOR_COOKIE,
  FLOOR_LABEL,
  FLOOR_REDIS_LABEL,
  GET_SESSION_LABEL,
  floorContext,
  floorHeaders,
  floorWork,
  PRIME_DATA,
  SECRET,
  body,
} from '../scenarios.js';
import type { Scenario } from '../scenarios.js';
import { importOptional } from './optional.js';
import { clientRoundTrips, connectRedis, sessRedisStore } from './redis.js';
import type { RoundTrips } from './redis.js';

/** The session API both h3 flavours share, as far as the handlers use it. */
interface BenchSession {
  readonly data: Record<string, unknown>;
  update(update: Record<string, unknown>): Promise<unknown>;
}

type SessH3Session = BenchSession & { load(): Promise<void>; regenerate(): Promise<void> };

/** What the bench uses of @sess/h3 (typed here so the bench builds before it does). */
interface SessH3Module {
  session(options: { secret: string; store?: SessionStorage; asyncContext?: boolean }): Middleware;
  useSession(event: H3Event): Promise<SessH3Session>;
  getSession(): SessH3Session;
}

interface Flavour {
  readonly middleware?: Middleware;
  open(event: H3Event): Promise<BenchSession>;
  /** "Sign in": a new id where the library has one. */
  regenerate(event: H3Event): Promise<BenchSession>;
}

function h3Flavour(): Flavour {
  // h3's defaults otherwise (seal with PBKDF2, cookie named "h3" renamed to match the others).
  const config = { password: SECRET, name: 'sid' };
  const open = (event: H3Event) => h3UseSession(event, config) as unknown as Promise<BenchSession>;
  return {
    open,
    async regenerate(event) {
      // h3 has no regenerate: clear() then update() is the closest (a new sealed cookie).
      const session = await h3UseSession(event, config);
      await session.clear();
      return session as unknown as BenchSession;
    },
  };
}

async function sessFlavour(store: SessionStorage): Promise<Flavour> {
  const sess = await importOptional<SessH3Module>('@sess/h3', ['session', 'useSession']);
  return {
    middleware: sess.session({ secret: SECRET, store }),
    open: (event) => sess.useSession(event),
    async regenerate(event) {
      const session = await sess.useSession(event);
      await session.regenerate();
      return session;
    },
  };
}

/**
 * sess with `asyncContext: true`, the handlers reaching the session the way an app's helpers do:
 * `getSession()` with no event passed in, loaded before the first read (as the README says).
 */
async function getSessionFlavour(store: SessionStorage): Promise<Flavour> {
  const sess = await importOptional<SessH3Module>('@sess/h3', ['session', 'getSession']);
  async function currentSession(): Promise<SessH3Session> {
    const session = sess.getSession();
    await session.load();
    return session;
  }
  return {
    middleware: sess.session({ secret: SECRET, store, asyncContext: true }),
    open: () => currentSession(),
    async regenerate() {
      const session = await currentSession();
      await session.regenerate();
      return session;
    },
  };
}

/**
 * The floor: a middleware that calls on after one promise step, and a plain object as the session.
 * With `roundTrips` (`floor+redis`), the step is the round trips sess+redis makes on the route.
 */
function floorFlavour(roundTrips?: RoundTrips): Flavour {
  const session: BenchSession = { data: {}, update: async (update) => Object.assign(session.data, update) };
  const floor = floorContext(session);
  const open = async () => floor.session();
  const spin = floorWork();
  return {
    async middleware(event, next) {
      spin();
      if (FLOOR_COOKIE !== undefined)
        for (const [name, value] of floorHeaders(event.url.pathname, event.req.headers.get('cookie') !== null))
          event.res.headers.set(name, value);
      await roundTrips?.(event.url.pathname);
      return floor.run(next);
    },
    open,
    regenerate: open,
  };
}

async function flavour(scenario: Scenario): Promise<Flavour | undefined> {
  switch (scenario.id) {
    case 'h3/bare':
      return undefined;
    case `h3/${FLOOR_LABEL}`:
      return floorFlavour();
    case `h3/${FLOOR_REDIS_LABEL}`:
      return floorFlavour(await clientRoundTrips(await connectRedis()));
    case 'h3/useSession':
      return h3Flavour();
    case 'h3/sess+cookie':
      // Sealed (encrypted) data in the cookie, like useSession's.
      return sessFlavour(cookieSessions({ secret: SECRET }));
    case 'h3/sess+memory':
      return sessFlavour(memoryStore());
    case `h3/${GET_SESSION_LABEL}`:
      return getSessionFlavour(memoryStore());
    case 'h3/sess+redis':
      return sessFlavour(await sessRedisStore(await connectRedis()));
    default:
      throw new Error(`no h3 server for ${scenario.id}`);
  }
}

export async function h3Server(scenario: Scenario, onError: (error: unknown) => void): Promise<RequestListener> {
  const app = new H3({ onError: (error) => void onError(error) });
  const chosen = await flavour(scenario);
  if (chosen === undefined) {
    for (const path of ['/prime', '/read', '/write', '/new', '/regenerate']) app.get(path, () => body(0));
    return toNodeHandler(app) as RequestListener;
  }
  if (chosen.middleware !== undefined) app.use(chosen.middleware);
  app.get('/prime', async (event) => {
    const s = await chosen.open(event);
    await s.update({ ...PRIME_DATA });
    return body(s.data.views);
  });
  app.get('/read', async (event) => body((await chosen.open(event)).data.views));
  app.get('/write', async (event) => {
    const s = await chosen.open(event);
    const views = ((s.data.views as number | undefined) ?? 0) + 1;
    await s.update({ views });
    return body(views);
  });
  app.get('/new', async (event) => {
    await (await chosen.open(event)).update({ views: 1 });
    return body(1);
  });
  app.get('/regenerate', async (event) => {
    const s = await chosen.regenerate(event);
    await s.update({ user: 'alice' });
    return body(s.data.views);
  });
  return toNodeHandler(app) as RequestListener;
}
