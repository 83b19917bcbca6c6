/**
 * The robustness property, through a full request on the adapter: whatever a handler does with
 * its own output and the session, under options drawn from the whole option space, with the
 * memory store and with Redis, the process never sees an unhandled error, no request hangs, the
 * status is the one the framework gives without sess, and no store write happens behind a 5xx.
 * Under a drawn clock too: one that steps back or jumps ahead changes none of that, and one that
 * turns bad (not a finite number, or a throw) fails each request that reads it with a 500, and
 * the store is never written again.
 * Under a drawn `readOnly` too: a read-only request writes nothing, neither to the store nor as a
 * session cookie, and one that changes the session fails with a 500; a `readOnly` that throws or
 * answers a promise fails its request with a 500 before any write.
 *
 * Each adapter serves `GET /behave` and does what the `x-behaviour` header says (see
 * `Behaviour`), once with sess and once without it; the property compares the two.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessUsageError, SessionChanges, SessionManagerOptions, SessionRecord, Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { redisStore } from '@sess/store-redis';
import { createClient } from 'redis';
import { Client } from './client.js';
import type { StartedApp } from './contract.js';
import { SECRET } from './env.js';

/**
 * What the handler does with the session before it answers. `lateWrite` writes as `write` does
 * and leaves a timer that writes again once the handler is done (after the commit, as a rule):
 * such a change is dropped, and must never throw where nothing can catch it. `lateDestroy` writes
 * too and leaves a timer that signs out (the app catching the promise, where there is one): it
 * destroys the record after the answer, and must never throw where nothing can catch it either.
 * `notJson` writes as `write` does and puts a value JSON cannot hold (`{ big: 1n }`) under `big`:
 * the commit fails as the app's bug (`SessUsageError` `data_not_json`), so the answer is the
 * framework's 500 whatever the handler answered, not a 503, and the store keeps the record as it
 * was, the `write` included.
 */
export const SESSION_USES = ['none', 'read', 'write', 'regenerate', 'destroy', 'lateWrite', 'lateDestroy', 'notJson'] as const;
export type SessionUse = (typeof SESSION_USES)[number];

/**
 * How the handler answers, in the framework's own idiom.
 *
 * | output | does |
 * |---|---|
 * | `send` | 200, body `ok` |
 * | `stream` | 200, the body in three chunks (`a`, `b`, `c`) |
 * | `throw` | throws an Error (the framework answers 500) |
 * | `status500` | answers 500 without throwing |
 * | `badHeaderValue` | answers with `Content-Disposition: attachment; filename="naïve✓.txt"`, a value Node refuses, at the moment the framework's idiom sets headers (Express: in `writeHead`'s headers) |
 * | `badStatus` | answers with status 1000, which Node (and every framework) refuses |
 * | `ownCookieAndVary` | 200 with its own `Set-Cookie: app=1; Path=/` and `Vary: Accept`, set the way the idiom allows (Express: in `writeHead`'s headers) |
 * | `raw` | bypasses the framework's response and writes the Node response itself (Koa: `ctx.respond = false`); where the framework has no such thing, as `send` |
 * | `bodyHoldsSession` | 200 with a JSON body `{ "session": <the session object> }` |
 */
export const OUTPUTS = [
  'send',
  'stream',
  'throw',
  'status500',
  'badHeaderValue',
  'badStatus',
  'ownCookieAndVary',
  'raw',
  'bodyHoldsSession',
] as const;
export type Output = (typeof OUTPUTS)[number];

export interface Behaviour {
  readonly session: SessionUse;
  readonly output: Output;
}

/** Reads the behaviour a request asks for (the harness calls it with the `x-behaviour` header). */
export function behaviourOf(header: string | string[] | null | undefined): Behaviour {
  const [session, output] = String(header ?? 'none:send').split(':') as [SessionUse, Output];
  return { session: SESSION_USES.includes(session) ? session : 'none', output: OUTPUTS.includes(output) ? output : 'send' };
}

