/**
 * Measures one framework's servers on one workload: prime a cookie, check the server honours it,
 * warm up, then alternate measured runs between the servers so drift (other load on the
 * machine, thermal, GC state) hits every side alike.
 */
import { drive } from './load.js';
import type { Generator, LoadResult } from './load.js';
import { countCommands } from './redis-server.js';
import type { CommandCount } from './redis-server.js';
import type { RunningServer } from './server-process.js';
import { FLOOR_COOKIE, sendsCookie } from './scenarios.js';
import type { Workload } from './scenarios.js';

export interface Settings {
  readonly generator: Generator;
  readonly connections: number;
  readonly durationS: number;
  readonly rounds: number;
  /** Warm-up per server and workload: with the load generator (full) or a short fetch loop (quick). */
  readonly warmUp: { readonly kind: 'generator'; readonly seconds: number } | { readonly kind: 'fetch'; readonly ms: number };
  /** Sequential requests whose Redis commands or PostgreSQL queries are counted. */
  readonly roundTripCountRequests: number;
}

export interface Run extends LoadResult {
  /** Server CPU (user + system) over the run, divided by the responses completed. */
  readonly cpuUsPerRequest: number;
}

export interface RedisCount {
  /** Commands (round trips) per request. */
  readonly perRequest: number;
  readonly byCommand: Readonly<Record<string, number>>;
}

export interface PostgresCount {
  /** Queries (round trips) per request, counted at the server's pool. */
  readonly perRequest: number;
}

export interface CellResult {
  readonly runs: Run[];
  redis?: RedisCount;
  postgres?: PostgresCount;
  error?: string;
}

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly cookies: string[];
}

async function get(port: number, path: string, cookie: string | undefined): Promise<Reply> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: cookie === undefined ? {} : { cookie },
    redirect: 'manual',
  });
  const cookies = response.headers
    .getSetCookie()
    .map((header) => header.slice(0, header.indexOf(';') < 0 ? undefined : header.indexOf(';')))
    // A deletion (`name=`) is no cookie; base64 values may end in '=' themselves.
    .filter((pair) => pair.indexOf('=') < pair.length - 1);
  return { status: response.status, body: await response.text(), cookies };
}

/** A fresh session cookie for `server`, checked: `/read` with it must see the primed data. */
export async function prime(server: RunningServer): Promise<string | undefined> {
  const primed = await get(server.port, '/prime', undefined);
  if (primed.status !== 200) throw new Error(`/prime answered ${primed.status}: ${primed.body}`);
  // No session, no cookie: the bare framework, and the floor (whose session is a plain object).
  if (server.scenario.impl === 'bare') return undefined;
  if (server.scenario.impl === 'floor') return FLOOR_COOKIE;
  if (primed.cookies.length === 0) throw new Error('/prime set no cookie');
  const cookie = primed.cookies.join('; ');
  const read = await get(server.port, '/read', cookie);
  if (read.status !== 200 || read.body !== 'views=1')
    throw new Error(`/read with the primed cookie answered ${read.status} ${JSON.stringify(read.body)}, not "views=1"`);
  return cookie;
}

