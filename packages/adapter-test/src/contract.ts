/**
 * What an adapter's harness provides: an app with the routes below, built from the options the
 * suite passes, served over real HTTP. Routes answer with a short text body and status 200
 * unless said otherwise; "views" and "user" are session keys.
 *
 * | route | does |
 * |---|---|
 * | `GET /plain` | never touches the session; body `plain` |
 * | `GET /count` | `views = (views ?? 0) + 1`; body `views <n>` |
 * | `GET /read` | reads `views`; body its value or `0` |
 * | `POST /login` | `regenerate()`, then `user = 'ada'`; body the new id |
 * | `GET /me` | body `user` or `nobody` |
 * | `POST /logout` | `destroy()` (the adapter's idiom); body `bye` |
 * | `POST /clear` | removes every key; body `cleared` |
 * | `POST /save` | `save()` without changing anything; body `saved` |
 * | `POST /reload` | `views = 99`, then `reload()`; body `views` after the reload |
 * | `GET /touch` | `touch()`; body `touched` |
 * | `GET /boom` | `views += 1`, then answers status 500 without throwing; body `boom` |
 * | `GET /throw` | `views += 1`, then throws an Error (the framework answers 500) |
 * | `GET /expiry/:seconds` | `views += 1`, then `setExpiry(seconds)` (`0`: browser session) |
 * | `GET /test-cookie/set` | `setTestCookie()` |
 * | `GET /test-cookie/check` | body `true` or `false` from `testCookieWorked()` |
 * | `GET /test-cookie/delete` | `deleteTestCookie()` |
 * | `GET /app-cookie` | `views += 1`, then the app appends `Set-Cookie: <name>=from-app; Path=/` itself |
 * | `GET /cache-control` | `views += 1`, then the app sets `Cache-Control: no-store` |
 * | `GET /public-cache` | `views += 1`, then the app sets `Cache-Control: public, max-age=60, s-maxage=600` |
 * | `GET /basket` | reads `basket` and leaves it as it is; body `basket ` and its `items` joined by `,` (`basket 1,2`), or `no basket` |
 * | `GET /basket/add` | reads `basket`: without one, sets `basket = { items: ['1'] }`; with one, pushes `String(items.length + 1)` onto the `items` it read, in place, assigning nothing; body as `GET /basket` |
 * | `GET /basket/boom` | reads `basket`, pushes `'boom'` onto its `items` in place, then answers status 500 without throwing; body `boom` |
 *
 * The `basket` routes read and write through the adapter's usual data API (`req.session.basket`,
 * `ctx.session.basket`, `s.data.basket`, `request.session.get('basket')`): a change made inside a
 * value read that way must be saved as an assigned one is.
 */
import type { SessionStorage } from '@sess/core';

/** Options the suite starts an app with; the harness maps them onto its adapter's options. */
/** The Cache-Control `GET /public-cache` sets: what a shared cache may store, which a response setting a session cookie must not be. */
export const PUBLIC_CACHE = 'public, max-age=60, s-maxage=600';

export interface AdapterOptions {
  /** One secret or several (rotation: the first signs, all verify); the adapter's `secret`. */
  readonly secret: string | readonly string[];
  /** A server-side store, or `cookieSessions(...)` for the cookie-session run of the suite. */
  readonly store: SessionStorage;
  /** Epoch ms; the adapter must pass it to the core (its `clock` option). */
  readonly clock: () => number;
  /** Cookie name; the adapter's default is `sid` and the suite assumes it when absent. */
  readonly name?: string;
  readonly rolling?: boolean;
  readonly idleTimeoutMs?: number;
  readonly absoluteTimeoutMs?: number;
  readonly cookie?: { readonly path?: string; readonly domain?: string };
  /**
   * Trust `X-Forwarded-Proto` for `secure: 'auto'` (Express `proxy`/`trust proxy`, Koa
   * `app.proxy`, h3 `proxy`). `false` or absent: only the connection counts.
   */
  readonly trustProxy?: boolean;
  /** Give up on a store call after this many ms (the adapter's `storeTimeoutMs`). */
  readonly storeTimeoutMs?: number;
  /** After `regenerate()`, the old id answers reads for this many ms (the adapter's `regenerateGraceMs`). */
  readonly regenerateGraceMs?: number;
}

/** Ids of cases an adapter may declare in `knownBugs`. */
export type KnownBug = 'sign-out-cookie-kept-on-failed-destroy';

export interface StartedApp {
  readonly url: string;
  close(): Promise<void>;
}

export interface AdapterHarness {
  /** Shown in the describe title: `adapter conformance: ${name}`. */
  readonly name: string;
  /** Builds the app with the contract's routes and serves it on loopback. */
  start(options: AdapterOptions): Promise<StartedApp>;
  /**
   * Run the long adversarial cases in full on this major (10,000 forged cookies instead of
   * 1,000). Set it on one major per framework so the whole suite stays fast.
   */
  readonly heavy?: boolean;
  /**
   * Cases this adapter is known to fail, by the id the case file gives them (see
   * `KnownBug`): they run as `it.fails`, so the run stays green while the bug stays visible and
   * the case turns red the day it is fixed. Each entry needs a `// BUG:` comment where it is set.
   */
  readonly knownBugs?: readonly KnownBug[];
}
