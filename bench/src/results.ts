/**
 * The bench's results as data, and the figures derived from them: medians over rounds, the CPU
 * each server adds over the bare framework, ratios against the peer, and the targets.
 * Targets are reported, never enforced: a missed target does not change the exit code.
 */
import type { MemoryResult } from './memory.js';
import type { CellResult, Run } from './measure.js';
import { FLOOR_LABEL, FLOOR_REDIS_LABEL, FRAMEWORKS, GET_SESSION_LABEL, SCENARIOS, WORKLOADS } from './scenarios.js';
import type { Framework, Workload } from './scenarios.js';

export type CellStatus = 'ok' | 'unavailable' | 'error';

export interface Cell {
  readonly scenario: string;
  readonly workload: Workload;
  readonly status: CellStatus;
  /** Why it is unavailable or failed. */
  readonly reason?: string;
  /** Medians over the measured rounds. */
  readonly rps?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly cpuUsPerRequest?: number;
  readonly result?: CellResult;
}

/** A figure taken per round, over the rounds: its median, lowest and highest. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * A target met or missed by a run: the median must meet it (a round that misses it then misses
 * by no more than the spread, as the rule asks). `atMost` for costs, else at least.
 */
export interface Target {
  readonly limit: number;
  readonly atMost: boolean;
  readonly met: boolean;
  /**
   * Whether the full run before this one met it too (the issue counts a target as met only then);
   * absent when there was no such run or it did not measure this figure.
   */
  readonly metBefore?: boolean;
}

export interface Ratio {
  readonly framework: Framework;
  readonly workload: Workload;
  /** e.g. `sess+memory / express-session+memory`. */
  readonly comparison: string;
  /** requests/s of the first over the second, per round. */
  readonly rps: Spread;
  /** Server CPU per request of the second over the first, per round: how many times less CPU the first uses. */
  readonly cpu: Spread;
  /** At least `limit` on both req/s and CPU, where the issue sets one. */
  readonly target?: Target;
}

/**
 * Server CPU µs per request a server adds over the bare framework, per round: each round runs
 * the framework's servers back to back, so the drift of a shared machine largely cancels.
 */
export interface AddedCost {
  readonly framework: Framework;
  readonly workload: Workload;
  /** The server's label (`sess+memory`, `floor`, ...). */
  readonly server: string;
  /** Median server CPU µs per request, the bare framework's and this server's. */
  readonly bareCpuUs: number;
  readonly cpuUs: number;
  readonly added: Spread;
  /** What it adds over the floor (the framework's cost of an async middleware), where both ran. */
  readonly overFloor?: Spread;
  readonly target?: Target;
}

/**
 * What `getSession()` costs (`asyncContext: true`, the session reached through AsyncLocalStorage):
 * `<framework>/sess+memory+getSession` against `<framework>/sess+memory` in the same run.
 */
export interface GetSessionCost {
  readonly framework: Framework;
  readonly workload: Workload;
  /** Server CPU µs/request of sess+memory (median over rounds). */
  readonly baseCpuUs: number;
  /** Server CPU µs/request of sess+memory+getSession (median over rounds). */
  readonly getSessionCpuUs: number;
  /** Extra server CPU µs/request, per round (the two servers run back to back in every round). */
  readonly extra: Spread;
  /** The extra's median over `baseCpuUs`. */
  readonly extraCpuFraction: number;
  /** requests/s of sess+memory+getSession over sess+memory. */
  readonly rpsRatio: number;
  readonly target: Target;
}

/**
 * The Redis target: the server CPU sess's Redis store adds over its memory store is at
 * most what the Redis client itself costs, measured alone as `floor+redis` over the floor (the
 * same round trips through the same client, and no session work). Each figure is per round, from
 * the four servers of that round.
 */
export interface RedisClientCost {
  readonly framework: Framework;
  readonly workload: Workload;
  /** sess+redis over sess+memory: what the Redis store adds to sess. */
  readonly store: Spread;
  /** floor+redis over the floor: what the client adds to a server with no session. */
  readonly client: Spread;
  /** `store` minus `client`: what sess's Redis path costs beyond the client's own work. */
  readonly beyondClient: Spread;
  /** `beyondClient` at most 0 µs. */
  readonly target: Target;
}

export interface CoreBench {
  readonly command: string;
  readonly exitCode: number | null;
  readonly output: string;
}

