/** The one mapping from what sess throws to what a framework answers. */
import { STATUS_CODES, ServerResponse } from 'node:http';
import { SessError, SessStoreError } from '../errors.js';

/** The HTTP answer for an error sess threw: its status hint, the status text and a message a client may see. */
export interface HttpFailure {
  readonly status: number;
  readonly statusText: string;
  readonly message: string;
}

/**
 * The answer a framework should give for `error`, or `undefined` when sess did not throw it (the
 * framework's own error handling decides then). A store failure reads "Session store unavailable".
 */
export function httpFailure(error: unknown): HttpFailure | undefined {
  if (!(error instanceof SessError)) return undefined;
  const status = error.statusHint;
  const statusText = STATUS_CODES[status] ?? 'Error';
  return { status, statusText, message: error instanceof SessStoreError ? 'Session store unavailable' : statusText };
}

/** The status an answer to `error` goes out with: sess's own hint (503 for a store failure), else 500. */
export function failureStatus(error: unknown): number {
  return httpFailure(error)?.status ?? 500;
}

/**
 * The error a framework answers `error` with, made by `make` from `httpFailure(error)`; by default
 * an `Error` with `status`/`statusCode` and `statusMessage`, the cause kept. `undefined` when sess
 * did not throw `error`.
 */
export function failureError(error: unknown): Error | undefined;
export function failureError<E>(error: unknown, make: (failure: HttpFailure) => E): E | undefined;
export function failureError(error: unknown, make = (failure: HttpFailure): unknown => plainError(failure, error)): unknown {
  const failure = httpFailure(error);
  return failure === undefined ? undefined : make(failure);
}

function plainError({ status, statusText, message }: HttpFailure, cause: unknown): Error {
  return Object.assign(new Error(message, { cause }), { status, statusCode: status, statusMessage: statusText });
}

/**
 * `error` marked as http-errors marks an HTTP error, when sess threw it: its status hint as
 * `status`, and `expose: false`, so the answer shows the status text rather than sess's message.
 * In place, so the app's error handling still meets the `SessError` it may check for. For a
 * framework that answers those fields (Koa); anything else is returned as it is.
 */
export function markHttpError<T>(error: T): T {
  const status = httpFailure(error)?.status;
  if (status !== undefined) Object.assign(error as object, { status, expose: false });
  return error;
}

/**
 * Calls `answer` with `headers` as `error.headers`, then puts back what the error had. For a
 * framework that answers an error with its `headers` (Koa): the session's cookie rides on the
 * answer, and an error object thrown on many requests (a module-level one) carries no request's
 * cookie to the next. Not enumerable, so a logger does not print it. An error that refuses the
 * property (frozen) is answered without it.
 */
export function withErrorHeaders<T>(error: object, headers: object, answer: () => T): T {
  const own = Object.getOwnPropertyDescriptor(error, 'headers');
  const added = Reflect.defineProperty(error, 'headers', { value: headers, writable: true, configurable: true, enumerable: false });
  try {
    return answer();
  } finally {
    if (added) own === undefined ? Reflect.deleteProperty(error, 'headers') : Reflect.defineProperty(error, 'headers', own);
  }
}

/**
 * Cancels a web stream the error answer of a failed commit replaces, as a closed connection
 * would: nobody will read it, so its producer (`stream()`, an event stream, a file, an upstream
 * `fetch`) would otherwise wait forever, its cleanup unrun. A `Response` stands for its body;
 * anything else is left alone.
 */
export function cancelUnread(body: unknown): void {
  const stream = body instanceof Response ? body.body : body;
  if (stream instanceof ReadableStream && !stream.locked) stream.cancel().catch(() => undefined);
}

/**
 * Drops a body the error answer of a failed commit replaces, as a closed connection would: a Node
 * stream is destroyed (its file or upstream closed, as frameworks do when the client goes away),
 * which the framework that would have piped it leaves undone; anything else goes to `cancelUnread`.
 */
export function dropBody(body: unknown): void {
  const { pipe, destroy } = (body ?? {}) as { pipe?: unknown; destroy?: unknown };
  if (typeof pipe === 'function' && typeof destroy === 'function') (body as { destroy(): void }).destroy();
  else cancelUnread(body);
}

/**
 * Makes the error answer about to replace a handler's output close the connection. The handler
 * may take its cut-off output for a client that went away and destroy the socket a few turns
 * after the answer left (Express's sendFile does, an app's pipeline callback may), resetting the
 * request a keep-alive client sent next on it. HTTP/2 (Node's compatibility API) has no
 * keep-alive to end.
 */
export function closeWithAnswer(res: unknown): void {
  if (res instanceof ServerResponse && !res.headersSent) res.shouldKeepAlive = false;
}

const unheard = (): void => undefined;

/**
 * Hears a Node stream body's 'error' while the commit waits on the store. The framework starts
 * listening only once it pipes the body, after the commit: an error emitted before that (a file
 * that fails to open, an upstream that drops) would be thrown from an event nobody hears and end
 * the process. The stream keeps its error, which the framework then meets as it would without
 * sess. Returns what stops listening, or `undefined` for a body that is no Node stream.
 */
export function heedStreamErrors(body: unknown): (() => void) | undefined {
  const { pipe, on, off } = (body ?? {}) as { pipe?: unknown; on?: unknown; off?: unknown };
  if (typeof pipe !== 'function' || typeof on !== 'function' || typeof off !== 'function') return undefined;
  const stream = body as { on(event: 'error', listener: () => void): unknown; off(event: 'error', listener: () => void): unknown };
  stream.on('error', unheard);
  return () => void stream.off('error', unheard);
}
