/**
 * One statement under a deadline, on a connection of its own from a node-postgres `Pool`, so
 * that it can be cancelled on the server. Giving up on the promise alone (as a client-side
 * timeout does) leaves the statement running: it keeps its connection busy, and a write it makes
 * commits after the caller was told it failed.
 *
 * At the deadline a statement still running gets PostgreSQL's cancel request, and the call waits
 * for the server's verdict: a cancelled statement rolled back, so the call fails, and a statement
 * that finished first answers with what it did. The cancel request is sent again every period
 * (one sent while the statement was still on its way is ignored); if no verdict comes within a
 * second `timeoutMs`, the connection is destroyed and the call fails. A connection that was sent
 * a cancel is destroyed, never pooled again: a late cancel must not hit the next statement on it.
 */
import { connect } from 'node:net';
import type { DeadlineSweep, Watched } from '@sess/core/store';

/** The part of node-postgres's `PoolClient` used here. */
export interface PooledClient {
  query(text: string, values?: unknown[]): Promise<unknown>;
  /** A truthy argument destroys the connection instead of pooling it. */
  release(destroy?: boolean | Error): void;
  readonly processID?: number | null;
  readonly secretKey?: number | null;
  readonly host?: string;
  readonly port?: number;
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

/** PostgreSQL's CancelRequest code (1234 in the high 16 bits, 5678 in the low). */
const CANCEL_REQUEST_CODE = 80_877_102;

/**
 * Asks the server to cancel what `client`'s backend is running, on a connection of its own (the
 * protocol's CancelRequest, as libpq's PQcancel sends it). Fire and forget: the statement's own
 * answer says whether it was cancelled.
 */
function sendCancel(client: PooledClient): void {
  const { processID, secretKey, host, port } = client;
  if (typeof processID !== 'number' || typeof secretKey !== 'number' || typeof port !== 'number') return;
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
}

/** SQLSTATE query_canceled: what a statement our cancel reached fails with. */
const QUERY_CANCELED = '57014';

/**
 * Runs `work` on a client of `pool` under a deadline of `timeoutMs` on `sweep`: see the module
 * comment. `work` gets `expired()`, which turns true once the deadline passed, so it sends no
 * further statement (a retry) after a cancel.
 */
export function withDeadline<T>(
  pool: CancellablePool,
  sweep: DeadlineSweep,
  timeoutMs: number,
  work: (client: PooledClient, expired: () => boolean) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let client: PooledClient | undefined;
    let cancelled = false;
    let settled = false;
    const stopAt = sweep.now() + 2 * timeoutMs;
    const period = Math.max(10, Math.ceil(timeoutMs / 10));
    const fail = (error: unknown) => {
      settled = true;
      reject(error);
    };
    const call: { deadline: number } & Watched = {
      deadline: sweep.now() + timeoutMs,
      expire() {
        if (client === undefined) {
          // Still waiting for a connection: nothing was sent, so nothing can commit.
          fail(new Error(`postgresStore: no pool connection within timeoutMs (${timeoutMs} ms); nothing was sent`));
          return;
        }
        if (sweep.now() >= stopAt) {
          // No verdict after a second timeoutMs (an unreachable server): the connection goes.
          client.release(true);
          fail(new Error(`postgresStore: no answer to the cancel of a statement past timeoutMs (${timeoutMs} ms)`));
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
        work(connected, () => cancelled).then(
          (value) => {
            sweep.release(call);
            if (settled) return;
            connected.release(cancelled);
            settled = true;
            resolve(value);
          },
          (error: unknown) => {
            sweep.release(call);
            if (settled) return;
            // As pg's pool.query does on any error: the connection's state is not known.
            connected.release(true);
            fail(
              cancelled && (error as { code?: unknown } | null)?.code === QUERY_CANCELED
                ? new Error(`postgresStore: the statement ran past timeoutMs (${timeoutMs} ms) and was cancelled`, {
                    cause: error,
                  })
                : error,
            );
          },
        );
      },
      (error: unknown) => {
        sweep.release(call);
        if (!settled) fail(error);
      },
    );
  });
}
