/**
 * The commit moment for a Node `ServerResponse` (Express, Koa with `ctx.respond = false`, h3 v1):
 * the response's first `writeHead`, `write` or `end` (Node sends implicit headers through
 * `writeHead`) is held until the commit has run, so the store write is done and the cookie is on
 * the response before any byte leaves; then the held calls are replayed in order. A commit that
 * answers at once (nothing to wait for: a read, or a store that answers synchronously) holds
 * nothing: the output that started it goes out right after it. A failed
 * commit never ends in a 2xx: the held output is dropped and the framework answers the error.
 * (express-session instead writes all but the last byte while it waits.)
 *
 * Held output must fail as it would without the hold, and never where nobody listens:
 * - the first call is checked at once, so a status, header or chunk Node refuses throws in the
 *   handler, as without sess (`writeHead`'s headers are set at once, which also merges its
 *   Set-Cookie and Vary with the session's; `write`/`end` are rehearsed on a response with no socket);
 * - a call Node refuses only when replayed (after the first: by then, without sess, the headers
 *   would have left) goes to the framework's error path, or ends the connection once headers went out;
 * - nothing rejects unhandled, and output after an error answer ended the response goes nowhere,
 *   as on a destroyed response: a write returns false and its callback gets Node's error, but no
 *   'error' event is emitted, since an ended response's would be thrown from an event nobody hears;
 * - held writes heed the response's high-water mark, as Node's own buffer does: past it `write`
 *   returns false (pipe() pauses, so a large body does not pile up in memory while a slow commit
 *   runs) and 'drain' follows the replay; if the commit fails, the response closes after the
 *   error answer, which releases a pipe as a closed connection does, and so does the connection,
 *   since a handler may end it on finding its output cut;
 * - from the first held call until the commit is done the response acts as one whose headers have
 *   left (see `seal`), so a handler that answers twice fails as it would without the hold, before
 *   its second answer can change the first one's headers.
 */
import { ServerResponse } from 'node:http';
import { closeWithAnswer } from './errors.js';
import { prototypeLayer } from './layer.js';
import type { PrototypeLayer } from './layer.js';

/** What the hold asks of the adapter. */
export interface HoldHooks {
  /**
   * Commits the session for `status` and applies its HTTP effects to the response: at once,
   * returning nothing, when the commit had nothing to wait for (the output then passes straight
   * through, with nothing held), else by the promise it returns. The headers go on through
   * `nodeHeaders(res)`, which writes past the seal on held output (see `seal`).
   */
  commit(status: number): Promise<void> | undefined;
  /**
   * Answers `error` (a failed commit that output started, or held output refused when replayed)
   * as the framework would: with an error response while the headers have not left. A response
   * left half sent after it returns is ended by closing the connection.
   */
  fail(error: unknown): void;
  /** The first output was held: the framework may need telling that the response is taken care of. */
  onHold?(): void;
  /**
   * Output came after the error answer of a failed commit ended the response: it goes nowhere (a
   * write returns false, a callback gets `error`). Throwing `error` here throws it from that call
   * instead, for a writer that stops on nothing else (h3 v1 pipes a web stream into a sink that
   * ignores both).
   */
  onDropped?(error: Error, res: ServerResponse): void;
}

/**
 * A response whose commit happens once: by `settle`, by its first held output, or by the adapter
 * itself, once the hold has handed the response back (`release`).
 */
export interface DeferredResponse {
  /**
   * Commits now, unless output already started the commit, and waits for it. A commit it started
   * rejects with its failure (the held output is dropped); one that output started resolves, its
   * failure answered through `fail`.
   */
  settle(status: number): Promise<void>;
  /** Holds the response's output from now on (until the commit is done), unless its headers left already. */
  gate(): void;
  /**
   * Hands the response back to the adapter, which commits it itself (h3 commits the web Response
   * a handler returned): the hold commits nothing, and output passes straight through from now
   * on. False, and nothing changes, when output has started the commit: `settle` waits for it.
   */
  release(): boolean;
}

