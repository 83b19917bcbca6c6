/**
 * The session of the current request from anywhere inside it, without
 * passing `req` down: an `AsyncLocalStorage` per adapter, entered by its middleware. Opt-in,
 * because on Node 20 an active AsyncLocalStorage taxes every promise the request creates.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { SessUsageError } from './errors.js';

export interface SessionContext<T> {
  /** Runs `fn` with `session` as the current session, for everything `fn` starts. */
  run<R>(session: T, fn: () => R): R;
  /**
   * The current request's session.
   *
   * @throws SessUsageError outside a request, or when the middleware was set up without
   *   `asyncContext: true`.
   */
  get(): T;
}

/** @param owner - Named in the error, e.g. `'@sess/express'`. */
export function createSessionContext<T>(owner: string): SessionContext<T> {
  const storage = new AsyncLocalStorage<T>();
  return Object.freeze({
    run: <R>(session: T, fn: () => R): R => storage.run(session, fn),
    get(): T {
      const session = storage.getStore();
      if (session === undefined) {
        throw new SessUsageError(
          `getSession() was called outside a request handled by ${owner}'s session middleware with asyncContext: true`,
        );
      }
      return session;
    },
  });
}