/** The header value Node refuses in a response: not Latin-1. */
export const BAD_HEADER_VALUE = 'attachment; filename="naïve✓.txt"';

/** Options in sess's own names (the core's); each harness maps them onto its adapter's. */
export type RobustnessOptions = Pick<
  SessionManagerOptions,
  'secret' | 'store' | 'rolling' | 'saveEveryRequest' | 'idleTimeoutMs' | 'maxAgeMs' | 'regenerateGraceMs' | 'clock'
> & {
  /** The adapter's `readOnly(request)`: it ignores its argument, whose type is each framework's own. */
  readonly readOnly?: () => boolean;
  readonly cookie?: { readonly sameSite?: 'lax' | 'strict' | 'none'; readonly secure?: boolean | 'auto'; readonly partitioned?: boolean };
};

export interface RobustnessHarness {
  /** Shown in the describe title. */
  readonly name: string;
  /**
   * Serves `GET /behave`: with sess under `options`, or without sess when `options` is
   * undefined (the session uses are then skipped), its Node listener wrapped in
   * `tracksResponses`, its late timers set with `afterAnswer`. Rejects with the adapter's own
   * error when sess refuses the options.
   */
  start(options: RobustnessOptions | undefined): Promise<StartedApp>;
  /**
   * The outputs whose answer leaves before the session commits (Hono: `raw`, which writes
   * `c.env.outgoing`): the session saves nothing there, so `notJson` gets the framework's own
   * status, as a late change does. None by default.
   */
  readonly sentBeforeCommit?: readonly Output[];
}

type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** The Node response of the request whose work is running: its handler's, its commit's, its timers'. */
const responseInFlight = new AsyncLocalStorage<ServerResponse>();
/** Set in the work of a `lateWrite` or `lateDestroy` timer. */
const lateWork = new AsyncLocalStorage<true>();

/**
 * Wraps the Node listener a harness serves `/behave` with, so that the drawn clock sees which
 * request's work reads it and whether that request had answered by then: the excuse for a bad
 * reading after the answer rests on that, not on guesses.
 */
export function tracksResponses(listener: NodeListener): NodeListener {
  return (req, res) => responseInFlight.run(res, listener, req, res);
}

/**
 * Runs a `lateWrite` or `lateDestroy` change 5 ms from now, marked as such: should it read a bad
 * clock before its request has answered (a slow commit), the request's own work did not.
 */
export function afterAnswer(change: () => void): void {
  setTimeout(() => lateWork.run(true, change), 5);
}

const RUNS = 40;
const REQUEST_TIMEOUT_MS = 5_000;

/**
 * A store that counts the writes it is asked for, so a case can tell what a request wrote. A write
 * of data JSON cannot hold is no write: the store must refuse it with `data_not_json` and keep the
 * record as it was (anything else lands in `faults`), or turn it down as a dead session's
 * (`false`, counted in `deadRefusals`) before it encodes anything.
 */
interface CountingStore extends Store {
  writes: number;
  deadRefusals: number;
  readonly faults: unknown[];
}