/**
 * The hold of a response handed back before any hold was made, shared by every such response: an
 * adapter that holds only responses the app writes itself (Koa's `ctx.respond = false`, Fastify's
 * `reply.hijack()`) keeps it for a request whose commit started without one, so that none is
 * made after it (`gate` does nothing).
 */
export const RELEASED: DeferredResponse = Object.freeze({
  settle: () => HANDED_BACK,
  gate: () => undefined,
  release: () => true,
});

export interface OutputHold {
  /**
   * The gates on `writeHead`, `write` and `end`, which the adapter puts into an app's own response
   * prototype so every response it serves is covered. A response without a hold passes straight
   * through them.
   */
  readonly gates: PrototypeLayer;
  /** Holds `res`'s output until `hooks.commit` has run: `defer(res, hooks)`, gated at once. */
  hold(res: ServerResponse, hooks: HoldHooks): DeferredResponse;
  /**
   * The commit of `res`, once, with its output held only after `gate()` (Koa holds only the
   * responses an app writes itself). A response the gates don't cover, or that has output methods
   * of its own (another library wrapped them), is wrapped on the instance, outermost.
   */
  defer(res: ServerResponse, hooks: HoldHooks): DeferredResponse;
}

type Output = 'writeHead' | 'write' | 'end';
/** The output methods that carry the body, which a wrapper above the hold may transform (compression). */
type Body = 'write' | 'end';
const BODY: readonly Body[] = ['write', 'end'];
type Method = (this: ServerResponse, ...args: unknown[]) => unknown;
const OUTPUTS: readonly Output[] = ['writeHead', 'write', 'end'];

/** An output hold's gates, and the hold each response they cover is under. */
interface Gates {
  readonly layer: PrototypeLayer;
  /** The same gates, for a response the layer does not cover: put on the instance (see `gate`). */
  readonly own: Record<Output, Method>;
  /** The error answer's `write` and `end`, put on the instance above wrappers that took the cut output (see `answerPast`). */
  readonly answer: Record<Body, Method>;
  readonly holds: WeakMap<ServerResponse, Hold>;
}

/** One response's hold: a class, so a request allocates one object for it, with no closures. */
class Hold implements DeferredResponse {
  phase: 'open' | 'committing' | 'done' | 'failed' = 'open';
  readonly held: Array<{ readonly method: Method; readonly args: unknown[] }> = [];
  settled: Promise<void> | undefined = undefined;
  /** How much the held writes carry, in Node's measure (a string's length, a buffer's bytes). */
  heldLength = 0;
  /** A held write returned false: 'drain' is owed once the held output is replayed. */
  owesDrain = false;
  /** Output started the commit, so nobody awaits it: its failure is answered through `fail`. */
  outputStarted = false;
  /** Output goes through the gates: held from the first call until the commit is done. */
  gated = false;
  /**
   * The response's own output methods, where the hold wrapped them on the instance (see `gate`):
   * kept after they are put back, for a caller that took a wrapped method before then.
   */
  original: Record<Output, Method> | undefined = undefined;
  /** The instance still has the wrapped methods. */
  wrapped = false;
  /** Lifts the seal put on the response while its output is held. */
  unseal: (() => void) | undefined = undefined;
  /**
   * The instance's `write` and `end` when a failed commit dropped output they had carried: wrappers
   * above the hold (a compression middleware mounted after the session's), whose state is spent on it.
   */
  above: Record<Body, Method> | undefined = undefined;
  /** Calls of the error answer in progress through `above`: output reaching the gates from elsewhere then is the cut output's. */
  answering = 0;
  /** Output calls that passed the gates after the commit failed. */
  passed = 0;
  /** The error answer's `end` passed the gates: it ends the response, maybe later (through a wrapper below). */
  ended = false;

