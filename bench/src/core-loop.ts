/**
 * `pnpm --filter sess-bench run core-loop [--requests <n>] [--count]`: what the core costs a
 * request with no HTTP and no framework around it. A session manager over the memory store, and
 * per request what an adapter does on a read (`begin` with a two-cookie header, `load`, one `get`,
 * `commit`), a write (the same with one `set`) or a new visitor (a write with no cookie: an id is
 * drawn and signed, and a record created). The store answers synchronously, so a request is
 * one synchronous run; the loop awaits each request's promises all the same, as a server does.
 *
 * It prints µs per request, the median of 5 timed rounds. With `--count` it prints machine
 * instructions per request instead: the loop runs twice under valgrind's callgrind (V8
 * single-threaded, as in `count`), once with `--requests` more requests than the other, and the
 * difference is divided by that number, so start-up and warm-up cancel out.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSessionManager } from '@sess/core';
import type { Session, SessionManager } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { PRIME_DATA, SECRET } from './scenarios.js';

type Loop = 'read' | 'write' | 'new';
const LOOPS: readonly Loop[] = ['read', 'write', 'new'];
const ROUNDS = 5;
const WARM = 3_000;
const RESPONSE = { status: 200, cookieAlreadySet: false, sharedCachesKeptOut: false } as const;

interface Setup {
  readonly manager: SessionManager;
  /** A header naming the primed session beside another cookie, as browsers send it. */
  readonly cookieHeader: string;
}

/** A manager over the memory store, with one session primed as the HTTP bench primes it. */
async function primed(): Promise<Setup> {
  const manager = createSessionManager({ secret: SECRET, store: memoryStore() });
  const session = manager.begin({ cookieHeader: undefined, secure: false });
  await session.load();
  for (const [key, value] of Object.entries(PRIME_DATA)) session.set(key, value);
  const cookie = (await session.commit(RESPONSE)).find((effect) => effect.type === 'cookie.set');
  if (cookie === undefined) throw new Error('the priming request set no cookie');
  return { manager, cookieHeader: `theme=dark; ${cookie.name}=${cookie.value}` };
}

/**
 * Runs `n` requests, one after another as a server's would, each awaited; returns a value that
 * depends on every one, so none is optimised away.
 */
async function run(loop: Loop, n: number, { manager, cookieHeader }: Setup): Promise<number> {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    // A new visitor sends no session cookie: the request draws an id, signs it and saves a record.
    const session: Session = manager.begin({ cookieHeader: loop === 'new' ? undefined : cookieHeader, secure: false });
    const loading = session.load();
    sink += session.get('views') as number;
    if (loop !== 'read') session.set('views', i);
    await loading;
    sink += (await session.commit(RESPONSE)).length;
  }
  return sink;
}

/** Total instructions callgrind counted for one child run of `n` requests (after the warm-up). */
function instructions(loop: Loop, n: number, outDir: string): number {
  const out = join(outDir, `${loop}-${n}.out`);
  const script = fileURLToPath(import.meta.url);
  const result = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${out}`,
      process.execPath,
      '--single-threaded',
      '--import',
      'tsx',
      script,
      '--child',
      loop,
      String(n),
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`callgrind run failed (${result.status}): ${result.stderr.slice(-2000)}`);
  const total = /^(?:totals|summary): (\d+)/m.exec(readFileSync(out, 'utf8'));
  if (total === null) throw new Error(`no totals in ${out}`);
  return Number(total[1]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    allowPositionals: true,
    options: { requests: { type: 'string' }, count: { type: 'boolean' }, child: { type: 'boolean' } },
  });
  if (values.child === true) {
    const [loop, n] = process.argv.slice(-2) as [Loop, string];
    await run(loop, WARM + Number(n), await primed());
    return;
  }
  const requests = Number(values.requests ?? (values.count === true ? 10_000 : 200_000));
  if (!Number.isSafeInteger(requests) || requests < 1) throw new Error('--requests takes a positive integer');
  if (values.count === true) {
    const outDir = mkdtempSync(join(tmpdir(), 'sess-core-loop-'));
    try {
      for (const loop of LOOPS) {
        const perRequest = (instructions(loop, requests, outDir) - instructions(loop, 0, outDir)) / requests;
        console.log(`core ${loop}: ${(perRequest / 1000).toFixed(1)}k instructions/request`);
      }
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
    return;
  }
  const setup = await primed();
  for (const loop of LOOPS) {
    await run(loop, WARM, setup);
    const rounds: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const started = performance.now();
      await run(loop, requests, setup);
      rounds.push(((performance.now() - started) * 1000) / requests);
    }
    const spread = `${Math.min(...rounds).toFixed(2)}-${Math.max(...rounds).toFixed(2)}`;
    console.log(`core ${loop}: ${median(rounds).toFixed(2)} µs/request (median of ${ROUNDS} rounds of ${requests}; ${spread})`);
  }
}

await main();