function countingStore(inner: Store): CountingStore {
  const refusing = async (id: string, record: SessionRecord, ttlMs: number, changes: SessionChanges | undefined) => {
    const before = JSON.stringify(await inner.get(id));
    let answer: boolean | void;
    try {
      answer = await inner.set(id, record, ttlMs, changes);
    } catch (error) {
      if ((error as SessUsageError).code !== 'data_not_json') throw error;
      const after = JSON.stringify(await inner.get(id));
      // An earlier request's lateDestroy may land meanwhile; a refused write deletes nothing.
      if (after === before || after === undefined) counted.writes -= 1;
      else counted.faults.push(new Error(`a refused write changed the record: ${before} became ${after}`));
      throw error;
    }
    // A destroy that won the race (an earlier request's lateDestroy) leaves nothing to write to.
    if (answer === false) {
      counted.writes -= 1;
      counted.deadRefusals += 1;
    } else counted.faults.push(new Error(`${inner.name} took data JSON cannot hold`));
    return answer;
  };
  const counted: CountingStore = {
    name: inner.name,
    capabilities: inner.capabilities,
    writes: 0,
    deadRefusals: 0,
    faults: [],
    get: (id) => inner.get(id),
    set: (id, record, ttlMs, changes) => {
      counted.writes += 1;
      // Only data JSON cannot hold takes the slower path that reads the record around the write.
      if (!encodes(record.data)) return refusing(id, record, ttlMs, changes);
      return inner.set(id, record, ttlMs, changes);
    },
    destroy: (id) => inner.destroy(id),
    touch: (id, meta, ttlMs) => {
      counted.writes += 1;
      return inner.touch ? inner.touch(id, meta, ttlMs) : Promise.resolve(false);
    },
  };
  return counted;
}

function encodes(data: unknown): boolean {
  try {
    JSON.stringify(data);
    return true;
  } catch {
    return false;
  }
}

/** Mostly options sess accepts, so most runs serve requests; now and then one it must refuse at construction. */
const usually = <T, U>(common: fc.Arbitrary<T>, rare: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 5, arbitrary: common }, { weight: 1, arbitrary: rare });

