/**
 * What h3 (and srvx under it) print for errors a test provokes on purpose: captured instead of
 * printed, so the run's output shows only what nobody expected, and returned for the test to
 * check. Anything else logged goes to the console as usual.
 */
import { afterEach, beforeEach, expect, vi } from 'vitest';

/** One captured line: its tag (`[h3]`, `[srvx]`, `[@sess/h3/v1]`; h3 v2 logs the bare error) and the error it carried. */
export interface Logged {
  readonly tag: string;
  readonly error: unknown;
}

const TAG = /^\[(h3|srvx|@sess\/h3)/;

/** Starts capturing; `stop()` puts console.error back and returns what was captured. */
export function captureFrameworkLogs(): { readonly logged: Logged[]; stop(): Logged[] } {
  const logged: Logged[] = [];
  const original = console.error.bind(console);
  const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    const [tag] = args;
    if (typeof tag === 'string' && TAG.test(tag)) logged.push({ tag, error: args.find((arg) => arg instanceof Error) });
    else if (tag instanceof Error) logged.push({ tag: '', error: tag });
    else original(...args);
  });
  return {
    logged,
    stop() {
      spy.mockRestore();
      return logged;
    },
  };
}

/** The Node error code or message behind an error as h3 wraps it (`H3Error`/`HTTPError` keep it as `cause`). */
export function describeError(error: unknown): string {
  const inner = (error as { cause?: unknown } | undefined)?.cause ?? error;
  const { code, message } = (inner ?? {}) as { code?: unknown; message?: unknown };
  return typeof code === 'string' ? code : String(message);
}

/**
 * For a whole file: captures the framework's error lines in every test and, after each, fails
 * the test on any line whose error `expected` does not accept.
 */
export function expectOnlyLoggedErrors(expected: (error: unknown) => boolean): void {
  let capture: ReturnType<typeof captureFrameworkLogs> | undefined;
  beforeEach(() => {
    capture = captureFrameworkLogs();
  });
  afterEach(() => {
    const logged = capture?.stop() ?? [];
    capture = undefined;
    expect(logged.filter(({ error }) => !expected(error)).map(({ tag, error }) => `${tag} ${describeError(error)}`)).toEqual([]);
  });
}
