/**
 * `pnpm --filter sess-bench run store-loop [--requests <n>]`: what `@sess/store-redis`'s own code
 * costs a `get`, with no Redis and no HTTP. The store runs over an in-process `RedisCommands`
 * that answers every command at once with the reply Redis gives for the bench's primed
 * five-key session, so the network, the server and the client library are left out.
 *
 * It prints µs per `get`, the median of 7 rounds, each of `--requests` gets (default 200,000)
 * kept 32 in flight as a busy server keeps them.
 */
import { parseArgs } from 'node:util';
import type { RedisCommands } from '@sess/store-redis';
import { redisStore } from '@sess/store-redis';
import { PRIME_DATA } from './scenarios.js';

const ROUNDS = 7;
const IN_FLIGHT = 32;
const WARM = 50_000;
const ID = 'bench-store-loop-id-0123456789ab';

/** The fields of the primed session as the store keeps them: its meta, then one JSON field per key. */
function primedFields(): readonly string[] {
  const now = Date.now();
  const meta = JSON.stringify({ createdAt: now, touchedAt: now, expiresAt: now + 86_400_000 });
  return ['m', meta, ...Object.entries(PRIME_DATA).flatMap(([key, value]) => [`d:${key}`, JSON.stringify(value)])];
}

/** A single server that answers at once: a load gets the primed fields (a fresh array, as a client hands over), anything else OK. */
function answeringClient(fields: readonly string[]): RedisCommands {
  return {
    cluster: false,
    isReady: () => true,
    nodes: async () => [],
    send: (_key, args) => Promise.resolve(args[0] === 'EVALSHA' ? [fields.slice()] : 'OK'),
  };
}

/** `n` gets, `IN_FLIGHT` at a time; returns a value that depends on every one, so none is optimised away. */
async function run(get: () => Promise<{ data: Record<string, unknown> } | undefined>, n: number): Promise<number> {
  let sink = 0;
  let started = 0;
  const worker = async () => {
    while (started++ < n) sink += ((await get())?.data.views as number | undefined) ?? 0;
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return sink;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string' } } });
  const requests = Number(values.requests ?? 200_000);
  if (!Number.isSafeInteger(requests) || requests < 1) throw new Error('--requests takes a positive integer');
  const store = redisStore({ client: answeringClient(primedFields()) });
  const get = () => store.get(ID);
  if ((await run(get, 1)) !== PRIME_DATA.views) throw new Error('the store did not read the primed session');
  await run(get, WARM);
  const rounds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    await run(get, requests);
    rounds.push(((performance.now() - started) * 1000) / requests);
  }
  rounds.sort((a, b) => a - b);
  const spread = `${(rounds[0] as number).toFixed(2)}-${(rounds[ROUNDS - 1] as number).toFixed(2)}`;
  console.log(`store-redis get: ${(rounds[ROUNDS >> 1] as number).toFixed(2)} µs (median of ${ROUNDS} rounds of ${requests}; ${spread})`);
  await store.close?.();
}

await main();
