/**
 * `pnpm --filter sess-bench count <scenario>... --workload <w> [--requests <n>]`: machine
 * instructions per request, counted by valgrind (callgrind) in the server process. Unlike CPU
 * time, an instruction count does not move with the other jobs on a shared machine, so two
 * servers (or two commits) whose CPU times overlap within the noise can still be told apart:
 * on Koa or h3 a change of a few thousand instructions a request shows in one A/B of a few
 * minutes, not an hour of alternating rounds (Express moves by about 2%, some 11k). It counts work, not time: cache misses (simulated with `--cache-sim`) and kernel time (the socket
 * writes) are not in it, so a target stays one on `pnpm bench`'s CPU times.
 *
 * Each server starts under callgrind, takes `--warm` requests (V8 optimises the hot code), has
 * its counters zeroed, takes `--requests` more with 8 keep-alive connections, and is dumped; the
 * figure is the dumped total over those requests. Node runs with `--single-threaded`: V8's
 * compiler and garbage collector then work on the main thread, in the same order on every run,
 * rather than on helper threads whose share of the window depends on the scheduler (repeats
 * agree within about 2%, most within 0.5%; with helper threads they moved by 8-25%). Needs
 * valgrind (`apt-get install valgrind`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hasCommand } from './children.js';
import { prime } from './measure.js';
import { dropPostgresSchema, preparePostgres } from './postgres.js';
import { startRedis } from './redis-server.js';
import { scenarioById, sendsCookie, WORKLOADS } from './scenarios.js';
import type { Workload } from './scenarios.js';
import { startDeadlineMs, startServer } from './server-process.js';
import type { RunningServer } from './server-process.js';

const CONNECTIONS = 8;
/**
 * How many times the usual start deadline a server under callgrind gets: it runs some 50 times
 * slower, but its start (tsx compiling the server) took well under ten deadlines here.
 */
const SLOWDOWN = 10;

/** `n` GETs of `path`, `CONNECTIONS` at a time over keep-alive connections; rejects on any non-2xx. */
async function requestMany(port: number, path: string, cookie: string | undefined, n: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const headers = cookie === undefined ? {} : { cookie };
  let started = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
        res.resume();
        res.once('end', () =>
          res.statusCode !== undefined && res.statusCode < 400 ? resolve() : reject(new Error(`${path} answered ${res.statusCode}`)),
        );
      });
      req.once('error', reject).end();
    });
  const lane = async () => {
    while (started < n) {
      started += 1;
      await one();
    }
  };
  try {
    await Promise.all(Array.from({ length: CONNECTIONS }, lane));
  } finally {
    agent.destroy();
  }
}

/** The totals of one dump by event (`Ir`, and with `--cache-sim` `D1mr`, `DLmr`, ...), from its `events:` and `totals:` lines. */
function dumpedTotals(file: string): Map<string, number> {
  const text = readFileSync(file, 'utf8');
  const events = /^events:\s+(.+)$/m.exec(text)?.[1]?.trim().split(/\s+/) ?? ['Ir'];
  const totals = /^(?:totals|summary):\s+([\d ]+)$/m.exec(text)?.[1]?.trim().split(/\s+/);
  if (totals === undefined) throw new Error(`no totals in ${file}`);
  return new Map(events.map((event, index) => [event, Number(totals[index] ?? 0)]));
}

function callgrindControl(flag: string, pid: number): void {
  const result = spawnSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`callgrind_control ${flag} ${pid}: ${result.stderr || result.stdout}`);
}

/** Events per request of one server on one workload: instructions (`Ir`), and with `--cache-sim` the simulated cache's. */
async function count(
  server: RunningServer,
  workload: Workload,
  warm: number,
  requests: number,
  outDir: string,
): Promise<Map<string, number>> {
  const pid = server.pid;
  if (pid === undefined) throw new Error('the server has no process id');
  const cookie = sendsCookie(workload) ? await prime(server) : undefined;
  await requestMany(server.port, `/${workload}`, cookie, warm);
  callgrindControl('--zero', pid);
  await requestMany(server.port, `/${workload}`, cookie, requests);
  callgrindControl('--dump', pid);
  const dumps = readdirSync(outDir).filter((name) => name.startsWith(`callgrind.${pid}.`));
  if (dumps.length !== 1) throw new Error(`expected one callgrind dump of ${pid} in ${outDir}, found ${dumps.length}`);
  const totals = dumpedTotals(join(outDir, dumps[0]!));
  return new Map([...totals].map(([event, total]) => [event, total / requests]));
}

