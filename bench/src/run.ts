/**
 * `pnpm bench [--quick] [--only <substring>[,<substring>...]] [--duration <s>] [--rounds <n>]`
 *
 * Starts each server in its own child process (pinned to core 1), drives it over loopback with
 * wrk or autocannon (core 0), alternating servers between rounds, and reports requests/s,
 * latency, server CPU per request, Redis and PostgreSQL round trips, memory per session and the
 * core machine cost. Exit code 1 means the harness failed (a server did not start, a non-2xx/3xx
 * response, a crash), never that a target was missed; a scenario whose package is not built, or
 * whose service (redis-server, PostgreSQL) is missing, is reported as unavailable and does not
 * fail the run, except that with `CI=true` a missing service is a harness error.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CLIENT_CORE, SERVER_CORE, killAll, pinning, run } from './children.js';
import { pickGenerator } from './load.js';
import { measureWorkload } from './measure.js';
import type { Settings } from './measure.js';
import { measureMemory } from './memory.js';
import type { MemoryResult } from './memory.js';
import { dropPostgresSchema, preparePostgres } from './postgres.js';
import { startRedis } from './redis-server.js';
import type { RedisServer } from './redis-server.js';
import { addedCosts, cellFrom, getSessionCosts, ratios, redisClientCosts, withPreviousRun } from './results.js';
import type { Cell, CoreBench, Results } from './results.js';
import { writeReport } from './report.js';
import { FRAMEWORKS, SCENARIOS, WORKLOADS, runsWorkload } from './scenarios.js';
import type { Framework, Scenario, StoreKind } from './scenarios.js';
import { startDeadlineMs, startServer } from './server-process.js';
import type { RunningServer, Services } from './server-process.js';

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url));
const LATEST = fileURLToPath(new URL('../results/latest.json', import.meta.url));

// `pnpm --filter sess-bench run bench -- --quick` passes the `--` on.
const argv = process.argv.slice(2);
const { values: args } = parseArgs({
  args: argv[0] === '--' ? argv.slice(1) : argv,
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
  },
});
const quick = args.quick === true;
const generator = pickGenerator();
const settings: Settings = {
  generator,
  connections: 32,
  durationS: Number(args.duration ?? (quick ? 1 : 4)),
  rounds: Number(args.rounds ?? (quick ? 1 : 5)),
  warmUp: quick ? { kind: 'fetch', ms: 200 } : { kind: 'generator', seconds: 3 },
  roundTripCountRequests: quick ? 50 : 200,
};
if (!Number.isInteger(settings.durationS) || settings.durationS < 1)
  throw new Error('--duration takes whole seconds (wrk does not take fractions)');
if (!Number.isInteger(settings.rounds) || settings.rounds < 1) throw new Error('--rounds takes a positive integer');

// `--only a,b`: scenarios whose id contains any of the substrings.
const only = args.only?.split(',').filter((part) => part !== '');
const selected = SCENARIOS.filter((scenario) => only === undefined || only.some((part) => scenario.id.includes(part)));
const errors: string[] = [];
const cells: Cell[] = [];
const log = (line: string) => console.log(line);

/** The workloads `scenario` runs on here (some scenarios skip workloads in quick mode). */
const workloadsOf = (scenario: Scenario) => WORKLOADS.filter((workload) => runsWorkload(scenario, workload, quick));

function unavailable(scenario: Scenario, reason: string): void {
  for (const workload of workloadsOf(scenario)) cells.push({ scenario: scenario.id, workload, status: 'unavailable', reason });
}

function failed(scenario: Scenario, reason: string): void {
  errors.push(`${scenario.id}: ${reason}`);
  for (const workload of workloadsOf(scenario)) cells.push({ scenario: scenario.id, workload, status: 'error', reason });
}

/**
 * A service a scenario needs is missing: unavailable, as a package that is not built. With
 * `CI=true` the service must be there (the CI job starts it), so it is a harness error instead.
 */
function serviceMissing(scenario: Scenario, reason: string): void {
  if (process.env.CI === 'true') failed(scenario, `${reason} (CI=true: the services must be running)`);
  else unavailable(scenario, reason);
}

async function benchFramework(framework: Framework, services: Services, missing: Partial<Record<StoreKind, string>>): Promise<void> {
  const scenarios = selected.filter((scenario) => scenario.framework === framework);
  if (scenarios.length === 0) return;
  log(`\n${framework}: starting ${scenarios.length} server(s)`);
  const servers: RunningServer[] = [];
  const startable = scenarios.filter((scenario) => {
    const reason = missing[scenario.store];
    if (reason === undefined) return true;
    log(`  ${scenario.id}: ${reason}`);
    serviceMissing(scenario, reason);
    return false;
  });
  const started = await Promise.allSettled(startable.map((scenario) => startServer(scenario, services)));
  started.forEach((outcome, index) => {
    const scenario = startable[index]!;
    if (outcome.status === 'rejected') failed(scenario, String((outcome.reason as Error).message ?? outcome.reason));
    else if (outcome.value.kind === 'unavailable') {
      log(`  ${scenario.id}: unavailable: ${outcome.value.reason}`);
      unavailable(scenario, outcome.value.reason);
    } else servers.push(outcome.value.server);
  });
  try {
    for (const workload of WORKLOADS) {
      const running = servers.filter((server) => runsWorkload(server.scenario, workload, quick));
      if (running.length === 0) continue;
      const measured = await measureWorkload(running, workload, settings, services.redisPort, log);
      for (const [scenario, result] of measured) {
        if (result.error !== undefined) errors.push(`${scenario} ${workload}: ${result.error}`);
        cells.push(cellFrom(scenario, workload, result));
      }
    }
  } finally {
    for (const server of servers) server.stop();
  }
}

