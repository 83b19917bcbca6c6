/**
 * The store's statements under a deadline that cancels them on the server (`timeoutMs` for
 * session calls and the sweep, `adminTimeoutMs` for `clear` and `migrate`). Giving up on the promise
 * alone (as a client-side timeout does) leaves the statement running: it keeps its connection
 * busy, and a write it makes commits after the caller was told it failed.
 *
 * On a node-postgres `Pool`, each statement runs on a connection of its own. At the deadline a
 * statement still running gets PostgreSQL's cancel request, and the call waits for the server's
 * verdict: a cancelled statement rolled back, so the call fails, and a statement that finished
 * first answers with what it did. The cancel request is sent again every period (one sent while
 * the statement was still on its way is ignored); if no verdict comes within a second deadline,
 * the connection is destroyed and the call fails. A connection that was sent a cancel is
 * destroyed, never pooled again: a late cancel must not hit the next statement on it.
 *
 * On a node-postgres `Client`, the store's statements take turns (see `Turns`), so the cancel
 * reaches the statement past its deadline and no other of the store's; the Client is kept.
 * Anything else with `query` can only be given up on (`withGiveUp`).
 */
import { connect } from 'node:net';
import { SessUsageError } from '@sess/core';
import type { DeadlineSweep, Watched } from '@sess/core/store';
import { type PostgresStoreMethod, storeError, storeFailure } from './errors.js';

/** What a cancel request needs of a connection: node-postgres's `Client` and `PoolClient` both have it once connected. */
interface CancelTarget {
  readonly processID?: number | null;
  readonly secretKey?: number | null;
  readonly host?: string;
  readonly port?: number;
}

/** The part of node-postgres's `PoolClient` used here. */
export interface PooledClient extends CancelTarget {
  query(text: string, values?: unknown[]): Promise<unknown>;
  /** A truthy argument destroys the connection instead of pooling it. */
  release(destroy?: boolean | Error): void;
  on(event: 'error', listener: () => void): unknown;
  removeListener(event: 'error', listener: () => void): unknown;
}

/** A node-postgres `Client`: one connection, whose statements run one at a time. */
export interface CancellableClient extends CancelTarget {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** A node-postgres `Pool`: `connect()` hands out a client whose backend can be cancelled. */
export interface CancellablePool {
  connect(): Promise<PooledClient>;
  readonly totalCount: number;
}

/**
 * Whether `pool` is a node-postgres `Pool`. A `Client` has `connect()` too (which connects it
 * again and fails), so the pool's own counter tells them apart; anything else keeps `query`.
 */
export function isCancellablePool(pool: object): pool is CancellablePool {
  const candidate = pool as Partial<CancellablePool>;
  return typeof candidate.connect === 'function' && typeof candidate.totalCount === 'number';
}

/**
 * Whether `pool`, not a `Pool` (ask `isCancellablePool` first), is a node-postgres `Client`: it
 * has `connect()` and the fields of the backend key, null until it connects.
 */
export function isCancellableClient(pool: object): pool is CancellableClient {
  return typeof (pool as { connect?: unknown }).connect === 'function' && 'processID' in pool && 'secretKey' in pool;
}

/** PostgreSQL's CancelRequest code (1234 in the high 16 bits, 5678 in the low). */
const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * Asks the server to cancel what `target`'s backend is running, on a connection of its own (the
 * protocol's CancelRequest, as libpq's PQcancel sends it). Fire and forget: the statement's own
 * answer says whether it was cancelled. `onClosed` runs once that connection is closed: the
 * server closes it only after signalling the backend, so a cancel can no longer arrive later.
 */
function sendCancel(target: CancelTarget, onClosed?: () => void): void {
  const { processID, secretKey, host, port } = target;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || typeof port !== 'number') {
    onClosed?.();
    return;
  }
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const socket = host?.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
  // A cancel never keeps the process alive, nor waits longer than the hard stop would.
  socket.unref();
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on('connect', () => socket.end(packet));
  // A cancel that cannot be delivered changes nothing: the next one, or the hard stop, follows.
  socket.on('error', () => socket.destroy());
  if (onClosed !== undefined) socket.once('close', onClosed);
}

/** SQLSTATE query_canceled: what a statement our cancel reached fails with. */
const QUERY_CANCELED = '57014';

/** A call's deadline: its length and the option that set it, which the call's failure names. */
export interface Limit {
  readonly option: 'timeoutMs' | 'adminTimeoutMs';
  readonly ms: number;
}

/** `limit` as a failure's message names it: `timeoutMs (2000 ms)`. */
function named(limit: Limit): string {
  return `${limit.option} (${limit.ms} ms)`;
}