  constructor(
    readonly res: ServerResponse,
    readonly hooks: HoldHooks,
    readonly gates: Gates,
  ) {}

  settle(status: number): Promise<void> {
    return settle(this.res, this, status);
  }

  gate(): void {
    gate(this.res, this, this.gates);
  }

  release(): boolean {
    if (this.settled === undefined) {
      // As a commit done at once leaves it: nothing can be held before the commit starts, so nothing is replayed.
      this.finish();
      this.settled = HANDED_BACK;
    }
    return this.settled === HANDED_BACK;
  }

  /**
   * Puts back the response's own output methods, where the hold wrapped them on the instance.
   * False when one was wrapped again since (a compression middleware's `write`): that one stays,
   * and its wrapper calls the gate it took, which still needs this hold to pass output through.
   */
  restore(): boolean {
    if (!this.wrapped) return true;
    this.wrapped = false;
    const methods = this.res as unknown as Record<Output, Method>;
    const { own } = this.gates;
    let all = true;
    for (const name of OUTPUTS) {
      if (methods[name] === own[name]) methods[name] = (this.original as Record<Output, Method>)[name];
      else all = false;
    }
    return all;
  }

  /** The commit is done: output passes straight through from now on, and the gates forget this response. */
  finish(): void {
    this.phase = 'done';
    // Forgotten at once: entries kept for as long as their responses live (into V8's old
    // generation, under keep-alive) make every garbage collection dearer, on every request.
    if (this.restore()) this.gates.holds.delete(this.res);
  }
}

/** One hold per middleware: its gates, made once per prototype they sit on. */
export function createOutputHold(): OutputHold {
  const holds = new WeakMap<ServerResponse, Hold>();
  const layer = prototypeLayer((base) => {
    const descriptors: PropertyDescriptorMap = {};
    for (const name of OUTPUTS) {
      const original = (base as Record<Output, Method> | null)?.[name] as Method;
      descriptors[name] = {
        value: function gated(this: ServerResponse, ...args: unknown[]): unknown {
          const hold = holds.get(this);
          return hold === undefined ? original.apply(this, args) : through(this, hold, name, original, args);
        },
        writable: true,
        configurable: true,
      };
    }
    return descriptors;
  });
  // One set for every response wrapped on the instance, each finding its hold in `holds`:
  // functions made per response cost V8's garbage collector far more than their size.
  const own = {} as Record<Output, Method>;
  for (const name of OUTPUTS) {
    own[name] = function gated(this: ServerResponse, ...args: unknown[]): unknown {
      const hold = holds.get(this);
      // Past a finished hold, which the gates forget: a caller that took this method before it
      // was put back (without wrapping it) reaches the prototype's.
      if (hold === undefined) return (Object.getPrototypeOf(this) as Record<Output, Method>)[name].apply(this, args);
      return through(this, hold, name, (hold.original as Record<Output, Method>)[name], args);
    };
  }

  // The error answer's body past wrappers that took the cut output: through them first (one that
  // only looks passes it on), else straight to what lies below them.
  const answer = {} as Record<Body, Method>;
  for (const name of BODY) {
    answer[name] = function answering(this: ServerResponse, ...args: unknown[]): unknown {
      const hold = holds.get(this) as Hold;
      const passed = hold.passed;
      hold.answering += 1;
      try {
        const result = (hold.above as Record<Body, Method>)[name].apply(this, args);
        if (hold.passed !== passed || this.writableEnded) return result;
        // Swallowed: the wrapper took its part as done (compression's stream ended with the cut body).
        return (hold.wrapped ? own[name] : (Object.getPrototypeOf(this) as Record<Body, Method>)[name]).apply(this, args);
      } finally {
        hold.answering -= 1;
      }
    };
  }

  const gates: Gates = { layer, own, answer, holds };
  const defer = (res: ServerResponse, hooks: HoldHooks): DeferredResponse => new Hold(res, hooks, gates);

  return Object.freeze({
    gates: layer,
    defer,
    hold(res: ServerResponse, hooks: HoldHooks): DeferredResponse {
      const hold = new Hold(res, hooks, gates);
      hold.gate();
      return hold;
    },
  });
}

