/**
 * `pnpm --filter sess-bench profile <scenario> <workload> [--duration <s>] [--top <n>] [--alloc]`:
 * where one server's CPU goes. Starts the scenario's server under `node --cpu-prof` on the server
 * core, primes a cookie, warms up, drives the workload with the bench's load generator, lets the
 * server exit so V8 writes the profile, then prints self time by function and by package. The
 * `.cpuprofile` (under `results/profiles/`, gitignored) opens as a flame graph in Chrome DevTools
 * or speedscope. With `--alloc` it samples the server's allocations instead (see
 * `allocations.ts`) and prints bytes allocated per request, by function and by package.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HEAP_PROFILE_ENV, allocatedBytes } from './allocations.js';
import type { HeapProfileNode } from './allocations.js';
import { drive, pickGenerator } from './load.js';
import { prime } from './measure.js';
import { ownerOf } from './owners.js';
import { perfSampling } from './perf-sampling.js';
import { dropPostgresSchema, preparePostgres } from './postgres.js';
import { startRedis } from './redis-server.js';
import { scenarioById, sendsCookie, WORKLOADS } from './scenarios.js';
import type { Workload } from './scenarios.js';
import { startDeadlineMs, startServer } from './server-process.js';

const PROFILES = fileURLToPath(new URL('../results/profiles/', import.meta.url));

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** `name path:line`, the path from the package on. */
function frameName(frame: ProfileNode['callFrame']): string {
  const where = frame.url === '' ? '' : ` ${frame.url.replace(/^.*\/(node_modules|packages)\//, '')}:${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'}${where}`;
}

/** Self time per function and per owner, in ms, from a V8 CPU profile. */
function selfTimes(profile: CpuProfile): { byFunction: Map<string, number>; byOwner: Map<string, number>; totalMs: number } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let totalMs = 0;
  profile.samples.forEach((id, index) => {
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    const frame = nodes.get(id)!.callFrame;
    const name = frameName(frame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    const owner = ownerOf(frame.url);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + ms);
    totalMs += ms;
  });
  return { byFunction, byOwner, totalMs };
}

/**
 * Self time as a share of all samples, in ms, and per request: over every request the server
 * answered (warm-up and measured run), so start-up and priming inflate it a little; a longer
 * `--duration` makes that share smaller.
 */
function print(title: string, times: Map<string, number>, totalMs: number, requests: number, limit: number): void {
  console.log(`\n${title}`);
  for (const [name, ms] of [...times].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    const perRequest = ((ms * 1000) / requests).toFixed(2).padStart(7);
    console.log(`${((ms / totalMs) * 100).toFixed(1).padStart(6)}%  ${ms.toFixed(0).padStart(7)} ms  ${perRequest} µs/req  ${name}`);
  }
}