/**
 * The simulated cache's misses per request (first level: data reads and writes, instructions;
 * last level: all), and cachegrind's cycle estimate, Ir + 10 x first-level misses + 100 x
 * last-level misses: a model of a cache, not this machine's, but the same for every server.
 */
function misses(perRequest: Map<string, number>): string {
  const get = (event: string) => perRequest.get(event) ?? 0;
  const firstLevel = get('I1mr') + get('D1mr') + get('D1mw');
  const lastLevel = get('ILmr') + get('DLmr') + get('DLmw');
  const cycles = get('Ir') + 10 * firstLevel + 100 * lastLevel;
  const k = (value: number) => `${(value / 1000).toFixed(1)}k`;
  return `L1 misses ${k(firstLevel)} (data reads ${k(get('D1mr'))}, writes ${k(get('D1mw'))}, instructions ${k(get('I1mr'))}), last-level ${k(lastLevel)}, estimated cycles ${k(cycles)}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      workload: { type: 'string' },
      requests: { type: 'string' },
      warm: { type: 'string' },
      keep: { type: 'boolean' },
      'cache-sim': { type: 'boolean' },
    },
  });
  const workload = values.workload as Workload | undefined;
  if (positionals.length === 0 || workload === undefined || !WORKLOADS.includes(workload)) {
    throw new Error(
      `usage: count <scenario id>... --workload <${WORKLOADS.join('|')}> [--requests <n>] [--warm <n>] [--keep] [--cache-sim]`,
    );
  }
  if (!hasCommand('valgrind') || !hasCommand('callgrind_control')) throw new Error('count needs valgrind: apt-get install valgrind');
  const requests = Number(values.requests ?? 500);
  const warm = Number(values.warm ?? 6000);
  if (!Number.isSafeInteger(requests) || requests < 1 || !Number.isSafeInteger(warm) || warm < 0) {
    throw new Error('--requests must be a positive whole number and --warm a whole number');
  }
  const scenarios = positionals.map(scenarioById);
  const redis = scenarios.some((scenario) => scenario.store === 'redis') ? await startRedis() : undefined;
  if (redis !== undefined && 'unavailable' in redis) throw new Error(`no Redis: ${redis.unavailable}`);
  const postgres = scenarios.some((scenario) => scenario.store === 'postgres') ? await preparePostgres(startDeadlineMs()) : undefined;
  if (postgres !== undefined && 'unavailable' in postgres) throw new Error(postgres.unavailable);
  const outDir = mkdtempSync(join(tmpdir(), 'sess-count-'));
  const cacheSim = values['cache-sim'] === true;
  const launcher = [
    'valgrind',
    '--tool=callgrind',
    '--quiet',
    ...(cacheSim ? ['--cache-sim=yes'] : []),
    `--callgrind-out-file=${outDir}/callgrind.%p`,
  ];
  try {
    for (const scenario of scenarios) {
      const started = await startServer(
        scenario,
        { redisUrl: redis?.url, databaseUrl: postgres?.url },
        { nodeArgs: ['--single-threaded'], launcher, slowdown: SLOWDOWN },
      );
      if (started.kind === 'unavailable') throw new Error(`${scenario.id} is unavailable: ${started.reason}`);
      try {
        const perRequest = await count(started.server, workload, warm, requests, outDir);
        const instructions = `${((perRequest.get('Ir') ?? 0) / 1000).toFixed(1)}k instructions/request`;
        console.log(`${scenario.id} ${workload}: ${instructions}${cacheSim ? `, ${misses(perRequest)}` : ''}`);
      } finally {
        started.server.stop();
      }
    }
  } finally {
    if (values.keep === true) console.log(`callgrind dumps (callgrind_annotate <file>): ${outDir}`);
    else rmSync(outDir, { recursive: true, force: true });
    redis?.stop();
    if (postgres !== undefined) await dropPostgresSchema(postgres.url);
  }
}

await main();