/** What a call fails with when its statement failed: said plainly when our cancel stopped it. */
function statementFailure(method: PostgresStoreMethod, error: unknown, cancelled: boolean, limit: Limit): unknown {
  return cancelled && (error as { code?: unknown } | null)?.code === QUERY_CANCELED
    ? storeError(method, `the statement ran past ${named(limit)} and was cancelled`, error, true)
    : storeFailure(method, error);
}

/**
 * The 'error' listener of a connection while the store has it out of the pool. pg-pool listens
 * only to idle connections, and node-postgres emits 'error' on one lost mid-statement without an
 * ErrorResponse (a network failure, a proxy restarting, a crash restart of the server): unheard,
 * that ends the process. The statement's own rejection already reports the loss to the call.
 */
function heardElsewhere(): void {}

/** Returns `connection` to the pool (destroyed when `destroy`), which listens to it again. */
function giveBack(connection: PooledClient, destroy: boolean): void {
  connection.removeListener('error', heardElsewhere);
  connection.release(destroy);
}

/**
 * Runs `work` on a client of `pool` under the deadline `limit` on `sweep`: see the module
 * comment. `work` gets `expired()`, which turns true once the deadline passed, so it sends no
 * further statement (a retry) after a cancel.
 */
export function withDeadline<T>(
  method: PostgresStoreMethod,
  pool: CancellablePool,
  sweep: DeadlineSweep,
  limit: Limit,
  work: (client: PooledClient, expired: () => boolean) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let client: PooledClient | undefined;
    let cancelled = false;
    let settled = false;
    const stopAt = sweep.now() + 2 * limit.ms;
    const period = Math.max(10, Math.ceil(limit.ms / 10));
    const fail = (error: unknown) => {
      settled = true;
      reject(error);
    };
    const call: { deadline: number } & Watched = {
      deadline: sweep.now() + limit.ms,
      expire() {
        if (client === undefined) {
          // Still waiting for a connection: nothing was sent, so nothing can commit.
          fail(storeError(method, `no pool connection within ${named(limit)}; nothing was sent`, undefined, true));
          return;
        }
        if (sweep.now() >= stopAt) {
          // No verdict after a second deadline (an unreachable server): the connection goes.
          giveBack(client, true);
          fail(storeError(method, `no answer to the cancel of a statement past ${named(limit)}`, undefined, true));
          return;
        }
        cancelled = true;
        sendCancel(client);
        call.deadline = sweep.now() + period;
        sweep.watch(call);
      },
    };
    sweep.watch(call);
    pool.connect().then(
      (connected) => {
        if (settled) {
          // The deadline passed while the pool made us wait: the connection was never used.
          connected.release();
          return;
        }
        client = connected;
        connected.on('error', heardElsewhere);
        work(connected, () => cancelled).then(
          (value) => {
            sweep.release(call);
            if (settled) return;
            giveBack(connected, cancelled);
            settled = true;
            resolve(value);
          },
          (error: unknown) => {
            sweep.release(call);
            if (settled) return;
            // As pg's pool.query does on any error: the connection's state is not known.
            giveBack(connected, true);
            fail(statementFailure(method, error, cancelled, limit));
          },
        );
      },
      (error: unknown) => {
        sweep.release(call);
        if (!settled) fail(storeFailure(method, error));
      },
    );
  });
}

/**
 * The store's statements on one `Client`, one at a time. A cancel request stops whatever the
 * connection is running, so a statement is sent only once the store's statement before it has
 * answered and every cancel sent for that one has been delivered: a late cancel never reaches the
 * next. Shared by every store on the Client; statements the app sends on it do not take turns.
 */
class Turns {
  /** Calls waiting, in order; each returns false when it gave up meanwhile, taking no turn. */
  private readonly waiting: (() => boolean)[] = [];
  private busy = false;

  take(start: () => boolean): void {
    this.waiting.push(start);
    if (!this.busy) this.pass();
  }

  /** Ends the current turn: the next call still waiting starts. */
  pass(): void {
    for (;;) {
      const start = this.waiting.shift();
      if (start === undefined) {
        this.busy = false;
        return;
      }
      this.busy = true;
      if (start()) return;
    }
  }
}

/**
 * Why `client` cannot run a statement, or undefined. node-postgres queues a query on a Client
 * that was never connected, or whose `connect()` failed, and never answers it: the call would
 * fail only at its deadline, as a timeout, every later call would wait behind it, and a write so
 * queued would still commit if the app connected the Client later. pg has no public field for
 * this, so its own are read; anything without them (another driver) is let through.
 */