function gate(res: ServerResponse, hold: Hold, { layer, own, holds }: Gates): void {
  if (hold.phase !== 'open' || res.headersSent || holds.has(res) || hold.gated) return;
  hold.gated = true;
  holds.set(res, hold);
  const methods = res as unknown as Record<Output, Method>;
  if (layer.covers(res) && !Object.hasOwn(res, 'writeHead') && !Object.hasOwn(res, 'write') && !Object.hasOwn(res, 'end')) return;
  // Any other response is wrapped on the instance. Putting the gates into its prototype chain
  // instead (`Object.setPrototypeOf` on each response) would slow everything Node then does
  // with it: +30 µs a request on a bare Node server here.
  hold.original = { writeHead: methods.writeHead, write: methods.write, end: methods.end };
  hold.wrapped = true;
  Object.assign(methods, own);
}

/** What `settle` answers for a commit that was done at once, with nothing held. */
const COMMITTED: Promise<void> = Promise.resolve();
/** What `settle` answers once the hold handed the response back: the adapter's commit is its own to await. */
const HANDED_BACK: Promise<void> = Promise.resolve();

/** One output call on a held response. */
function through(res: ServerResponse, hold: Hold, name: Output, original: Method, args: unknown[]): unknown {
  switch (hold.phase) {
    case 'done':
      return original.apply(res, args);
    case 'failed':
      // The cut output a wrapper above still sends (compression's gzip of the dropped body) goes nowhere.
      if (res.writableEnded || (hold.above !== undefined && hold.answering === 0 && name !== 'writeHead'))
        return drop(res, hold, name, args);
      hold.passed += 1;
      if (name === 'end') hold.ended = true;
      return original.apply(res, args);
    case 'committing':
      // The head is final since the first held call, as Node's is once it has left.
      if (hold.unseal !== undefined && name === 'writeHead') throw headersSent('write');
      hold.held.push({ method: original, args });
      // The first output of a commit that `settle` started.
      if (hold.unseal === undefined) seal(res, hold);
      return name === 'write' ? holds(res, hold, args[0]) : res;
    case 'open': {
      const replay = name === 'writeHead' ? takeHeaders(res, args) : rehearsed(res, name, args);
      const settled = settle(res, hold, name === 'writeHead' ? (replay[0] as number) : res.statusCode);
      // Committed synchronously: this output goes out now, as it would without sess.
      if (settled === COMMITTED) return original.apply(res, replay);
      hold.held.push({ method: original, args: replay });
      seal(res, hold);
      hold.outputStarted = true;
      hold.hooks.onHold?.();
      return name === 'write' ? holds(res, hold, replay[0]) : res;
    }
  }
}

/** The commit, once: replays the held output after it, or drops the output and rejects. */
function settle(res: ServerResponse, hold: Hold, status: number): Promise<void> {
  if (hold.settled !== undefined) return hold.settled;
  hold.phase = 'committing';
  let committed: Promise<void> | undefined;
  try {
    committed = hold.hooks.commit(status);
  } catch (error) {
    committed = Promise.reject(error);
  }
  if (committed === undefined) {
    // Done at once, so nothing was held: output that started the commit goes out from `through`.
    hold.finish();
    return (hold.settled = COMMITTED);
  }
  // Nothing was ever gated, so nothing can be held: the commit is the whole settle (and a gate
  // asked for from now on finds the phase past 'open').
  if (!hold.gated) return (hold.settled = committed);
  hold.settled = committed
    .then(() => {
      hold.phase = 'done';
      hold.unseal?.();
      for (const call of hold.held.splice(0)) call.method.apply(res, call.args);
      hold.finish();
      if (hold.owesDrain) process.nextTick(drained, res);
    })
    .catch((error: unknown) => {
      const dropped = hold.held.splice(0);
      hold.phase = 'failed';
      // The framework answers the error on a response that is its own again.
      hold.unseal?.();
      // The handler's output is cut off by the error answer.
      closeWithAnswer(res);
      if (dropped.length > 0) answerPast(res, hold, hold.gates);
      // The held output goes nowhere: its callbacks hear so, or a handler awaiting one waits forever.
      for (const call of dropped) callBack(call.args, afterEnd());
      // Answered in the same turn the response became the framework's again: the handler's next
      // output (a web stream's pipe ends the response a few microtasks after its last chunk)
      // would otherwise go out before the answer, as a 2xx, and the answer find the headers gone.
      if (hold.outputStarted) return answer(res, hold, error);
      throw error;
    });
  return hold.settled;
}

