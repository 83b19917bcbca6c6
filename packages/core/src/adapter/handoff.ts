/**
 * The two halves of sessions over a WebSocket every adapter offers: the socket's session, seen
 * through the adapter's own view, and the HTTP route that trades a hand-off token for the cookie.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpEffect } from '../effects.js';
import type { RequestFacts, Session, SessionManager } from '../session-api.js';
import type { SocketSession } from '../socket.js';
import { applyEffects, isSecure, nodeHeaders } from './facts.js';
import type { HeaderTarget } from './facts.js';

/**
 * What the hand-off route answers: 204 with the cookie to set, 400 (and nothing) for a bad token,
 * 403 (and nothing) for a request that is not from the app's own pages.
 */
export type HandoffAnswer =
  | { readonly status: 204; readonly effects: readonly HttpEffect[] }
  | { readonly status: 400 | 403; readonly effects: readonly [] };

/**
 * Whether a hand-off comes from the app's own pages, by the browser's `Sec-Fetch-Site`. A token
 * is a bearer credential: another site holding one for its own session (from its own socket)
 * could otherwise send the victim's browser to the route and sign it into that session (login
 * CSRF). A request without the header (a browser too old to send it, or no browser) passes.
 */
function fromOwnPage(fetchSite: string | string[] | null | undefined): boolean {
  return fetchSite === undefined || fetchSite === null || fetchSite === '' || fetchSite === 'same-origin';
}

/**
 * Exchanges a hand-off token for the session cookie, once: status 204 and the `cookie.set` effect,
 * 400 for a token that is unknown, used, older than a minute or not a token at all, or 403 when
 * the request's `Sec-Fetch-Site` (`fetchSite`, as received) says another site or the address bar
 * sent it (the token is left as it was).
 *
 * @throws SessStoreError when the store fails.
 */
export async function redeemHandoff(
  manager: SessionManager,
  token: unknown,
  fetchSite: string | string[] | null | undefined,
): Promise<HandoffAnswer> {
  if (!fromOwnPage(fetchSite)) return { status: 403, effects: [] };
  const effects = await manager.redeemHandoff(token);
  return effects.some((effect) => effect.type === 'cookie.set') ? { status: 204, effects } : { status: 400, effects: [] };
}

/**
 * The session of a WebSocket from its upgrade request's facts: `use(work)` hands `work` the
 * adapter's view of each run's session, persists changes with store effects only and returns a
 * `handoff` token when the browser needs a new cookie.
 */
export function socketSession<View>(manager: SessionManager, request: RequestFacts, view: (session: Session) => View): SocketSession<View> {
  const socket = manager.socket(request);
  return Object.freeze({ use: <T>(work: (session: View) => T | Promise<T>) => socket.use((session) => work(view(session))) });
}

/** What `session(...)` offers WebSocket apps beside the middleware (see the adapter's README, "WebSockets"). */
export interface SocketRoutes<Route, Upgrade extends unknown[], View> {
  /**
   * A route that exchanges a hand-off token (`?token=`) for the HttpOnly session cookie: 204 with
   * Set-Cookie, 400 for a token that is unknown, used or older than a minute, or 403 for a request
   * whose `Sec-Fetch-Site` is not `same-origin` (another site's page, or the address bar).
   */
  readonly handoff: Route;
  /**
   * The session of a WebSocket, from its upgrade request: `use(work)` runs `work` on the
   * session's view, persists changes with store effects only, and returns a `handoff` token when
   * the browser needs a new cookie (send it down the socket; the page posts it to `handoff`).
   */
  socket(...upgrade: Upgrade): SocketSession<View>;
}

/** The hand-off route's answer on a framework's response headers: the effects applied to `headers`, the status returned. @throws as `redeemHandoff` */
export async function handoffHeaders(
  manager: SessionManager,
  token: unknown,
  fetchSite: string | string[] | null | undefined,
  headers: HeaderTarget,
): Promise<HandoffAnswer['status']> {
  const { status, effects } = await redeemHandoff(manager, token, fetchSite);
  applyEffects(headers, effects);
  return status;
}

/** The hand-off route's answer as a Fetch `Response`. @throws as `redeemHandoff` */
export async function handoffResponse(manager: SessionManager, token: unknown, fetchSite: string | null | undefined): Promise<Response> {
  const headers = new Headers();
  const status = await handoffHeaders(manager, token, fetchSite, headers);
  return new Response(null, { status, headers });
}

/** The hand-off route's answer on a Node response, for the token in the request's `?token=`. @throws as `redeemHandoff` */
export async function handoffNode(manager: SessionManager, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = parsedUrl(req.url ?? '/')?.searchParams.get('token');
  res.statusCode = await handoffHeaders(manager, token, req.headers['sec-fetch-site'], nodeHeaders(res));
  res.end();
}

/**
 * The URL, or `undefined` where `new URL` would throw: Node's parser passes request targets such as
 * `http://[/`, and crossws builds an upgrade's URL from the Host header, so the client picks them.
 */
function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(url, 'http://localhost');
  } catch {
    return undefined;
  }
}

/** What a WebSocket upgrade request offers in Fetch style: crossws's `peer.request` (h3 v1 and v2). */
export interface UpgradeRequest {
  readonly url: string;
  readonly headers: { get(name: string): string | null };
}

/** `socketSession` for a Fetch-style upgrade request: secure for an `https:`/`wss:` URL, or what a trusted proxy says. */
export function upgradeSession<View>(
  manager: SessionManager,
  request: UpgradeRequest,
  trustProxy: boolean,
  view: (session: Session) => View,
): SocketSession<View> {
  const protocol = parsedUrl(request.url)?.protocol;
  const secure = isSecure(protocol === 'https:' || protocol === 'wss:', request.headers.get('x-forwarded-proto'), trustProxy);
  return socketSession(manager, { cookieHeader: request.headers.get('cookie') ?? undefined, secure }, view);
}