function unconnected(method: PostgresStoreMethod, client: CancellableClient): Error | undefined {
  const { _connecting, _connected, _connectionError } = client as {
    _connecting?: unknown;
    _connected?: unknown;
    _connectionError?: unknown;
  };
  if (_connectionError === true) {
    return storeError(
      method,
      "the pg Client's connect() failed, and a Client never connects again: make a new pg.Client, await client.connect(), and give the store that one (a pg Pool reconnects by itself)",
      undefined,
      false,
    );
  }
  if (_connecting === false && _connected === false) {
    return new SessUsageError(
      `postgresStore: ${method}: the pg Client given as pool was never connected: await client.connect() before the store's first call (a pg Pool connects by itself)`,
    );
  }
  return undefined;
}

const clientTurns = new WeakMap<object, Turns>();

function turnsOn(client: object): Turns {
  let turns = clientTurns.get(client);
  if (turns === undefined) {
    turns = new Turns();
    clientTurns.set(client, turns);
  }
  return turns;
}

/**
 * Runs `work` in its turn on `client` under the deadline `limit` on `sweep`. A call still
 * waiting for its turn at the deadline fails without sending anything. A statement still running
 * is cancelled as on a pool (see the module comment), and the call fails at the server's verdict,
 * or after a second deadline without one; the turn passes only once the statement answered, so
 * nothing is sent behind a statement that may still commit, and the Client stays usable.
 */
export function withClientDeadline<T>(
  method: PostgresStoreMethod,
  client: CancellableClient,
  sweep: DeadlineSweep,
  limit: Limit,
  work: (expired: () => boolean) => Promise<T>,
): Promise<T> {
  const turns = turnsOn(client);
  return new Promise<T>((resolve, reject) => {
    let started = false;
    let answered = false;
    let cancelled = false;
    let settled = false;
    let cancelsOpen = 0;
    const stopAt = sweep.now() + 2 * limit.ms;
    const period = Math.max(10, Math.ceil(limit.ms / 10));
    const fail = (error: unknown) => {
      settled = true;
      reject(error);
    };
    const passWhenQuiet = () => {
      if (answered && cancelsOpen === 0) turns.pass();
    };
    const cancelClosed = () => {
      cancelsOpen -= 1;
      passWhenQuiet();
    };
    const call: { deadline: number } & Watched = {
      deadline: sweep.now() + limit.ms,
      expire() {
        if (!started) {
          fail(storeError(method, `no turn on the pg Client within ${named(limit)}; nothing was sent`, undefined, true));
          return;
        }
        if (sweep.now() >= stopAt) {
          // No verdict after a second deadline (an unreachable server): the turn stays taken until one comes.
          fail(storeError(method, `no answer to the cancel of a statement past ${named(limit)}`, undefined, true));
          return;
        }
        cancelled = true;
        cancelsOpen += 1;
        sendCancel(client, cancelClosed);
        call.deadline = sweep.now() + period;
        sweep.watch(call);
      },
    };
    const answer = () => {
      sweep.release(call);
      answered = true;
      passWhenQuiet();
    };
    sweep.watch(call);
    turns.take(() => {
      if (settled) return false;
      const refused = unconnected(method, client);
      if (refused !== undefined) {
        sweep.release(call);
        fail(refused);
        return false;
      }
      started = true;
      work(() => cancelled).then(
        (value) => {
          answer();
          if (settled) return;
          settled = true;
          resolve(value);
        },
        (error: unknown) => {
          answer();
          if (!settled) fail(statementFailure(method, error, cancelled, limit));
        },
      );
      return true;
    });
  });
}

/**
 * Runs `work` on a pool the store cannot cancel on (a wrapper with only `query`), giving up at
 * `limit`: the call fails then, but the statement runs on and a write can still commit.
 * `work` gets `expired()`, so it sends no retry after that.
 */
export function withGiveUp<T>(
  method: PostgresStoreMethod,
  sweep: DeadlineSweep,
  limit: Limit,
  work: (expired: () => boolean) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const call: Watched = {
      deadline: sweep.now() + limit.ms,
      expire() {
        expired = true;
        reject(
          storeError(
            method,
            `no answer within ${named(limit)}; the statement was not cancelled (the pool is neither a pg Pool nor a pg Client) and may still commit`,
            undefined,
            true,
          ),
        );
      },
    };
    sweep.watch(call);
    work(() => expired).then(
      (value) => {
        sweep.release(call);
        resolve(value);
      },
      (error: unknown) => {
        sweep.release(call);
        reject(storeFailure(method, error));
      },
    );
  });
}
