import { describe, it } from 'vitest';
import type { Store } from '@sess/core';

/**
 * Store time the suite can move. Give it when the store under test takes a controllable clock
 * (the memory store does); without it, TTL checks use short real TTLs and poll for the expiry.
 */
export interface StoreClock {
  /** Moves the store's notion of "now" forward by `ms`. */
  advance(ms: number): void | Promise<void>;
}

/** A `StoreClock` that also reads: hand `now` to the store under test, `advance` to the suite. */
export interface FakeStoreClock extends StoreClock {
  readonly now: () => number;
  advance(ms: number): void;
}

/** A clock that moves only when told, from a fixed instant. */
export function fakeStoreClock(start = Date.UTC(2026, 0, 15, 12)): FakeStoreClock {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
  };
}

/** What one check runs against: a fresh store and, if the store has one, its clock. */
export interface CheckContext {
  readonly store: Store;
  readonly clock: StoreClock | undefined;
  /**
   * Makes a second store over the same backend in another namespace (another prefix, table...),
   * when the suite was given `createSibling`; the suite cleans it up and closes it after the check.
   */
  readonly sibling?: () => Promise<Store>;
}

/**
 * One clause of the store contract as a plain async function: it resolves when the store keeps
 * the clause and rejects when it does not. `runStoreConformance` wraps each check in an `it`;
 * outside vitest's registration (a custom harness, the suite's own self-test) call `runCheck`.
 */
export interface Check {
  /** A sentence of the contract; becomes the test title. */
  readonly title: string;
  /**
   * Why the check does not apply to this store (a missing optional method or capability, or no
   * clock or sibling in `t`). `t` is absent only for a harness that decides from the store alone.
   */
  readonly skipReason?: (store: Store, t?: CheckContext) => string | undefined;
  readonly run: (t: CheckContext) => Promise<void>;
}

/** A clause: a group of checks shown as one `describe`. */
export interface Clause {
  readonly name: string;
  readonly checks: readonly Check[];
}

/** Runs one check; resolves to 'skipped' when it does not apply to the store, rejects on failure. */
export async function runCheck(check: Check, t: CheckContext): Promise<'passed' | 'skipped'> {
  if (check.skipReason?.(t.store, t) !== undefined) return 'skipped';
  await check.run(t);
  return 'passed';
}

/** Hands the registered tests the store created for the current test. */
export interface CaseEnv {
  readonly context: () => CheckContext;
  readonly timeoutMs: number;
}

/** Registers a clause's checks as `it`s; a check that does not apply is skipped with its reason. */
export function registerClause(clause: Clause, env: CaseEnv): void {
  describe(clause.name, () => {
    for (const check of clause.checks) {
      it(
        check.title,
        async (ctx) => {
          const t = env.context();
          const reason = check.skipReason?.(t.store, t);
          if (reason !== undefined) ctx.skip(reason);
          await check.run(t);
        },
        env.timeoutMs,
      );
    }
  });
}
