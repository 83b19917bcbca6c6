/**
 * @sess/fastify: server-side sessions for Fastify 4 and 5 on the sess core, as a plugin. The
 * cookie carries a signed id, the data lives in the store.
 *
 * The plugin only translates: its `onRequest` hook reads the request's facts and loads the
 * session, the last `onSend` hook commits (the payload is final, the headers have not left) and
 * applies the effects the core returns. Every session decision is in `@sess/core`.
 */
import { ServerResponse, validateHeaderName, validateHeaderValue } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import fastifyPlugin from 'fastify-plugin';
import { SessConfigError } from '@sess/core';
import type { Session } from '@sess/core';
import { RELEASED, closeWithAnswer, commitHeaders, createOutputHold, createSessionContext } from '@sess/core/adapter';
import { dropBody, failureError, failureStatus, handoffHeaders, heedStreamErrors, httpFailure } from '@sess/core/adapter';
import { nodeHeaders, socketSession } from '@sess/core/adapter';
import type { DeferredResponse, HeaderTarget, HeaderValue, SocketRoutes } from '@sess/core/adapter';
import { sessionManager, type SessionOptions } from './options.js';
import { type FastifySession, fastifyView, rejected } from './view.js';

export type { SessionCookieOptions, SessionOptions } from './options.js';
export type { FastifySession, RegenerateKeep, SessionCookie, SessionCookieOverrides, SessionData, SessionMethods } from './view.js';
export type { SessionEvent, SocketOutcome, SocketSession, Store } from '@sess/core';
export { memoryStore } from '@sess/store-memory';

declare module 'fastify' {
  interface FastifyRequest {
    /** The session, loaded by the plugin's `onRequest` hook (absent on routes outside the plugin's scope). */
    session: FastifySession;
  }
  interface FastifyInstance {
    /** Sessions over a WebSocket: the hand-off route, and the session of an upgrade request (see README, "WebSockets"). */
    readonly sessions: SocketRoutes<RouteHandlerMethod, [request: FastifyRequest], FastifySession>;
  }
}

/** One request's session, kept on the request under a symbol. */
interface RequestState {
  readonly core: Session;
  /**
   * The hold on the raw response, made once `reply.hijack()` says the app writes there itself:
   * the commit then happens at its first output. `RELEASED` once `onSend` took the commit over:
   * the effects go on Fastify's reply headers, and a later pass is the error answer.
   */
  response: DeferredResponse | undefined;
  /** `onSend` waits on the commit's store write: the answer is on its way, though its response has not ended. */
  committing: boolean;
  /** The route commits in its own last onSend hook (it was added after the plugin), not in the scope's. */
  readonly late: boolean;
}

const STATE = Symbol('@sess/fastify');
const slot = (request: FastifyRequest) => request as unknown as Record<symbol, RequestState | null>;

/**
 * Set in the config of each route the plugin saw added, which ends with its commit hook. Known
 * from the request's start, so an answer from a scope's onRequest hook, before the route's own
 * hooks run, still commits in the route's last onSend hook.
 */
const COMMITS = Symbol('@sess/fastify commits');

/**
 * Whether the route's config says it commits itself. Fastify 5 and later 4.x have
 * `request.routeOptions.config`; the early 4.x in the peer range do not (reading it failed every
 * request with a 500 on 4.0.0 and 4.9.2), and have `request.routeConfig` or, the first ones, only
 * `request.context.config`, which later 4.x warn about (so it is read last). Only the first read
 * runs on a current Fastify.
 */
function commitsLate(request: FastifyRequest): boolean {
  const before = request as unknown as { routeConfig?: object; context: { config: object } };
  const config: object = request.routeOptions?.config ?? before.routeConfig ?? before.context.config;
  return (config as Record<symbol, unknown>)[COMMITS] === true;
}

/**
 * Fastify writes the reply's own headers over the raw response's, so a Set-Cookie set on
 * `reply.raw` (by a middleware) would be lost once the session adds one to the reply: its lines
 * move to the reply first. (Where the reply has its own, Fastify drops the raw one anyway.)
 */
function claimRaw(reply: FastifyReply, name: string): void {
  const raw = reply.raw.getHeader(name);
  if (raw === undefined) return;
  reply.raw.removeHeader(name);
  if (reply.getHeader(name) === undefined) reply.header(name, [raw].flat().map(String));
}