async function memory(): Promise<{ results: MemoryResult[]; error?: string }> {
  // 100,000 sessions as the issue asks; 10,000 in quick mode (figures are scaled to 100k).
  const count = quick ? 10_000 : 100_000;
  log(`\nmemory: ${count.toLocaleString('en-US')} sessions per store`);
  try {
    return { results: [await measureMemory('sess', count), await measureMemory('express-session', count)] };
  } catch (error) {
    const message = (error as Error).message;
    errors.push(`memory: ${message}`);
    return { results: [], error: message };
  }
}

/** The core's own micro-bench, run as documented; its exit code encodes a target, so only a crash is an error. */
async function coreBench(): Promise<CoreBench> {
  const argv = ['--filter', '@sess/core', 'run', 'bench', ...(quick ? ['--quick'] : [])];
  const command = `pnpm ${argv.join(' ')}`;
  log(`\ncore machine cost: ${command}`);
  const result = await run(SERVER_CORE, 'pnpm', argv, 180_000, { cwd: REPO_DIR });
  const output = `${result.stdout}${result.stderr}`;
  if (!/node v\d/.test(result.stdout)) errors.push(`core bench: did not finish (exit ${result.code})`);
  log(output.trim());
  return { command, exitCode: result.code, output };
}

async function main(): Promise<number> {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  log(
    `sess bench (${quick ? 'quick' : 'full'}): ${generator}, ${settings.connections} connections, ${settings.durationS} s x ${settings.rounds} round(s), ${pinning ? `server on core ${SERVER_CORE}, client on core ${CLIENT_CORE}` : 'not pinned'}`,
  );
  if (selected.length === 0) throw new Error(`--only ${args.only}: no scenario matches`);

  let redis: RedisServer | undefined;
  let databaseUrl: string | undefined;
  const missing: Partial<Record<StoreKind, string>> = {};
  if (selected.some((scenario) => scenario.store === 'redis')) {
    const started = await startRedis();
    if ('unavailable' in started) missing.redis = started.unavailable;
    else redis = started;
  }
  if (selected.some((scenario) => scenario.store === 'postgres')) {
    const prepared = await preparePostgres(startDeadlineMs());
    if ('unavailable' in prepared) missing.postgres = prepared.unavailable;
    else databaseUrl = prepared.url;
  }
  try {
    for (const framework of FRAMEWORKS)
      await benchFramework(framework, { redisUrl: redis?.url, redisPort: redis?.port, databaseUrl }, missing);
  } finally {
    redis?.stop();
    if (databaseUrl !== undefined) await dropPostgresSchema(databaseUrl);
  }
  const mem = await memory();
  const core = await coreBench();

  const results: Results = {
    meta: {
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      node: process.version,
      cpu,
      cores: cpus().length,
      loadGenerator: generator,
      pinned: pinning,
      connections: settings.connections,
      durationS: settings.durationS,
      rounds: settings.rounds,
      warmUp:
        settings.warmUp.kind === 'fetch' ? `${settings.warmUp.ms} ms (fetch, 8 at a time)` : `${settings.warmUp.seconds} s (${generator})`,
      ...(args.only === undefined ? {} : { only: args.only }),
    },
    cells,
    ratios: ratios(cells),
    added: addedCosts(cells),
    getSessionCost: getSessionCosts(cells),
    redisClientCost: redisClientCosts(cells),
    memory: mem.results,
    ...(mem.error === undefined ? {} : { memoryError: mem.error }),
    coreBench: core,
    errors,
  };
  const previous = quick || args.only !== undefined ? undefined : previousFullRun();
  const md = writeReport(previous === undefined ? results : withPreviousRun(results, previous), quick ? 'quick' : 'latest');
  log(`\n${md}`);
  log(`written: bench/results/${quick ? 'quick' : 'latest'}.{json,md}, ${quick ? 'quick' : 'chart'}.svg`);
  if (errors.length > 0) log(`\n${errors.length} harness error(s): exit 1`);
  return errors.length > 0 ? 1 : 0;
}

/** The last full run of every scenario, which this one's verdicts are paired with; none if it can't be read. */
function previousFullRun(): Results | undefined {
  try {
    const previous = JSON.parse(readFileSync(LATEST, 'utf8')) as Results;
    const complete = [previous.ratios, previous.added, previous.getSessionCost].every(Array.isArray);
    return complete && previous.meta.mode === 'full' && previous.meta.only === undefined ? previous : undefined;
  } catch {
    return undefined;
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  killAll();
}
