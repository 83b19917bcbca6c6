/**
 * What the suites share: both Express majors, a server per test closed after it, a browser-like
 * client, warnings as they are emitted, and a callback store that counts its calls.
 */
import { createRequire } from 'node:module';
import express5 from 'express';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import express4 from 'express4';
import { Client, closedAfterEach, listen } from '@sess/adapter-test';
import session from '@sess/express-session';

export { Client, closedAfterEach, listen, session };

/** express-session's module, or this package: each is `session(options)` with its `MemoryStore`. */
export interface SessionModule {
  (options: object): RequestHandler;
  readonly MemoryStore: new () => { sessions: Record<string, string> };
  readonly Cookie: abstract new (...args: never[]) => object;
  readonly Store: new () => object;
}

/** The real peer and this package, for the suites that run one app on each. */
export const MODULES = [
  ['express-session', createRequire(import.meta.url)('express-session') as SessionModule],
  ['@sess/express-session', session as unknown as SessionModule],
] as const;

/** A secret of the recommended length, and one express-session accepts but sess warns about. */
export const SECRET = 'express-session-compat-secret-of-32-bytes';
export const SHORT_SECRET = 'keyboard cat';

export const EXPRESS = [
  ['Express 4', express4],
  ['Express 5', express5],
] as const;

export type ExpressFactory = typeof express5;

/** Answers an error with its message, so a test can read what reached Express. */
export const errorHandler = (error: Error & { statusHint?: number }, _req: Request, res: Response, _next: NextFunction) => {
  res.status(error.statusHint ?? 500).send(`error: ${error.message}`);
};

/** An app with the session middleware and `routes`, listening on a fresh port until the test ends. */
export async function serve(
  servers: ReturnType<typeof closedAfterEach>,
  express: ExpressFactory,
  options: session.SessionOptions,
  routes: (app: Express) => void,
  before: (app: Express) => void = () => {},
): Promise<{ url: string; client: Client; app: Express }> {
  const app = express();
  before(app);
  app.use(session(options));
  routes(app);
  app.use(errorHandler);
  const served = await listen(app);
  servers.push(served);
  return { url: served.url, client: new Client(served.url), app };
}

/** The session cookie's pair (`name=value`) in a reply's Set-Cookie, if any. */
export function sessionCookie(setCookies: readonly string[], name = 'connect.sid'): string | undefined {
  return setCookies.find((line) => line.startsWith(`${name}=`));
}

/** A MemoryStore (this package's, or the one given) that records which of its methods were called, in order. */
export function countingStore<S extends object = session.MemoryStore>(
  given: S = new session.MemoryStore() as unknown as S,
): S & { readonly calls: string[] } {
  const store = given as S & { calls: string[] } & Record<'get' | 'set' | 'destroy' | 'touch', (...args: unknown[]) => void>;
  store.calls = [];
  for (const method of ['get', 'set', 'destroy', 'touch'] as const) {
    const original = store[method].bind(store) as (...args: unknown[]) => void;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      store.calls.push(method);
      original(...args);
    };
  }
  return store;
}

/** Warnings emitted while `work` runs, by code. */
export async function warningsDuring(work: () => unknown): Promise<string[]> {
  const codes: string[] = [];
  const listener = (warning: Error & { code?: string }) => codes.push(warning.code ?? warning.name);
  process.on('warning', listener);
  try {
    await work();
    // process.emitWarning delivers on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return codes;
}

/** Every session the store holds, parsed, by id. */
export function recordsOf(store: session.MemoryStore): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(store.sessions).map(([id, json]) => [id, JSON.parse(json) as Record<string, unknown>]));
}