/** Bytes allocated per request, by owner and by function (whole process life, as for time). */
function printAllocations(head: HeapProfileNode, requests: number, top: number): void {
  const rows = (title: string, bytes: Map<string, number>, limit: number) => {
    const total = [...bytes.values()].reduce((sum, size) => sum + size, 0);
    console.log(`\n${title}`);
    for (const [name, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
      console.log(`${((size / total) * 100).toFixed(1).padStart(6)}%  ${(size / requests).toFixed(0).padStart(7)} B/req  ${name}`);
    }
  };
  const byOwner = allocatedBytes(head, (frame) => ownerOf(frame.url));
  const total = [...byOwner.values()].reduce((sum, size) => sum + size, 0);
  console.log(`allocated: ${(total / requests).toFixed(0)} bytes per request (sampled; start-up and warm-up included)`);
  rows(`allocations by owner (${requests} requests)`, byOwner, 15);
  rows(`allocations by function (top ${top})`, allocatedBytes(head, frameName), top);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string' },
      top: { type: 'string' },
      alloc: { type: 'boolean' },
      perf: { type: 'boolean' },
      keep: { type: 'boolean' },
    },
  });
  const [id, workload] = positionals as [string | undefined, Workload | undefined];
  if (id === undefined || workload === undefined || !WORKLOADS.includes(workload)) {
    throw new Error(
      `usage: profile <scenario id, e.g. koa/sess+memory> <${WORKLOADS.join('|')}> [--duration <s>] [--top <n>] [--alloc | --perf]`,
    );
  }
  const durationS = Number(values.duration ?? 5);
  const top = Number(values.top ?? 25);
  if (!(durationS > 0) || !Number.isSafeInteger(top) || top < 1) throw new Error('--duration takes seconds (> 0), --top a count (>= 1)');
  const scenario = scenarioById(id);
  const redis = scenario.store === 'redis' ? await startRedis() : undefined;
  if (redis !== undefined && 'unavailable' in redis) throw new Error(`no Redis: ${redis.unavailable}`);
  const postgres = scenario.store === 'postgres' ? await preparePostgres(startDeadlineMs()) : undefined;
  if (postgres !== undefined && 'unavailable' in postgres) throw new Error(postgres.unavailable);

  mkdirSync(PROFILES, { recursive: true });
  const before = new Set(readdirSync(PROFILES));
  const heapProfile = values.alloc === true ? `${PROFILES}heap.${process.pid}.json` : undefined;
  if (heapProfile !== undefined) process.env[HEAP_PROFILE_ENV] = heapProfile;
  const perf = values.perf === true ? perfSampling() : undefined;
  const launch =
    perf !== undefined
      ? { nodeArgs: perf.nodeArgs, launcher: perf.launcher }
      : { nodeArgs: heapProfile === undefined ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : [] };
  const started = await startServer(scenario, { redisUrl: redis?.url, databaseUrl: postgres?.url }, launch);
  if (started.kind === 'unavailable') throw new Error(`${id} is unavailable: ${started.reason}`);
  const server = started.server;
  let requests = 0;
  try {
    const cookie = sendsCookie(workload) ? await prime(server) : undefined;
    const load = { url: `http://127.0.0.1:${server.port}/${workload}`, cookie, connections: 32 };
    const generator = pickGenerator();
    const warm = await drive(generator, { ...load, durationS: 2 });
    const cpuBefore = await server.cpuMicros();
    perf?.enable();
    const result = await drive(generator, { ...load, durationS });
    perf?.disable();
    // perf samples the measured run only; the V8 profilers run from start-up.
    requests = perf === undefined ? warm.requests + result.requests : result.requests;
    const cpuUs = (await server.cpuMicros()) - cpuBefore;
    const sampler = perf !== undefined ? 'perf' : heapProfile === undefined ? 'the profiler' : 'the allocation sampler';
    console.log(
      `${id} ${workload}: ${Math.round(result.rps)} req/s, ${(cpuUs / result.requests).toFixed(1)} µs CPU/req (${generator}, ${durationS} s; ${sampler} itself adds some)`,
    );
  } finally {
    await server.exit();
    redis?.stop();
    if (postgres !== undefined) await dropPostgresSchema(postgres.url);
  }

  if (perf !== undefined) {
    try {
      perf.report(requests, top);
    } finally {
      if (values.keep === true) console.log(`\nperf recording (perf report -i <file>): ${perf.data}`);
      else perf.remove();
    }
    return;
  }
  if (heapProfile !== undefined) {
    printAllocations(JSON.parse(readFileSync(heapProfile, 'utf8')) as HeapProfileNode, requests, top);
    rmSync(heapProfile);
    return;
  }
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader
  // runs in a worker that writes its own).
  const written = readdirSync(PROFILES).find((name) => !before.has(name) && name.endsWith('.cpuprofile') && name.split('.')[4] === '0');
  if (written === undefined) throw new Error('the server wrote no profile');
  const { byFunction, byOwner, totalMs } = selfTimes(JSON.parse(readFileSync(`${PROFILES}${written}`, 'utf8')) as CpuProfile);
  // The shares the root README quotes: of the samples where the process was busy, how many fell in
  // sess's own packages, and how many in the garbage collector.
  const busyMs = totalMs - (byFunction.get('(idle)') ?? 0);
  const sessMs = [...byOwner].filter(([owner]) => owner.startsWith('@sess/') || owner === 'xstate').reduce((sum, [, ms]) => sum + ms, 0);
  console.log(
    `busy samples: ${busyMs.toFixed(0)} ms; in sess's packages ${((sessMs / busyMs) * 100).toFixed(1)}%, in GC ${(((byFunction.get('(garbage collector)') ?? 0) / busyMs) * 100).toFixed(1)}%`,
  );
  print(
    `self time by owner (whole process life: start-up, priming and warm-up included; ${requests} requests)`,
    byOwner,
    totalMs,
    requests,
    15,
  );
  print(`self time by function (top ${top})`, byFunction, totalMs, requests, top);
  console.log(`\nprofile: results/profiles/${written} (open in Chrome DevTools > Performance, or speedscope)`);
}

await main();