/** Fastify's reply headers as a `HeaderTarget`: `reply.header` appends Set-Cookie lines, and `getHeader` sees the raw response's too. */
const replyHeaders = (reply: FastifyReply): HeaderTarget => ({
  append: (name, value) => void (claimRaw(reply, name), reply.header(name, value)),
  set: (name, value) => void reply.header(name, value),
  get: (name) => reply.getHeader(name),
});

/**
 * A web `Response`'s headers as a `HeaderTarget`: Fastify answers with the Response's status and
 * headers, which win over the reply's, once onSend is done. The reply's count still: their
 * Set-Cookie lines are sent too, and a Vary or Cache-Control there is the app's.
 */
class ResponseHeaders implements HeaderTarget {
  constructor(
    private readonly headers: Headers,
    private readonly reply: FastifyReply,
  ) {}
  append(name: string, value: string): void {
    // Fastify copies the Response's Set-Cookie onto the reply, over the raw response's.
    claimRaw(this.reply, name);
    this.headers.append(name, value);
  }
  set(name: string, value: string): void {
    this.headers.set(name, value);
  }
  get(name: string): HeaderValue {
    if (name === 'set-cookie') return this.headers.getSetCookie().concat([this.reply.getHeader(name) ?? []].flat().map(String));
    return this.headers.get(name) ?? this.reply.getHeader(name);
  }
}

type OnSendDone = (error: Error | null, payload?: unknown) => void;

/** A web `Response` (Fastify sends one with its status and headers), from any realm, as Fastify tells it. */
const isResponse = (payload: unknown): payload is Response => Object.prototype.toString.call(payload) === '[object Response]';

/** An error as Fastify makes them (a `FastifyError`): its code, and the status its error handling answers. */
const fastifyError = (code: string, message: string, Base: ErrorConstructor = Error) =>
  Object.assign(new Base(message), { name: 'FastifyError', code, statusCode: 500 });

/**
 * The error Fastify throws for a payload it can't write, once onSend is done (a number or an
 * object under a content type that is not JSON, a web `Response` whose body was read, a locked
 * web stream, a Response's included): the same checks, made before the commit. A 1xx or 204
 * answer sends no body, so Fastify checks none there.
 */
function unwritable(payload: unknown, status: number): Error | undefined {
  if (payload === undefined || payload === null || typeof payload === 'string' || Buffer.isBuffer(payload)) return undefined;
  // A Response answers with its own status, and Fastify writes its body as the web stream it is.
  if (isResponse(payload)) {
    if (payload.body === null) return undefined;
    return payload.bodyUsed
      ? fastifyError('FST_ERR_REP_RESPONSE_BODY_CONSUMED', 'Response.body is already consumed.')
      : unwritable(payload.body, 200);
  }
  if (status === 204 || (status >= 100 && status < 200)) return undefined;
  const { pipe, getReader, locked } = payload as { pipe?: unknown; getReader?: unknown; locked?: unknown };
  if (typeof getReader === 'function' && locked === true)
    return fastifyError(
      'FST_ERR_REP_READABLE_STREAM_LOCKED',
      'ReadableStream was locked. You should call releaseLock() method on reader before sending.',
    );
  if (typeof pipe === 'function' || typeof getReader === 'function') return undefined;
  const message = `Attempted to send payload of invalid type '${typeof payload}'. Expected a string or Buffer.`;
  return fastifyError('FST_ERR_REP_INVALID_PAYLOAD_TYPE', message, TypeError);
}

/**
 * Drops the payload an error answer replaces (a failed commit's, or one beside a header Node
 * refuses), a web `Response`'s body included, from any realm: Fastify leaves an unsent payload as
 * it is, so a Node stream's source would stay open and a producer writing into it would wait
 * forever on backpressure. The answer then closes the connection, as the other adapters' does.
 */
function dropOutput(reply: FastifyReply, payload: unknown): void {
  dropBody(isResponse(payload) ? payload.body : payload);
  closeWithAnswer(reply.raw);
}

/** The Fastify method that `own`, a decorator of the plugin's scope for `name`, overrides for `reply`. */
function overridden<K extends 'hijack' | 'send'>(reply: FastifyReply, name: K, own: FastifyReply[K]): FastifyReply[K] {
  let owner = Object.getPrototypeOf(reply) as FastifyReply;
  while (!Object.hasOwn(owner, name) || owner[name] !== own) owner = Object.getPrototypeOf(owner) as FastifyReply;
  return (Object.getPrototypeOf(owner) as FastifyReply)[name];
}