export interface Results {
  readonly meta: {
    readonly date: string;
    /** The date of the full run before, whose verdicts the targets' `metBefore` carry. */
    readonly previousRun?: string;
    readonly mode: 'full' | 'quick';
    readonly node: string;
    readonly cpu: string;
    readonly cores: number;
    readonly loadGenerator: string;
    readonly pinned: boolean;
    readonly connections: number;
    readonly durationS: number;
    readonly rounds: number;
    readonly warmUp: string;
    readonly only?: string;
  };
  readonly cells: readonly Cell[];
  readonly ratios: readonly Ratio[];
  readonly added: readonly AddedCost[];
  readonly getSessionCost: readonly GetSessionCost[];
  /** Absent from runs made before the client alone was measured. */
  readonly redisClientCost?: readonly RedisClientCost[];
  readonly memory: readonly MemoryResult[];
  readonly memoryError?: string;
  readonly coreBench?: CoreBench;
  /** Every harness failure; non-empty means exit code 1. */
  readonly errors: readonly string[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function cellFrom(scenario: string, workload: Workload, result: CellResult): Cell {
  if (result.error !== undefined) return { scenario, workload, status: 'error', reason: result.error, result };
  const runs = result.runs;
  return {
    scenario,
    workload,
    status: 'ok',
    rps: median(runs.map((run) => run.rps)),
    p50Ms: median(runs.map((run) => run.p50Ms)),
    p99Ms: median(runs.map((run) => run.p99Ms)),
    cpuUsPerRequest: median(runs.map((run) => run.cpuUsPerRequest)),
    result,
  };
}

/** The peer each sess variant is held against, per framework and store (Hono has no session library of its own). */
export const PEERS: Record<Framework, { memory?: string; cookie?: string; redis?: string; postgres?: string }> = {
  express: {
    memory: 'express/express-session+memory',
    redis: 'express/express-session+connect-redis',
    postgres: 'express/express-session+connect-pg-simple',
  },
  koa: { memory: 'koa/koa-session+cookie', cookie: 'koa/koa-session+cookie', redis: 'koa/koa-session+redis' },
  h3: { memory: 'h3/useSession', cookie: 'h3/useSession' },
  fastify: { memory: 'fastify/@fastify/session+memory' },
  hono: {},
};

/** The issue's targets. Fastify, Hono, PostgreSQL and h3's peer have ratios but no target. */
const ADDED_TARGETS: Partial<Record<Framework, Record<Workload, number>>> = {
  express: { read: 6, write: 12, new: 15, regenerate: 15 },
  koa: { read: 3, write: 8, new: 15, regenerate: 15 },
  h3: { read: 3, write: 8, new: 15, regenerate: 15 },
};
/** Like for like: sess with a store against the peer with the same kind of store. */
const PEER_TARGETS: readonly { readonly sess: string; readonly peer: string; readonly limit: number }[] = [
  { sess: 'express/sess+memory', peer: 'express/express-session+memory', limit: 1.5 },
  { sess: 'express/sess+redis', peer: 'express/express-session+connect-redis', limit: 1.5 },
  { sess: 'koa/sess+redis', peer: 'koa/koa-session+redis', limit: 2 },
  { sess: 'koa/sess+cookie', peer: 'koa/koa-session+cookie', limit: 1.5 },
];
/** µs of server CPU `getSession()` may add over `req.session`. */
const GET_SESSION_TARGET = 3;
/** µs of server CPU sess's Redis path may cost beyond the client's own (see `RedisClientCost`). */
const REDIS_CLIENT_TARGET = 0;

export const okCell = (cells: readonly Cell[], id: string, workload: Workload): Cell | undefined =>
  cells.find((cell) => cell.scenario === id && cell.workload === workload && cell.status === 'ok');

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

type Sample = Pick<Run, 'rps' | 'cpuUsPerRequest'>;

/** `f` of each round's samples; cells that ran different numbers of rounds give `f` of their medians alone. */
function acrossRounds(cells: readonly Cell[], f: (samples: readonly Sample[]) => number): Spread {
  const runs = cells.map((cell) => cell.result!.runs);
  const rounds = runs[0]!.length;
  if (runs.every((each) => each.length === rounds)) {
    return spread(Array.from({ length: rounds }, (_, round) => f(runs.map((each) => each[round]!))));
  }
  const value = f(cells.map((cell) => ({ rps: cell.rps!, cpuUsPerRequest: cell.cpuUsPerRequest! })));
  return { median: value, min: value, max: value };
}

/** `f` of each round's pair (see `acrossRounds`). */
export function perRound(a: Cell, b: Cell, f: (a: Sample, b: Sample) => number): Spread {
  return acrossRounds([a, b], ([first, second]) => f(first!, second!));
}

/** Server CPU µs per request the first uses over the second. */
export const cpuAdded = (a: Sample, b: Sample): number => a.cpuUsPerRequest - b.cpuUsPerRequest;
/** How many times less server CPU per request the first uses than the second. */
export const cpuTimesLess = (a: Sample, b: Sample): number => b.cpuUsPerRequest / a.cpuUsPerRequest;

/** Each sess server of `framework` with the peer it is held against (like for like where both keep data alike). */
export function peerPairs(framework: Framework): [sess: string, peer: string][] {
  const peers = PEERS[framework];
  const pairs: [string, string | undefined][] = [
    [`${framework}/sess+memory`, peers.memory],
    [`${framework}/sess+cookie`, peers.cookie],
    [`${framework}/sess+redis`, peers.redis],
    [`${framework}/sess+postgres`, peers.postgres],
  ];
  return pairs.filter((pair): pair is [string, string] => pair[1] !== undefined);
}

const atMost = (value: Spread, limit: number): Target => ({ limit, atMost: true, met: value.median <= limit });
const short = (id: string) => id.slice(id.indexOf('/') + 1);

export function ratios(cells: readonly Cell[]): Ratio[] {
  const out: Ratio[] = [];
  const add = (framework: Framework, workload: Workload, a: string, b: string, limit: number | undefined) => {
    const first = okCell(cells, a, workload);
    const second = okCell(cells, b, workload);
    if (first === undefined || second === undefined) return;
    const rps = perRound(first, second, (x, y) => x.rps / y.rps);
    const cpu = perRound(first, second, cpuTimesLess);
    const met = limit !== undefined && rps.median >= limit && cpu.median >= limit;
    out.push({
      framework,
      workload,
      comparison: `${short(a)} / ${short(b)}`,
      rps,
      cpu,
      ...(limit === undefined ? {} : { target: { limit, atMost: false, met } }),
    });
  };
  for (const framework of FRAMEWORKS) {
    for (const workload of WORKLOADS) {
      for (const [sess, peer] of peerPairs(framework)) {
        const target = PEER_TARGETS.find((t) => t.sess === sess && t.peer === peer);
        add(framework, workload, sess, peer, target?.limit);
      }
    }
  }
  return out;
}

/** Every non-bare server's CPU over the bare framework's; sess+memory's against the targets. */
export function addedCosts(cells: readonly Cell[]): AddedCost[] {
  const out: AddedCost[] = [];
  for (const framework of FRAMEWORKS) {
    for (const workload of WORKLOADS) {
      const bare = okCell(cells, `${framework}/bare`, workload);
      if (bare === undefined) continue;
      const floor = okCell(cells, `${framework}/${FLOOR_LABEL}`, workload);
      const servers = SCENARIOS.filter((s) => s.framework === framework && s.impl !== 'bare');
      for (const scenario of servers) {
        const cell = okCell(cells, scenario.id, workload);
        if (cell === undefined) continue;
        const added = perRound(cell, bare, cpuAdded);
        const limit = scenario.id === `${framework}/sess+memory` ? ADDED_TARGETS[framework]?.[workload] : undefined;
        out.push({
          framework,
          workload,
          server: short(scenario.id),
          bareCpuUs: bare.cpuUsPerRequest!,
          cpuUs: cell.cpuUsPerRequest!,
          added,
          ...(floor === undefined || scenario.impl === 'floor' ? {} : { overFloor: perRound(cell, floor, cpuAdded) }),
          ...(limit === undefined ? {} : { target: atMost(added, limit) }),
        });
      }
    }
  }
  return out;
}

export function getSessionCosts(cells: readonly Cell[]): GetSessionCost[] {
  const out: GetSessionCost[] = [];
  for (const framework of FRAMEWORKS) {
    for (const workload of WORKLOADS) {
      const base = okCell(cells, `${framework}/sess+memory`, workload);
      const withContext = okCell(cells, `${framework}/${GET_SESSION_LABEL}`, workload);
      if (base === undefined || withContext === undefined) continue;
      const extra = perRound(withContext, base, cpuAdded);
      out.push({
        framework,
        workload,
        baseCpuUs: base.cpuUsPerRequest!,
        getSessionCpuUs: withContext.cpuUsPerRequest!,
        extra,
        extraCpuFraction: extra.median / base.cpuUsPerRequest!,
        rpsRatio: withContext.rps! / base.rps!,
        target: atMost(extra, GET_SESSION_TARGET),
      });
    }
  }
  return out;
}

/** Samples of sess+redis, sess+memory, floor+redis and the floor, in that order. */
const storeCost = ([redis, memory]: readonly Sample[]) => redis!.cpuUsPerRequest - memory!.cpuUsPerRequest;
const clientCost = ([, , floorRedis, floor]: readonly Sample[]) => floorRedis!.cpuUsPerRequest - floor!.cpuUsPerRequest;

/** What sess's Redis store adds over its memory store, against the client alone (see `RedisClientCost`). */
export function redisClientCosts(cells: readonly Cell[]): RedisClientCost[] {
  const out: RedisClientCost[] = [];
  for (const framework of FRAMEWORKS) {
    for (const workload of WORKLOADS) {
      const ids = ['sess+redis', 'sess+memory', FLOOR_REDIS_LABEL, FLOOR_LABEL].map((label) => `${framework}/${label}`);
      const four = ids.map((id) => okCell(cells, id, workload));
      if (four.some((cell) => cell === undefined)) continue;
      const present = four as Cell[];
      const store = acrossRounds(present, storeCost);
      const client = acrossRounds(present, clientCost);
      const beyondClient = acrossRounds(present, (samples) => storeCost(samples) - clientCost(samples));
      out.push({ framework, workload, store, client, beyondClient, target: atMost(beyondClient, REDIS_CLIENT_TARGET) });
    }
  }
  return out;
}

/**
 * `results` with each target's verdict in `previous`, the full run before: the issue counts a
 * target as met once two full runs meet it. A figure `previous` did not measure keeps no verdict.
 */
export function withPreviousRun(results: Results, previous: Results): Results {
  const before = new Map<string, Target>();
  const note = (key: string, target: Target | undefined) => {
    if (target !== undefined) before.set(key, target);
  };
  const key = (framework: Framework, workload: Workload, what: string) => `${framework} ${workload} ${what}`;
  for (const r of previous.ratios) note(key(r.framework, r.workload, r.comparison), r.target);
  for (const a of previous.added) note(key(a.framework, a.workload, a.server), a.target);
  for (const c of previous.getSessionCost) note(key(c.framework, c.workload, GET_SESSION_LABEL), c.target);
  for (const c of previous.redisClientCost ?? []) note(key(c.framework, c.workload, FLOOR_REDIS_LABEL), c.target);
  /** `item` with its target's verdict in the run before, if that run measured it against the same limit. */
  const judged = <T extends { readonly target?: Target }>(item: T, at: string): T => {
    const { target } = item;
    const was = before.get(at);
    if (target === undefined || was === undefined || was.limit !== target.limit || was.atMost !== target.atMost) return item;
    return { ...item, target: { ...target, metBefore: was.met } };
  };
  return {
    ...results,
    meta: { ...results.meta, previousRun: previous.meta.date },
    ratios: results.ratios.map((r) => judged(r, key(r.framework, r.workload, r.comparison))),
    added: results.added.map((a) => judged(a, key(a.framework, a.workload, a.server))),
    getSessionCost: results.getSessionCost.map((c) => judged(c, key(c.framework, c.workload, GET_SESSION_LABEL))),
    ...(results.redisClientCost === undefined
      ? {}
      : { redisClientCost: results.redisClientCost.map((c) => judged(c, key(c.framework, c.workload, FLOOR_REDIS_LABEL))) }),
  };
}

/** Redis round trips per request the issue asks for (sess+Redis only). */
export const REDIS_TARGETS: Partial<Record<Workload, number>> = { read: 1, write: 2 };

export function scenarioOrder(id: string): number {
  return SCENARIOS.findIndex((scenario) => scenario.id === id);
}
