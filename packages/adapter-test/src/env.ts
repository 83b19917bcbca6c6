import { createSigner } from '@sess/core';
import type { Signer } from '@sess/core';
import { Client } from './client.js';
import type { it } from 'vitest';
import type { AdapterOptions, KnownBug } from './contract.js';
import { fakeClock, inspectableStore } from './store.js';
import type { FakeClock, InspectableStore } from './store.js';

export const SECRET = 'adapter-conformance-secret-of-32-bytes!';
/** The core's default lifetime; the suite checks cookies against it. */
export const DAY_MS = 86_400_000;

/** One started app and what a case inspects it with. */
export interface CaseContext {
  /** The app's base URL, for raw requests. */
  readonly url: string;
  /** Whether the harness asked for the long adversarial cases in full. */
  readonly heavy: boolean;
  readonly client: Client;
  /** A second browser, for the attacker or a stranger. */
  newClient(): Client;
  readonly store: InspectableStore;
  readonly clock: FakeClock;
  readonly signer: Signer;
  /** The id inside the session cookie the client holds. */
  idInJar(client?: Client): string | undefined;
}

export interface CaseEnv {
  /** `it`, or `it.fails` when the harness declared this case a known bug. */
  it(bug: KnownBug): typeof it | typeof it.fails;
  /** Starts an app on a fresh store and clock; `secret` defaults to `SECRET`. */
  start(overrides?: Partial<Omit<AdapterOptions, 'store' | 'clock'>>): Promise<CaseContext>;
}

export function caseContext(url: string, store: InspectableStore, clock: FakeClock, heavy = false): CaseContext {
  const signer = createSigner(SECRET);
  const client = new Client(url);
  return {
    url,
    heavy,
    client,
    newClient: () => new Client(url),
    store,
    clock,
    signer,
    idInJar(which = client) {
      const value = which.jar.get('sid');
      return value === undefined ? undefined : signer.verify('sid', value)?.id;
    },
  };
}

export { fakeClock, inspectableStore };