/** The prototype above the one where `own`, the scope's getter of `reply.sent`, is defined: Fastify's `sent` is there. */
function aboveSent(reply: FastifyReply, own: () => boolean): object {
  let owner = Object.getPrototypeOf(reply) as object;
  while (Object.getOwnPropertyDescriptor(owner, 'sent')?.get !== own) owner = Object.getPrototypeOf(owner) as object;
  return Object.getPrototypeOf(owner) as object;
}

/** Node's checks of a header as it writes one: a list's values one by one (an undefined one is refused, though the list reads as text). */
function checkHeader(name: string, value: unknown): void {
  validateHeaderName(name);
  if (Array.isArray(value)) for (const item of value) validateHeaderValue(name, item as string);
  else validateHeaderValue(name, value as string);
}

/** Fastify's warning for a send after the first (`FST_ERR_REP_ALREADY_SENT`). */
const alreadySent = (request: FastifyRequest) =>
  fastifyError(
    'FST_ERR_REP_ALREADY_SENT',
    `Reply was already sent, did you forget to "return reply" in the "${request.url}" (${request.method}) route?`,
  );

/** Whether the request is secure, as Fastify says: TLS, or X-Forwarded-Proto under its `trustProxy`. */
const isSecure = (request: FastifyRequest) => request.protocol === 'https';

/**
 * A hijacked reply whose commit failed: Fastify's error handling no longer answers it, so the
 * error is logged and answered on the raw response, with none of the held output's headers.
 */
function failRaw(reply: FastifyReply, error: unknown): void {
  reply.log.error({ err: error }, '@sess/fastify: the session could not be committed');
  const { status, message } = httpFailure(error) ?? { status: 500, message: 'Internal Server Error' };
  for (const name of reply.raw.getHeaderNames()) reply.raw.removeHeader(name);
  reply.raw.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(message);
}

const context = createSessionContext<FastifySession>('@sess/fastify');

/**
 * The current request's `request.session`, from any function the request calls (from
 * `preValidation` on), without passing `request` down. Needs `asyncContext: true`.
 *
 * @throws SessUsageError outside such a request.
 */
export const getSession = (): FastifySession => context.get();