const optionsArbitrary = fc.record(
  {
    rolling: fc.boolean(),
    saveEveryRequest: fc.boolean(),
    idleTimeoutMs: fc.constantFrom(60_000, 3_600_000),
    maxAgeMs: usually(fc.constantFrom(60_000, 86_400_000), fc.constantFrom(500, 1e16)),
    regenerateGraceMs: fc.constantFrom(0, 5_000),
    cookie: fc.record(
      {
        sameSite: usually(fc.constantFrom('lax' as const, 'strict' as const), fc.constant('none' as const)),
        secure: fc.constantFrom(true, false, 'auto' as const),
        partitioned: usually(fc.constant(false), fc.constant(true)),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);

/** What a drawn clock gives in place of the time once it turns bad (`throws` throws instead). */
const BAD_READINGS = ['NaN', 'Infinity', '-Infinity', 'string', 'undefined', 'Date', 'throws'] as const;
type BadReading = (typeof BAD_READINGS)[number];

/**
 * How the drawn clock behaves, as data so a counterexample shows it. It moves 1 ms a reading and
 * misbehaves from its reading `after + 1` on (sess reads it once at construction, then a few
 * times a request), never after real time: `stepsBack` goes back `byMs` (once, or at each reading
 * when `repeats`), `jumpsForward` goes ahead `byMs`, days, so a session expires between its load
 * and its commit, and `turnsBad` gives `reading` from then on.
 */
type ClockPlan =
  | { readonly kind: 'steady' }
  | { readonly kind: 'stepsBack' | 'jumpsForward'; readonly after: number; readonly byMs: number; readonly repeats: boolean }
  | { readonly kind: 'turnsBad'; readonly after: number; readonly reading: BadReading };

interface CountingClock {
  readonly read: () => number;
  /** Readings sess had to refuse: not a finite number, or a throw. */
  badReadings: number;
  /**
   * Bad readings a request's own work made before its response ended (a late timer's are not
   * its own): that request must fail with a 500. One request is in flight at a time, and those
   * before it have ended, so a bad reading here during a request is that request's.
   */
  badBeforeAnswer: number;
  /** Bad readings made outside any request's work (a harness that serves without `tracksResponses`). */
  badOutsideRequests: number;
  /** The store's write count at the first bad reading of a request's own work (not a late change's): it must not move after it. */
  writesAtTurn: number | undefined;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function countingClock(plan: ClockPlan, store: CountingStore): CountingClock {
  const start = Date.now();
  let readings = 0;
  const clock: CountingClock = {
    badReadings: 0,
    badBeforeAnswer: 0,
    badOutsideRequests: 0,
    writesAtTurn: undefined,
    read: () => {
      readings += 1;
      const time = start + readings;
      if (plan.kind === 'steady' || readings <= plan.after) return time;
      if (plan.kind !== 'turnsBad') {
        const step = plan.byMs * (plan.repeats ? readings - plan.after : 1);
        return plan.kind === 'stepsBack' ? time - step : time + step;
      }
      clock.badReadings += 1;
      // An earlier request's late change may read the clock while this request's commit, which
      // read a good one, is between two writes (a regenerate's save and its retire): only a
      // reading of a request's own work marks the turn. The request after a late bad reading
      // reads a bad clock as it starts, and must then write nothing (the checks below).
      if (lateWork.getStore() === undefined) clock.writesAtTurn ??= store.writes;
      // `writableEnded`, not 'finish': an answer is out of the app's hands once `end()` is called,
      // and Hono's `raw` commits in the same turn as its `end()`, before 'finish' fires.
      const response = responseInFlight.getStore();
      if (response === undefined) clock.badOutsideRequests += 1;
      else if (!response.writableEnded && lateWork.getStore() === undefined) clock.badBeforeAnswer += 1;
      return badReading(plan.reading, time);
    },
  };
  return clock;
}

function badReading(reading: BadReading, time: number): number {
  switch (reading) {
    case 'NaN':
      return Number.NaN;
    case 'Infinity':
      return Number.POSITIVE_INFINITY;
    case '-Infinity':
      return Number.NEGATIVE_INFINITY;
    case 'string':
      return String(time) as unknown as number;
    case 'undefined':
      return undefined as unknown as number;
    case 'Date':
      return new Date(time) as unknown as number;
    case 'throws':
      throw new Error('the clock failed');
  }
}

/** A run makes about a dozen readings: most drawn clocks misbehave within it. */
const afterArbitrary = fc.nat(10);

/** Often no clock option (sess's own `Date.now`); otherwise each kind of drawn clock. */
const clockArbitrary: fc.Arbitrary<ClockPlan | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constant({ kind: 'steady' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stepsBack' as const),
      after: afterArbitrary,
      byMs: fc.constantFrom(HOUR_MS, DAY_MS),
      repeats: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('jumpsForward' as const),
      after: afterArbitrary,
      byMs: fc.constantFrom(2 * DAY_MS, 30 * DAY_MS),
      repeats: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('turnsBad' as const), after: afterArbitrary, reading: fc.constantFrom(...BAD_READINGS) }),
  },
);

/**
 * What the drawn `readOnly` answers, request by request in turn (it ignores its argument): `true`
 * or `false` as such, `throws` throws, `promise` answers a promise of `false`, as an async
 * predicate would.
 */
type ReadOnlyAnswer = boolean | 'throws' | 'promise';

interface CountingReadOnly {
  readonly answer: () => boolean;
  asked: number;
  /** What it answered when last asked: one request is in flight at a time, so that request's. */
  last: ReadOnlyAnswer;
}

function countingReadOnly(answers: readonly ReadOnlyAnswer[]): CountingReadOnly {
  const counted: CountingReadOnly = {
    asked: 0,
    last: false,
    answer: () => {
      const answer = answers[counted.asked % answers.length] as ReadOnlyAnswer;
      counted.asked += 1;
      counted.last = answer;
      if (answer === 'throws') throw new Error('readOnly failed');
      if (answer === 'promise') return Promise.resolve(false) as unknown as boolean;
      return answer;
    },
  };
  return counted;
}

/** Often no `readOnly`; otherwise one answering true or false in turn; now and then one that misbehaves. */
const readOnlyArbitrary: fc.Arbitrary<readonly ReadOnlyAnswer[] | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom<ReadOnlyAnswer>(false, true, 'throws', 'promise'), { minLength: 1, maxLength: 3 }) },
);

