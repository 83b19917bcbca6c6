/**
 * @sess/core/adapter: the kit every sess adapter is built from, for adapter authors. An adapter
 * has three jobs: read the request's facts, choose the commit moment, and apply the HTTP effects
 * (`applyEffects` on its response's headers, or an exhaustive `switch (effect.type)` of its own
 * over its framework's response API). Everything else it would otherwise write again is
 * here, once: the shared options (types, checks, mapping to the core's), secure-request and
 * Set-Cookie facts, the output hold for Node responses, the session view, the WebSocket hand-off
 * and the error mapping.
 */
export {
  COOKIE_OPTIONS,
  SHARED_OPTIONS,
  WEB_HINTS,
  WEB_OPTIONS,
  checkObject,
  checkOptions,
  configureWeb,
  cookieOptions,
  coreOptions,
  createManager,
  defined,
  lifetimeExpiry,
  lifetimeMs,
  lifetimeOptions,
} from './options.js';
export type {
  CheckAdvice,
  CookieOptions,
  NestedOptions,
  OptionCheck,
  OptionSpec,
  OptionTable,
  SharedOptions,
  WebDefaults,
  WebOptions,
} from './options.js';
/** The longest lifetime sess takes (400 days, the most a browser keeps a cookie) and the shortest a cookie can carry (1 s). */
export { DEFAULT_MAX_AGE_MS, MAX_LIFETIME_MS, MIN_COOKIE_LIFETIME_MS } from '../options.js';
export { COOKIE_ATTRIBUTES, assertAttributeKept, fixedAttributes, setLifetimeMs, setLifetimeUntil } from './cookie-view.js';
export type { AttributeWording, CookieAttribute, FixedAttributes, SentCookieAttributes } from './cookie-view.js';
export {
  afterSignOut,
  applyEffects,
  commitFetch,
  commitHeaders,
  commitNodeResponse,
  commitNodeResponseAfter,
  cookieLines,
  errorHeaders,
  isSecure,
  isSecureRequest,
  keepsSharedCachesOut,
  nodeHeaders,
  nodeResponseFacts,
  privately,
  responseFacts,
  setCookieNames,
  varyWith,
  withHeaders,
} from './facts.js';
export type { HeaderTarget, HeaderValue } from './facts.js';
export { RELEASED, createOutputHold, headersLeft } from './hold.js';
export type { DeferredResponse, HoldHooks, OutputHold } from './hold.js';
export { accessorLayer, prototypeLayer } from './layer.js';
export type { LayerAccessor, PrototypeLayer } from './layer.js';
export {
  CORE,
  SESSION_ACCESSORS,
  SESSION_METHODS,
  SessionObject,
  detach,
  flashAccessor,
  loadedSession,
  ownerOf,
  viewOf,
  withCallbacks,
} from './view.js';
export type { CallbackMethods, SessionMethods, SessionView, ViewAccessor, ViewMaker, ViewMethod, ViewSpec, WithCallback } from './view.js';
export { handoffHeaders, handoffNode, handoffResponse, redeemHandoff, socketSession, upgradeSession } from './handoff.js';
export type { HandoffAnswer, SocketRoutes, UpgradeRequest } from './handoff.js';
export {
  cancelUnread,
  closeWithAnswer,
  dropBody,
  failureError,
  failureStatus,
  heedStreamErrors,
  httpFailure,
  markHttpError,
  withErrorHeaders,
} from './errors.js';
export type { HttpFailure } from './errors.js';
export { createSessionContext } from '../session-context.js';
export type { SessionContext } from '../session-context.js';
export { readCookie } from '../cookie.js';
export { assertNever, setCookieLine } from '../effects.js';
