/**
 * @sess/core: the session lifecycle as a pure machine whose effects are data, plus the cookie
 * codec, signing, ids, the store contract and the runner. Three steps, as h11:
 * 1. `createSessionManager(options)` once; `manager.begin(requestFacts)` per request.
 * 2. Feed the app's calls (`get`, `set`, `regenerate`, ...) to the session it returns.
 * 3. `await session.commit(responseFacts)` before the headers leave, and apply the HTTP effects.
 */
export { createSessionManager } from './manager.js';
export type { RequestFacts, ResponseFacts, Session, SessionCookieOptions, SessionManager, SessionManagerOptions } from './manager.js';
export type { CookieEffect, Effect, HttpEffect, StoreEffect } from './effects.js';
export { hashId } from './session-events.js';
export { HANDOFF_TTL_MS } from './socket.js';
export type { SocketOutcome, SocketSession } from './socket.js';
export type { StandardSchemaV1 } from './schema.js';
export type { SessionEvent } from './session-events.js';
export { assertNever, setCookieLine } from './effects.js';
export { serializeCookie, serializeDeletion } from './cookie.js';
export type { CookieAttributes } from './cookie.js';
export { checkStorage, cookieSessions, isCookieSessions } from './cookie-sessions.js';
export type {
  CookieSessionCodec,
  CookieSessions,
  CookieSessionsOptions,
  SealMode,
  SealedSession,
  SessionStorage,
} from './cookie-sessions.js';
export { createSigner } from './sign.js';
export type { Signer, VerifiedCookie } from './sign.js';
export { generateId, isWellFormedId } from './ids.js';
export { checkFunction, checkOneOf, checkOptionKeys, checkStoreShape, describeValue } from './options-check.js';
export { SessConfigError, SessError, SessStoreError, SessUsageError } from './errors.js';
export type { SessErrorCode, StoreOperation } from './errors.js';
export type {
  Awaitable,
  ExpirySetting,
  RevokeUserOptions,
  SessionChanges,
  SessionData,
  SessionMeta,
  SessionRecord,
  Store,
  StoreCapabilities,
  UserSession,
} from './store.js';