/** The session uses that change the session: a read-only request refuses each, and fails with a 500. */
const CHANGES: readonly SessionUse[] = ['write', 'regenerate', 'destroy', 'lateWrite', 'lateDestroy', 'notJson'];

const behaviourArbitrary = fc.record({ session: fc.constantFrom(...SESSION_USES), output: fc.constantFrom(...OUTPUTS) });
const behavioursArbitrary = fc.array(behaviourArbitrary, { minLength: 1, maxLength: 5 });

interface StoreUnderTest {
  readonly name: string;
  create(): Store;
}

/**
 * Registers the property under `describe('robustness: <name>')`, once with the memory store
 * and once with Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`).
 */
export function runRobustnessProperties(harness: RobustnessHarness): void {
  describe(`robustness: ${harness.name}`, () => {
    const redis = createClient({ url: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379' });
    const prefix = `sess-robustness:${randomUUID()}:`;
    let bare: StartedApp;
    const faults: unknown[] = [];
    const onFault = (error: unknown) => void faults.push(error);

    beforeAll(async () => {
      await redis.connect();
      bare = await harness.start(undefined);
      process.on('unhandledRejection', onFault);
      process.on('uncaughtException', onFault);
    });
    afterAll(async () => {
      process.off('unhandledRejection', onFault);
      process.off('uncaughtException', onFault);
      await bare?.close();
      for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length > 0) await redis.del(keys);
      await redis.quit();
    });

    const stores: StoreUnderTest[] = [
      { name: 'memory store', create: () => memoryStore() },
      { name: 'Redis', create: () => redisStore({ client: redis, prefix }) },
    ];

    for (const storeUnderTest of stores) {
      it(`${storeUnderTest.name}: no crash, no hang, the framework's own status, no write behind a 5xx`, { timeout: 120_000 }, async () => {
        let served = 0;
        await fc.assert(
          fc.asyncProperty(optionsArbitrary, readOnlyArbitrary, clockArbitrary, behavioursArbitrary, async (...draw) => {
            const [drawn, answers, plan, behaviours] = draw;
            const store = countingStore(storeUnderTest.create());
            const clock = plan === undefined ? undefined : countingClock(plan, store);
            const readOnly = answers === undefined ? undefined : countingReadOnly(answers);
            // sess reads a custom clock once at construction, and refuses one that does not answer the time then.
            const refusesClock = plan?.kind === 'turnsBad' && plan.after === 0 && plan.reading !== 'throws';
            let app: StartedApp;
            try {
              app = await harness.start({
                secret: SECRET,
                store,
                ...drawn,
                ...(readOnly && { readOnly: readOnly.answer }),
                ...(clock && { clock: clock.read }),
              });
            } catch (error) {
              // Options sess refuses are refused here, at construction, and nowhere later.
              expect((error as Error).name).toBe('SessConfigError');
              return;
            }
            expect(refusesClock, `a clock whose first reading is not the time was taken: ${JSON.stringify(plan)}`).toBe(false);
            served += 1;
            try {
              const client = new Client(app.url);
              const bareClient = new Client(bare.url);
              for (const behaviour of behaviours) {
                const ask = {
                  headers: { 'x-behaviour': `${behaviour.session}:${behaviour.output}` },
                  signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
                };
                const writesBefore = store.writes;
                const deadRefusalsBefore = store.deadRefusals;
                const hadCookie = client.jar.has('sid');
                const badBefore = clock?.badReadings ?? 0;
                const readOnlyAskedBefore = readOnly?.asked ?? 0;
                const reply = await client.request('/behave', ask);
                const expected = await bareClient.request('/behave', { ...ask, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
                const readOnlyAnswer = readOnly?.last ?? false;
                const label =
                  `${behaviour.session}:${behaviour.output} with ${JSON.stringify(drawn)}, clock ${JSON.stringify(plan)}, ` +
                  `readOnly ${JSON.stringify(answers)} (answered ${JSON.stringify(readOnlyAnswer)})`;
                if (readOnly !== undefined) expect(readOnly.asked - readOnlyAskedBefore, `readOnly asked per request: ${label}`).toBe(1);
                // A readOnly that throws or answers a promise fails the request before the handler
                // runs; a change on a read-only request throws in the handler.
                const readOnlyFails = readOnlyAnswer === 'throws' || readOnlyAnswer === 'promise';
                const refusesChange = readOnlyAnswer === true && CHANGES.includes(behaviour.session);
                if (readOnlyFails || refusesChange) expect(reply.status, `a refused request not answered 500: ${label}`).toBe(500);
                if (readOnlyAnswer !== false) {
                  expect(store.writes, `a write on a read-only request: ${label}`).toBe(writesBefore);
                  // Not even a deletion: a writer in parallel may have moved the browser to a new id.
                  expect(
                    reply.setCookies.filter((line) => line.startsWith('sid=')),
                    `a session cookie on a read-only request: ${label}`,
                  ).toEqual([]);
                }
                // Every request reads the clock as it starts: once a reading was bad, each fails
                // with a 500 before any write. So does the one during which the first bad reading
                // was made, unless its own work read no bad clock before its response ended: the
                // bad readings were then a late timer's (this request's or an earlier one's), or
                // its commit's after an answer sent before it (Hono's `raw`).
                const clockFailed = clock !== undefined && clock.badReadings > 0;
                const clockFailedAfterAnswer =
                  clockFailed && badBefore === 0 && clock.badBeforeAnswer === 0 && clock.badOutsideRequests === 0;
                if (clockFailed && !clockFailedAfterAnswer) {
                  expect(reply.status, `a clock reading sess refused: ${label}`).toBe(500);
                  expect(store.writes, `a write despite a clock reading sess refused: ${label}`).toBe(writesBefore);
                }
                if (clock?.writesAtTurn !== undefined)
                  expect(store.writes, `a write after a clock reading sess refused: ${label}`).toBeLessThanOrEqual(clock.writesAtTurn);
                // Data JSON cannot hold fails the commit, which is the app's bug: a 500 whatever the
                // handler answered, unless there was nothing to commit to.
                const failsCommit =
                  behaviour.session === 'notJson' &&
                  harness.sentBeforeCommit?.includes(behaviour.output) !== true &&
                  store.deadRefusals === deadRefusalsBefore;
                if (!readOnlyFails && !refusesChange && (!clockFailed || clockFailedAfterAnswer))
                  expect(reply.status, label).toBe(failsCommit ? 500 : expected.status);
                expect(store.faults, label).toEqual([]);
                if (reply.status >= 500 || behaviour.session === 'notJson')
                  expect(
                    store.writes,
                    `${reply.status >= 500 ? `a write behind a ${reply.status}` : 'a write of data JSON cannot hold'}: ${label}`,
                  ).toBe(writesBefore);
                if (behaviour.output === 'ownCookieAndVary' && reply.status === 200) {
                  expect(
                    reply.setCookies.some((line) => line.startsWith('app=1')),
                    label,
                  ).toBe(true);
                  const vary = (reply.headers.get('vary') ?? '').toLowerCase();
                  expect(vary, label).toContain('accept');
                  if (behaviour.session !== 'none') expect(vary, label).toContain('cookie');
                  // The app's own Set-Cookie must not push out the session's first cookie.
                  if (behaviour.session === 'write' && !hadCookie)
                    expect(
                      reply.setCookies.some((line) => line.startsWith('sid=')),
                      label,
                    ).toBe(true);
                }
              }
              expect(faults).toEqual([]);
            } finally {
              await app.close();
            }
          }),
          { numRuns: RUNS },
        );
        // Most draws are options sess accepts: the property is about requests, not refusals.
        expect(served).toBeGreaterThanOrEqual(RUNS / 3);
      });
    }
  });
}