const plugin: FastifyPluginAsync<SessionOptions> = async (fastify, options) => {
  const manager = sessionManager(options);
  const view = fastifyView(options.cookie, options.cookieName);
  // Fastify's own refusal only names the decorator, not the cause or the fix.
  if (fastify.hasRequestDecorator('session')) {
    throw new SessConfigError(
      'request.session is already decorated, by this plugin in a parent scope or by another session plugin (@fastify/session): register one session plugin, once, in the scope that covers your routes',
    );
  }
  const { readOnly, asyncContext } = options;
  const output = createOutputHold();

  /** The commit, on Fastify's reply headers once `onSend` took it over, else on the raw response's. */
  const commit = (state: RequestState, reply: FastifyReply, status: number) =>
    commitHeaders(state.response === RELEASED ? replyHeaders(reply) : nodeHeaders(reply.raw), state.core, status, manager.name);

  /**
   * `reply.hijack()` in the plugin's scope: a hijacked reply skips onSend and writes the raw
   * response itself, so from here on that response's output waits for the commit (the kit's
   * output hold). Only hijacked replies are held, so other requests make no hold at all. HTTP/2
   * responses are not held. Then Fastify's own `hijack`, the one this overrides, runs.
   */
  function hijack(this: FastifyReply): FastifyReply {
    const state = slot(this.request)[STATE];
    if (state != null && this.raw instanceof ServerResponse) {
      state.response ??= output.defer(this.raw, { commit: (status) => commit(state, this, status), fail: (error) => failRaw(this, error) });
      state.response.gate();
    }
    return overridden(this, 'hijack', hijack).call(this);
  }

  /** Fastify's `send`, the one `sendOnce` below overrides: the same for every reply of the scope, so found once. */
  let fastifySend: FastifyReply['send'] | undefined;

  /**
   * `reply.send` in the plugin's scope. Fastify counts a reply as sent once its response has
   * ended, which an answer whose commit waits on the store has not: a send then (the one Fastify
   * makes for an async handler that called `reply.send` without `return reply`, a second one, or
   * the error of a handler that failed after sending) would run onSend again and go out first,
   * without the cookie, the first one failing after it. It is ignored, as Fastify ignores a send
   * once the first went out, and said in the log as Fastify says it.
   */
  function sendOnce(this: FastifyReply, payload?: unknown): FastifyReply {
    if (slot(this.request)[STATE]?.committing !== true) return (fastifySend ??= overridden(this, 'send', sendOnce)).call(this, payload);
    if (payload instanceof Error) this.log.error({ err: payload }, 'Promise errored, but reply.sent = true was set');
    else if (payload !== undefined) this.log.warn({ err: alreadySent(this.request) });
    return this;
  }

  /** Where Fastify's `reply.sent`, the one `sent` below overrides, is: the same for every reply of the scope, so found once. */
  let fastifySentFrom: object | undefined;

  /**
   * `reply.sent` in the plugin's scope: Fastify's, and true too while an answer's commit waits on
   * the store. Fastify stops a request's hooks and handler once its reply is sent, which it tells
   * by the response having ended: else an async hook that answered without `return reply` (a guard
   * that keeps where the visitor was going in the session) would let the route's handler run
   * behind its answer, which it does not without sess.
   */
  function sent(this: FastifyReply): boolean {
    if (slot(this.request)[STATE]?.committing === true) return true;
    return Reflect.get((fastifySentFrom ??= aboveSent(this, sent)), 'sent', this) as boolean;
  }

  /** Fastify 4's deprecated `reply.sent = true`, as Fastify takes it (Fastify 5 has no setter: a TypeError, as without sess). */
  function setSent(this: FastifyReply, value: boolean): void {
    if (!Reflect.set((fastifySentFrom ??= aboveSent(this, sent)), 'sent', value, this))
      throw new TypeError('Cannot set property sent of #<Reply> which has only a getter');
  }

  // Declared up front, as Fastify asks, so every request object has the same shape.
  fastify.decorateRequest('session', null as unknown as FastifySession);
  fastify.decorateRequest(STATE, null);
  fastify.decorateReply('hijack', hijack);
  fastify.decorateReply('send', sendOnce);
  fastify.decorateReply('sent', { getter: sent, setter: setSent });

  fastify.addHook('onRequest', async (request, reply) => {
    const core = manager.begin({ cookieHeader: request.headers.cookie, secure: isSecure(request), readOnly: readOnly?.(request) ?? false });
    const state: RequestState = { core, response: undefined, committing: false, late: commitsLate(request) };
    slot(request)[STATE] = state;
    // The request is the view's owner: save() reads it to tell a save that nothing will commit.
    request.session = view(core, request).view;
    try {
      await core.load();
    } catch (error) {
      // Else an error handler that sets no status answers the failed load with a 200.
      reply.code(failureStatus(error));
      throw failureError(error) ?? error;
    }
  });

  // Body parsing runs in the socket's async context, so the session's is entered again after it.
  if (asyncContext === true) fastify.addHook('preValidation', (request, _reply, done) => context.run(request.session, done));

  /**
   * The commit, as an onSend hook. Each route added from here on (in this scope or a child) gets
   * it as its last onSend hook, after every other one, the route's own included: so a hook of the
   * app that fails or sets a 5xx does it before anything is saved. The scope's own onSend hook
   * commits for what has no such hook: the not-found handler, and a route added before the plugin
   * loaded (`register` not awaited). The route's config tells the two apart.
   */
  function commitOnSend(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: OnSendDone) {
    const state = slot(request)[STATE];
    // Fastify runs onSend again for the error answer of a failed commit: that one goes out as it is.
    if (state == null || state.response === RELEASED) return done(null, payload);
    // A header Node refuses makes this answer a 500 once Fastify writes it: refused here, the
    // error reaches Fastify's error handling before the commit has saved anything.
    try {
      for (const [name, value] of Object.entries(reply.getHeaders())) checkHeader(name, value);
      // Fastify copies a Response's headers onto the reply, and Fetch takes control characters Node refuses.
      if (isResponse(payload)) for (const [name, value] of payload.headers) checkHeader(name, value);
    } catch (error) {
      // Fastify would have destroyed a stream payload as its error answer ended the response:
      // dropped here, and the answer closes the connection, as a failed commit's does.
      dropOutput(reply, payload);
      throw error;
    }
    // So is a payload Fastify would refuse to write (the app's onSend hooks ran before this one,
    // unless it is the scope's hook, where a later one could still mend it: rare, and a session
    // saved behind a 500 is what this plugin promises against).
    const refused = unwritable(payload, reply.statusCode);
    if (refused !== undefined) throw refused;
    // `Response.error()` is no answer: Fastify refuses its status 0 as without sess, and the
    // session commits with the error answer, in the next pass.
    if (isResponse(payload) && payload.status === 0) return done(null, payload);
    // Fastify writes the response inside `done`: what it meets there goes to its error handling,
    // from a commit done at once through Fastify's own catch around the hook, from a later one
    // through ours (as Fastify 5 does for async hooks, and Fastify 4 does not).
    // A hijacked reply never reaches onSend, so no hold can be waiting here.
    state.response = RELEASED;
    // A Response is the app's, which it may hand to every request (one made once, at start-up):
    // the session's headers go on a copy, so no visitor's cookie rides on it to the next.
    const response = isResponse(payload) ? new Response(payload.body, payload) : undefined;
    const settling =
      response === undefined
        ? commit(state, reply, reply.statusCode)
        : commitHeaders(new ResponseHeaders(response.headers, reply), state.core, response.status, manager.name);
    const sent = response ?? payload;
    if (settling === undefined) return done(null, sent);
    state.committing = true;
    // Fastify hears a stream payload's errors only once onSend is done.
    const unheard = heedStreamErrors(payload);
    settling
      .catch(rejected)
      .then(
        () => ((state.committing = false), unheard?.(), done(null, sent)),
        (error: Error & { statusCode?: number }) => {
          state.committing = false;
          dropOutput(reply, sent);
          // The status was the dropped answer's: an error handler that sets none (Fastify keeps
          // the reply's), or Fastify's last resort once a thrown 4xx was answered, would send it,
          // a 2xx or 4xx for a store that failed.
          reply.code(error.statusCode ?? 500);
          done(error);
        },
      )
      .catch(done);
  }

  fastify.addHook('onSend', (request, reply, payload, done) =>
    slot(request)[STATE]?.late === true ? done(null, payload) : commitOnSend(request, reply, payload, done),
  );

  fastify.addHook('onRoute', (route) => {
    route.config = { ...route.config, [COMMITS]: true };
    route.onSend = [...[route.onSend ?? []].flat(), commitOnSend];
  });

  const handoff: RouteHandlerMethod = async (request, reply) => {
    const token = (request.query as { token?: unknown } | undefined)?.token ?? (request.body as { token?: unknown } | undefined)?.token;
    const status = await handoffHeaders(manager, token, request.headers['sec-fetch-site'], replyHeaders(reply)).catch(rejected);
    return reply.code(status).send();
  };

  const socket = (request: FastifyRequest) =>
    socketSession(manager, { cookieHeader: request.headers.cookie, secure: isSecure(request) }, (core) => view(core).view);

  fastify.decorate('sessions', Object.freeze({ handoff, socket }));
};

/**
 * The session plugin, for Fastify 4 and 5: `await fastify.register(session, { secret })`.
 * Validates the options when registered (a `SessConfigError` for an unknown or unsupported
 * option, a short secret, a bad value, or a store that is not a sess store), then per request:
 * verifies the cookie and loads the record it names in `onRequest` (one store read, none without
 * a valid cookie), exposes `request.session`, and commits in the last `onSend` hook of each
 * route added after it (see README for the rest), before the headers leave.
 * A failed store call reaches Fastify's error handling (and `setErrorHandler`) as an error with
 * `statusCode` 503; a handler's own error reaches it unchanged, and the session commits with the
 * status Fastify answers it with. Wrapped with `fastify-plugin`: the hooks and decorators apply
 * to the scope it is registered in, not only its children.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { session } from '@sess/fastify';
 *
 * const app = Fastify();
 * await app.register(session, { secret: process.env.SESSION_SECRET! });
 * app.get('/', async (request) => {
 *   request.session.views = (request.session.views ?? 0) + 1;
 *   return `views: ${request.session.views}`;
 * });
 * ```
 */
export const session = fastifyPlugin(plugin, { fastify: '4.x || 5.x', name: '@sess/fastify' });