async function fetchLoop(server: RunningServer, path: string, cookie: string | undefined, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const worker = async () => {
    while (Date.now() < deadline) {
      const reply = await get(server.port, path, cookie);
      if (reply.status >= 400) throw new Error(`warm-up: ${path} answered ${reply.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

function check(result: LoadResult): void {
  if (result.non2xx > 0) throw new Error(`${result.non2xx} responses outside 2xx/3xx`);
  if (result.socketErrors > 0) throw new Error(`${result.socketErrors} socket errors or timeouts`);
  if (result.requests === 0) throw new Error('no request completed');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the server has finished the requests still in flight when the load generator
 * stopped (up to 32, several ms each for h3's sealed sessions): otherwise they would run on the
 * server core during the next server's run, and their Redis commands would land in its count.
 */
async function settle(server: RunningServer): Promise<void> {
  const deadline = Date.now() + 5_000;
  let before = await server.cpuMicros();
  while (Date.now() < deadline) {
    await sleep(50);
    const after = await server.cpuMicros();
    // Under 10% of a core over 50 ms: idle apart from the CPU samples themselves.
    if (after - before < 5_000) return;
    before = after;
  }
}

async function measured(server: RunningServer, settings: Settings, url: string, cookie: string | undefined): Promise<Run> {
  let before = await server.cpuMicros();
  let load = await drive(settings.generator, { url, cookie, durationS: settings.durationS, connections: settings.connections });
  if (load.requests === 0 && load.non2xx === 0 && load.socketErrors === 0) {
    // A server spending milliseconds per request (h3's useSession) on a core other processes
    // are also using can finish nothing in a 1 s quick run; one longer run tells slow from stuck.
    await settle(server);
    before = await server.cpuMicros();
    load = await drive(settings.generator, { url, cookie, durationS: settings.durationS * 4, connections: settings.connections });
  }
  const after = await server.cpuMicros();
  await settle(server);
  check(load);
  return { ...load, cpuUsPerRequest: (after - before) / load.requests };
}

async function sequential(server: RunningServer, path: string, cookie: string | undefined, requests: number, what: string): Promise<void> {
  for (let i = 0; i < requests; i++) {
    const reply = await get(server.port, path, cookie);
    if (reply.status >= 400) throw new Error(`${what}: ${path} answered ${reply.status}`);
  }
}

async function redisPerRequest(
  server: RunningServer,
  redisPort: number,
  path: string,
  cookie: string | undefined,
  requests: number,
): Promise<RedisCount> {
  const counted: CommandCount = await countCommands(redisPort, () => sequential(server, path, cookie, requests, 'Redis count'));
  const byCommand = Object.fromEntries(Object.entries(counted.byCommand).map(([name, calls]) => [name, calls / requests]));
  return { perRequest: counted.total / requests, byCommand };
}

/**
 * Queries the server's pool sends per request, over sequential requests. The server has settled
 * after its last run, but a store's background sweep could still land in the count: it would
 * show as a fraction, never hide a query.
 */
async function postgresPerRequest(
  server: RunningServer,
  path: string,
  cookie: string | undefined,
  requests: number,
): Promise<PostgresCount> {
  const before = await server.queriesSent();
  await sequential(server, path, cookie, requests, 'PostgreSQL count');
  return { perRequest: ((await server.queriesSent()) - before) / requests };
}

/**
 * Measures `workload` on every server in `servers`. A failing server gets an `error` and drops
 * out of later rounds; the others go on.
 */
export async function measureWorkload(
  servers: readonly RunningServer[],
  workload: Workload,
  settings: Settings,
  redisPort: number | undefined,
  log: (line: string) => void,
): Promise<Map<string, CellResult>> {
  const path = `/${workload}`;
  const cells = new Map<string, CellResult>();
  const cookies = new Map<string, string | undefined>();
  const fail = (server: RunningServer, error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    cells.get(server.scenario.id)!.error = message;
    log(`  ${server.scenario.id} ${workload}: ERROR ${message}`);
  };

  for (const server of servers) {
    cells.set(server.scenario.id, { runs: [] });
    try {
      const cookie = sendsCookie(workload) ? await prime(server) : undefined;
      cookies.set(server.scenario.id, cookie);
      const url = `http://127.0.0.1:${server.port}${path}`;
      if (settings.warmUp.kind === 'fetch') await fetchLoop(server, path, cookie, settings.warmUp.ms);
      else check(await drive(settings.generator, { url, cookie, durationS: settings.warmUp.seconds, connections: settings.connections }));
      await settle(server);
    } catch (error) {
      fail(server, error);
    }
  }

  for (let round = 0; round < settings.rounds; round++) {
    // Alternate the order too, so no server always runs right after the same neighbour.
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) {
      const cell = cells.get(server.scenario.id)!;
      if (cell.error !== undefined) continue;
      try {
        const run = await measured(server, settings, `http://127.0.0.1:${server.port}${path}`, cookies.get(server.scenario.id));
        cell.runs.push(run);
        log(
          `  ${server.scenario.id.padEnd(38)} ${workload.padEnd(10)} round ${round + 1}: ${Math.round(run.rps)} req/s, ${run.cpuUsPerRequest.toFixed(1)} µs CPU/req`,
        );
      } catch (error) {
        fail(server, error);
      }
    }
  }

  for (const server of servers) {
    const cell = cells.get(server.scenario.id)!;
    if (cell.error !== undefined) continue;
    const cookie = cookies.get(server.scenario.id);
    try {
      if (server.scenario.store === 'redis' && redisPort !== undefined)
        cell.redis = await redisPerRequest(server, redisPort, path, cookie, settings.roundTripCountRequests);
      if (server.scenario.store === 'postgres')
        cell.postgres = await postgresPerRequest(server, path, cookie, settings.roundTripCountRequests);
    } catch (error) {
      fail(server, error);
    }
  }
  return cells;
}
