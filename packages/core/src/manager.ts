/**
 * `createSessionManager`: the options validated once into a config, and a manager that starts
 * each request's session, WebSocket sessions and hand-offs from it.
 */
import { readCookie } from './cookie.js';
import { SessUsageError } from './errors.js';
import { generateId } from './ids.js';
import { createConfig } from './options.js';
import type { SessionManagerOptions } from './options.js';
import { RequestSession } from './session.js';
import type { RequestFacts, SessionManager } from './session-api.js';
import { createHandoffs, createSocketSession } from './socket.js';

export type { SessionCookieOptions, SessionManagerOptions } from './options.js';
export type { RequestFacts, ResponseFacts, Session, SessionManager } from './session-api.js';

/**
 * Validates the options once and returns a manager whose `begin` starts each request's session.
 *
 * @throws SessConfigError for a missing store, a secret shorter than 32 bytes, a bad number, or
 *   cookie options browsers would refuse (code `cookie_invalid`).
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const config = createConfig(options);
  const { name } = config;
  // Tokens always come from the CSPRNG generator, whatever `generateId` the app chose for ids.
  const { store } = config.storage;
  const handoffs = store === undefined ? undefined : createHandoffs(store, config.clock, config.deadlines, generateId);
  return Object.freeze({
    name,
    store: options.store,
    begin: (request: RequestFacts) => new RequestSession(config, request),
    socket: (request: RequestFacts) => {
      if (handoffs === undefined) {
        // A cookie session changed on a socket could only reach the browser through a hand-off
        // parked on the server, and cookie sessions keep nothing there.
        throw new SessUsageError('WebSocket sessions need a server-side store; cookie sessions have none');
      }
      return createSocketSession(
        name,
        readCookie(request.cookieHeader, name),
        (cookieHeader) => new RequestSession(config, { cookieHeader, secure: request.secure }),
        handoffs.park,
      );
    },
    // With nothing parked on the server, every token is unknown.
    redeemHandoff: handoffs?.redeem ?? (() => Promise.resolve([])),
  });
}