const headersSent = (verb: string) => invalid(Error, `Cannot ${verb} headers after they are sent to the client`, 'ERR_HTTP_HEADERS_SENT');

/** The header writes a session commit makes on a sealed response: past the seal, to the methods it had before. */
interface HeaderWrites {
  setHeader(name: string, value: string): void;
  appendHeader(name: string, value: string): void;
}
const sealed = new WeakMap<ServerResponse, HeaderWrites>();

/** What a session commit writes `res`'s headers through: `res`, or, while its output is held, past the seal. */
export const headerWrites = (res: ServerResponse): HeaderWrites => sealed.get(res) ?? res;

/** Whether `res`'s headers have really left: a response whose output is held only acts as if they had. */
export const headersLeft = (res: ServerResponse): boolean => !sealed.has(res) && res.headersSent;

/** The header writes the seal refuses, each with the verb of Node's ERR_HTTP_HEADERS_SENT. */
const SEALED_WRITES = { setHeader: 'set', setHeaders: 'set', appendHeader: 'append', removeHeader: 'remove' } as const;
const SEALED = [...Object.keys(SEALED_WRITES), 'headersSent', 'flushHeaders', '_implicitHeader'];

/**
 * Without the hold, the headers leave with the first output, and Node refuses to change them
 * after. While output is held the response acts the same: its header methods throw Node's
 * ERR_HTTP_HEADERS_SENT, `headersSent` is true, `flushHeaders` waits with the rest, writing the
 * head implicitly does nothing, and a status set meanwhile is not the one that goes out. So
 * Express answers a handler's second `res.send` as it does without sess (the error reaches its
 * error handling, which finds the headers gone), and nothing the second answer sets reaches the
 * first. The seal is a few properties of this one held response (most responses are never held),
 * taken off before the held calls are replayed or the framework answers a failed commit; the
 * session's own headers go past it (`headerWrites`).
 */
function seal(res: ServerResponse, hold: Hold): void {
  const own = SEALED.map((name) => [name, Object.getOwnPropertyDescriptor(res, name)] as const);
  const { statusCode, flushHeaders } = res;
  const statusMessage = statusMessageOf(res);
  const methods = res as unknown as Record<string, Method>;
  // The session's own writes pass, and so do the calls Node makes inside them (its appendHeader
  // calls setHeader).
  let passing = false;
  const pass =
    (name: keyof HeaderWrites) =>
    (field: string, value: string): void => {
      passing = true;
      try {
        methods[name]?.call(res, field, value);
      } finally {
        passing = false;
      }
    };
  sealed.set(res, { setHeader: pass('setHeader'), appendHeader: pass('appendHeader') });
  const descriptors: PropertyDescriptorMap = {
    headersSent: { get: () => !passing, configurable: true },
    flushHeaders: { value: () => void hold.held.push({ method: flushHeaders as Method, args: [] }), configurable: true, writable: true },
    // Node's own "write the head now if it has not left": a wrapper that writes (compression's)
    // calls it before each chunk while `_header` is unset, and the held first call writes it.
    _implicitHeader: { value: () => undefined, configurable: true, writable: true },
  };
  for (const [name, verb] of Object.entries(SEALED_WRITES)) {
    const method = methods[name];
    descriptors[name] = {
      value(this: ServerResponse, ...args: unknown[]): unknown {
        if (passing && method !== undefined) return method.apply(this, args);
        throw headersSent(verb);
      },
      configurable: true,
      writable: true,
    };
  }
  Object.defineProperties(res, descriptors);
  hold.unseal = () => {
    hold.unseal = undefined;
    sealed.delete(res);
    for (const [name, descriptor] of own) {
      if (descriptor === undefined) delete methods[name];
      else Object.defineProperty(res, name, descriptor);
    }
    res.statusCode = statusCode;
    if (!http2(res)) res.statusMessage = statusMessage as string;
  };
}

