/**
 * The one error the store throws, and how it reads the errors clients throw: which mean Redis
 * did not run the command (safe to send again), which mean the connection failed (the command
 * may or may not have run), and which name a reply code such as NOSCRIPT however deeply a client
 * wrapped it.
 */
import { SessStoreError, type StoreOperation } from '@sess/core';

/**
 * Why a store call failed: `unavailable` (the client is not connected, or the connection or the
 * cluster failed and did not come back before the deadline), `timeout` (no answer within
 * `timeoutMs`), `failed` (Redis answered with an error).
 */
export type RedisStoreErrorReason = 'unavailable' | 'timeout' | 'failed';

/** The store method that failed. */
export type RedisStoreMethod = 'get' | 'set' | 'destroy' | 'touch' | 'sessionsOf' | 'revokeUser' | 'ids' | 'clear';

/** The core operation each method counts as, for `SessStoreError.op`. */
const OPERATION: Record<RedisStoreMethod, StoreOperation> = {
  get: 'get',
  set: 'set',
  destroy: 'destroy',
  touch: 'touch',
  sessionsOf: 'get',
  revokeUser: 'destroy',
  ids: 'get',
  clear: 'destroy',
};

/**
 * Every failure of a store call, whatever the client threw: a `SessStoreError` (so a
 * `SessError`, status hint 503) with `code` `store_timeout` for a timeout and `store_failed`
 * otherwise, the reason in `reason`, the store method in `method`, and the client's own error
 * (the last one seen) as `cause`.
 */
export class RedisStoreError extends SessStoreError {
  readonly reason: RedisStoreErrorReason;
  readonly method: RedisStoreMethod;

  constructor(method: RedisStoreMethod, reason: RedisStoreErrorReason, detail: string, cause?: unknown) {
    super('redis', OPERATION[method], cause, reason === 'timeout');
    this.message = `[sess] redisStore: ${method}: ${detail}`;
    this.reason = reason;
    this.method = method;
  }
}

/**
 * The messages of an error and of what it wraps (`cause`, ioredis's `lastNodeError`, an
 * AggregateError's `errors`), outermost first, a few levels deep.
 */
function messagesOf(error: unknown, depth = 0): string[] {
  if (depth > 4 || typeof error !== 'object' || error === null) return typeof error === 'string' ? [error] : [];
  const e = error as { message?: unknown; cause?: unknown; lastNodeError?: unknown; errors?: unknown };
  const own = typeof e.message === 'string' ? [e.message] : [];
  const inner = [e.cause, e.lastNodeError, ...(Array.isArray(e.errors) ? e.errors : [])];
  return [...own, ...inner.flatMap((wrapped) => messagesOf(wrapped, depth + 1))];
}

/**
 * Whether Redis answered `code` (NOSCRIPT, WRONGTYPE...), in the error or what it wraps. A reply's
 * code is the first word of its message, or follows ioredis's "Too many Cluster redirections. Last
 * error: " (with the error's name); the same word elsewhere in a message is just text.
 */
export function repliedWith(error: unknown, code: string): boolean {
  const reply = new RegExp(`^(Too many Cluster redirections\\. Last error: (\\w+: )?)?${code}\\b`);
  return messagesOf(error).some((message) => reply.test(message));
}

/**
 * Replies by which Redis refuses a command it did not run, and that pass: the cluster is failing
 * over (CLUSTERDOWN, TRYAGAIN), a slot moved (MOVED, ASK, which a client that gave up following
 * passes on), the node is loading its data (LOADING), its master is gone (MASTERDOWN), it is
 * running a script past `busy-reply-threshold` (BUSY: it ends, or SCRIPT KILL ends it), it has
 * fewer replicas in sync than `min-replicas-to-write` (NOREPLICAS) or it has become a replica
 * (READONLY: a failover demoted it; the write lands once it is promoted back or the client
 * reconnects to the new master). A script refused either way stops at its first write, so it
 * wrote nothing.
 */
const NOT_RUN = /^(CLUSTERDOWN|TRYAGAIN|MOVED|ASK|LOADING|MASTERDOWN|BUSY|NOREPLICAS|READONLY)\b/;

/**
 * What node-redis's cluster client throws when a command meets its slot map while a failover has
 * it rebuilt (the slot has no master yet): it failed choosing a node, before sending anything.
 */
const SLOT_MAP_REBUILDING = /^Cannot read properties of undefined \(reading 'master'\)$/;

/**
 * What node-redis and ioredis throw when a connection, a node or the cluster's slot map failed,
 * or the app closed the client while a call was running, rather than Redis refusing the command.
 * The command may have run.
 */
const CONNECTION_LOST = new RegExp(
  [
    'Connection is closed',
    'The client is closed',
    'client is offline',
    'Socket closed unexpectedly',
    'Disconnects client',
    'Connection timeout',
    'Socket timeout',
    'Command timed out',
    'Too many Cluster redirections',
    'root nodes are unavailable',
    'None of startup nodes is available',
    "Stream isn't writeable",
    "Cluster isn't ready",
    'Reached the max retries per request',
    'Cannot find node',
    '\\bE(CONNREFUSED|CONNRESET|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|CONNABORTED)\\b',
  ].join('|'),
);

/**
 * How a failed command may be retried: `not-run` (Redis refused it; sending it again is always
 * safe), `lost` (the connection failed; it may have run, so only an idempotent command may be sent
 * again), or `final` (an answer: retrying cannot change it).
 */
export type FailureKind = 'not-run' | 'lost' | 'final';

export function failureKind(error: unknown): FailureKind {
  // A script missing from the cache stays missing: the caller sends its source instead.
  if (repliedWith(error, 'NOSCRIPT')) return 'final';
  const messages = messagesOf(error);
  if (messages.some((message) => NOT_RUN.test(message) || SLOT_MAP_REBUILDING.test(message))) return 'not-run';
  if (messages.some((message) => CONNECTION_LOST.test(message))) return 'lost';
  return 'final';
}

/**
 * Replies by which a server says it will not run a script, whatever the moment: scripting absent or
 * renamed away ("ERR unknown command 'evalsha'"), a command the script calls unknown to it or not
 * allowed in scripts, an ACL that forbids the script or a key it reads (NOPERM, "The user executing
 * the script can't ..."), keys read without being declared refused (Dragonfly: "script tried
 * accessing undeclared key"; a cluster node: "non local key", "do not hash to the same slot"; a
 * proxy: CROSSSLOT), or a client that renames keys so the script cannot find its own ("sess LOAD:
 * unexpected key"). Other final errors (OOM, a script killed, a key of the wrong type) pass.
 */
const SCRIPT_REFUSED =
  /^(NOPERM|CROSSSLOT)\b|unknown (redis )?command|not allowed from script|the user executing the script can't|undeclared key|non local key|do not hash to the same slot|sess LOAD: unexpected key/i;

/** Whether `error` says the server will not run a script at all (see `SCRIPT_REFUSED`), rather than that one run failed. */
export function scriptRefused(error: unknown): boolean {
  return messagesOf(error).some((message) => SCRIPT_REFUSED.test(message));
}

/** A short description of a client's error for a message: its first line. */
export function describeError(error: unknown): string {
  const [first] = messagesOf(error);
  return (first ?? String(error)).split('\n')[0] as string;
}
