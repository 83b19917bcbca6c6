/**
 * The bench's results as data, and the figures derived from them: medians over rounds, ratios
 * against the bare framework and the peer, and the targets. Targets are reported, never
 * enforced: a missed target does not change the exit code.
 */
import type { MemoryResult } from './memory.js';
import type { CellResult } from './measure.js';
import { FRAMEWORKS, GET_SESSION_LABEL, SCENARIOS, WORKLOADS } from './scenarios.js';
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

export interface Ratio {
  readonly framework: Framework;
  readonly workload: Workload;
  /** e.g. `sess+memory / bare`. */
  readonly comparison: string;
  /** requests/s of the first over the second. */
  readonly rpsRatio: number;
  /** Server CPU per request of the second over the first: how many times less CPU the first uses. */
  readonly cpuRatio: number;
  /** `>= 0.90` and so on, or undefined where the issue sets none. */
  readonly target?: number;
  readonly met?: boolean;
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
  /**
   * Extra server CPU µs/request: the median of the per-round differences (the two servers run
   * back to back in every round, so drift largely cancels), or of the medians' difference.
   */
  readonly extraCpuUs: number;
  /** `extraCpuUs` over `baseCpuUs`. */
  readonly extraCpuFraction: number;
  /** requests/s of sess+memory+getSession over sess+memory. */
  readonly rpsRatio: number;
}

export interface CoreBench {
  readonly command: string;
  readonly exitCode: number | null;
  readonly output: string;
}

export interface Results {
  readonly meta: {
    readonly date: string;
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
  readonly getSessionCost: readonly GetSessionCost[];
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
export const PEERS: Record<Framework, { memory?: string; redis?: string; postgres?: string }> = {
  express: {
    memory: 'express/express-session+memory',
    redis: 'express/express-session+connect-redis',
    postgres: 'express/express-session+connect-pg-simple',
  },
  koa: { memory: 'koa/koa-session+cookie', redis: 'koa/koa-session+redis' },
  h3: { memory: 'h3/useSession' },
  fastify: { memory: 'fastify/@fastify/session+memory' },
  hono: {},
};

/**
 * The targets (requests/s ratios), set for Express, Koa and h3. Fastify, Hono and the
 * PostgreSQL store have ratios but no targets.
 */
const TARGETED: readonly Framework[] = ['express', 'koa', 'h3'];
const VS_BARE: Partial<Record<Workload, number>> = { read: 0.9, write: 0.8 };
const VS_PEER: Partial<Record<Framework, number>> = { express: 1.4, koa: 2.5, h3: 300 };
const VS_PEER_REDIS: Partial<Record<Framework, number>> = { express: 1.3 };

const okCell = (cells: readonly Cell[], id: string, workload: Workload) =>
  cells.find((cell) => cell.scenario === id && cell.workload === workload && cell.status === 'ok');

export function ratios(cells: readonly Cell[]): Ratio[] {
  const find = (id: string, workload: Workload) => okCell(cells, id, workload);
  const out: Ratio[] = [];
  const add = (framework: Framework, workload: Workload, a: string, b: string, target: number | undefined) => {
    const first = find(a, workload);
    const second = find(b, workload);
    if (first === undefined || second === undefined) return;
    const rpsRatio = first.rps! / second.rps!;
    const short = (id: string) => id.slice(id.indexOf('/') + 1);
    out.push({
      framework,
      workload,
      comparison: `${short(a)} / ${short(b)}`,
      rpsRatio,
      cpuRatio: second.cpuUsPerRequest! / first.cpuUsPerRequest!,
      ...(target === undefined ? {} : { target, met: rpsRatio >= target }),
    });
  };
  for (const framework of FRAMEWORKS) {
    const peers = PEERS[framework];
    for (const workload of WORKLOADS) {
      add(
        framework,
        workload,
        `${framework}/sess+memory`,
        `${framework}/bare`,
        TARGETED.includes(framework) ? VS_BARE[workload] : undefined,
      );
      if (peers.memory !== undefined) add(framework, workload, `${framework}/sess+memory`, peers.memory, VS_PEER[framework]);
      if (peers.redis !== undefined) add(framework, workload, `${framework}/sess+redis`, peers.redis, VS_PEER_REDIS[framework]);
      if (peers.postgres !== undefined) add(framework, workload, `${framework}/sess+postgres`, peers.postgres, undefined);
      add(framework, workload, `${framework}/${GET_SESSION_LABEL}`, `${framework}/sess+memory`, undefined);
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
      const baseRuns = base.result!.runs;
      const contextRuns = withContext.result!.runs;
      const extraCpuUs =
        baseRuns.length === contextRuns.length
          ? median(contextRuns.map((run, round) => run.cpuUsPerRequest - baseRuns[round]!.cpuUsPerRequest))
          : withContext.cpuUsPerRequest! - base.cpuUsPerRequest!;
      out.push({
        framework,
        workload,
        baseCpuUs: base.cpuUsPerRequest!,
        getSessionCpuUs: withContext.cpuUsPerRequest!,
        extraCpuUs,
        extraCpuFraction: extraCpuUs / base.cpuUsPerRequest!,
        rpsRatio: withContext.rps! / base.rps!,
      });
    }
  }
  return out;
}

/** Redis round trips per request the issue asks for (sess+Redis only). */
export const REDIS_TARGETS: Partial<Record<Workload, number>> = { read: 1, write: 2 };

export function scenarioOrder(id: string): number {
  return SCENARIOS.findIndex((scenario) => scenario.id === id);
}