/**
 * Wrappers on the instance's `write` and `end` above the hold carried the output it dropped, so
 * their state is spent on it (compression's stream has ended, and would swallow the error answer's
 * `end`): the error answer goes through them, and past them where they swallow it.
 */
function answerPast(res: ServerResponse, hold: Hold, gates: Gates): void {
  const methods = res as unknown as Record<Body, Method>;
  const ours = (name: Body) => (hold.wrapped ? methods[name] === gates.own[name] : !Object.hasOwn(res, name));
  if (ours('write') && ours('end')) return;
  hold.above = { write: methods.write, end: methods.end };
  Object.assign(methods, gates.answer);
}

/** A commit that output started failed: nobody waits on it, so the framework answers through `fail`. */
function answer(res: ServerResponse, hold: Hold, error: unknown): void {
  try {
    hold.hooks.fail(error);
  } catch {
    // The framework's own answer threw too: only the socket can still tell the client.
    res.destroy();
    return;
  }
  // A response half sent can't be finished any more (one whose end was taken finishes, maybe later: after a gzip stream).
  if (res.headersSent && !res.writableEnded && !hold.ended) res.destroy();
}

/**
 * What a held write answers: whether there is room for more, as Node's own buffer tells it (true
 * below the high-water mark). A write refused only when replayed counts for nothing.
 */
function holds(res: ServerResponse, hold: Hold, chunk: unknown): boolean {
  if (isChunk(chunk)) hold.heldLength += (chunk as string | Uint8Array).length;
  if (hold.heldLength < res.writableHighWaterMark) return true;
  hold.owesDrain = true;
  return false;
}

/** The 'drain' owed for held writes, unless the replay left Node's own buffer full (Node emits it then) or the response ended. */
function drained(res: ServerResponse): void {
  if (!res.writableEnded && !res.destroyed && !res.writableNeedDrain) res.emit('drain');
}

/**
 * Output after the error answer goes nowhere, as on a destroyed response: a write returns false
 * and a callback gets the error, so nobody waits on it forever; `onDropped` may throw it instead.
 */
function drop(res: ServerResponse, hold: Hold, name: Output, args: unknown[]): unknown {
  const error = afterEnd();
  hold.hooks.onDropped?.(error, res);
  callBack(args, error);
  return name === 'write' ? false : res;
}

/** Node's error for output on a response that has ended. */
const afterEnd = () => invalid(Error, 'write after end', 'ERR_STREAM_WRITE_AFTER_END');

/** Calls an output call's callback (its last function argument, if any) with `error`, as Node does: on the next tick. */
function callBack(args: readonly unknown[], error: Error): void {
  const callback = args.findLast((arg) => typeof arg === 'function');
  if (callback !== undefined) process.nextTick(callback as (error: Error) => void, error);
}

const invalid = (Kind: ErrorConstructor, message: string, code: string) => Object.assign(new Kind(message), { code });

/** What Node's `checkInvalidHeaderChar` accepts in a status message. */
const STATUS_MESSAGE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * What Node's `writeHead` does first, done at once: the status checks, then `setHeader` for each
 * header (`removeHeader` and `appendHeader` for a raw array, which may repeat a name). Returns the
 * arguments left to replay.
 */
function takeHeaders(res: ServerResponse, [status, reason, headers]: unknown[]): unknown[] {
  const code = (status as number) | 0;
  if (code < 100 || code > 999) throw invalid(RangeError, `Invalid status code: ${String(status)}`, 'ERR_HTTP_INVALID_STATUS_CODE');
  const message = typeof reason === 'string' ? reason : statusMessageOf(res);
  if (message !== undefined && !STATUS_MESSAGE.test(message))
    throw invalid(TypeError, 'Invalid character in statusMessage', 'ERR_INVALID_CHAR');
  const given = typeof reason === 'string' ? headers : (headers ?? reason);
  if (Array.isArray(given)) {
    if (given.length % 2 !== 0) throw invalid(TypeError, "The argument 'headers' is invalid", 'ERR_INVALID_ARG_VALUE');
    for (let i = 0; i < given.length; i += 2) res.removeHeader(String(given[i]));
    for (let i = 0; i < given.length; i += 2) if (given[i]) res.appendHeader(String(given[i]), given[i + 1] as string);
  } else if (typeof given === 'object' && given !== null) {
    for (const [field, value] of Object.entries(given)) if (field) res.setHeader(field, value as string);
  }
  return typeof reason === 'string' ? [code, reason] : [code];
}

/** Whether `res` is an HTTP/2 response (Node's compatibility API), which has no status message. */
const http2 = (res: ServerResponse): boolean => (res.req?.httpVersionMajor ?? 1) >= 2;

/** `res.statusMessage`, but nothing for HTTP/2: Node prints an UnsupportedWarning at reading or setting one there. */
const statusMessageOf = (res: ServerResponse): string | undefined => (http2(res) ? undefined : res.statusMessage);

const isChunk = (value: unknown): boolean => typeof value === 'string' || value instanceof Uint8Array;

/**
 * The common first call, `end(body)` or `write(chunk, encoding)` on a response whose status and
 * message Node takes: nothing in it Node could refuse, so it needs no rehearsal.
 */
function plainly(res: ServerResponse, name: Output, [chunk, encoding, callback, ...rest]: unknown[]): boolean {
  const { statusCode } = res;
  const statusMessage = statusMessageOf(res);
  return (
    rest.length === 0 &&
    !res.strictContentLength &&
    (name === 'write' ? isChunk(chunk) : chunk === undefined || chunk === null || isChunk(chunk) || typeof chunk === 'function') &&
    (encoding === undefined || typeof encoding === 'function' || (typeof encoding === 'string' && Buffer.isEncoding(encoding))) &&
    (callback === undefined || typeof callback === 'function') &&
    Number.isInteger(statusCode) &&
    statusCode >= 100 &&
    statusCode <= 999 &&
    (statusMessage === undefined || STATUS_MESSAGE.test(statusMessage))
  );
}

/**
 * `args`, after the same call on a stage: a response with no socket, with the real one's status
 * and headers, so a call Node refuses throws here, in the handler. Callbacks stay the real call's.
 */
function rehearsed(res: ServerResponse, name: Output, args: unknown[]): unknown[] {
  // Without its request (a stand-in response) no stage can be built; a refusal is then answered on replay.
  if (plainly(res, name, args) || res.req === undefined) return args;
  const stage = new ServerResponse(res.req);
  // A rehearsed write after end reports its error as an event, as the real one will.
  stage.on('error', () => {});
  stage.statusCode = res.statusCode;
  const statusMessage = statusMessageOf(res);
  if (statusMessage !== undefined) stage.statusMessage = statusMessage;
  stage.strictContentLength = res.strictContentLength;
  for (const field of res.getHeaderNames()) stage.setHeader(field, res.getHeader(field) as string | string[]);
  (ServerResponse.prototype[name] as Method).apply(
    stage,
    args.filter((arg) => typeof arg !== 'function'),
  );
  return args;
}
