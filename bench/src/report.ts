/** Turns `Results` into markdown tables (printed and written), JSON and the SVG chart. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chart } from './chart.js';
import { REDIS_TARGETS, scenarioOrder } from './results.js';
import { FLOOR_LABEL, FLOOR_REDIS_LABEL, QUICK_WORKLOADS } from './scenarios.js';
import type { AddedCost, Cell, Ratio, RedisClientCost, Results, Spread, Target } from './results.js';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const README_START = '<!-- bench:start (written by pnpm bench) -->';
const README_END = '<!-- bench:end -->';

const fixed = (value: number | undefined, digits: number) => (value === undefined ? '' : value.toFixed(digits));
const ratio = (value: number) => (value >= 10 ? `${Math.round(value)}x` : `${value.toFixed(2)}x`);

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function status(cell: Cell): string {
  if (cell.status === 'ok') return 'ok';
  return `${cell.status}: ${(cell.reason ?? '').split('\n')[0]!.slice(0, 160)}`;
}

function sortedCells(results: Results): Cell[] {
  return [...results.cells].sort((a, b) => scenarioOrder(a.scenario) - scenarioOrder(b.scenario));
}

function absoluteTable(results: Results): string {
  const rows = sortedCells(results).map((cell) => [
    cell.scenario,
    cell.workload,
    fixed(cell.rps, 0),
    fixed(cell.p50Ms, 2),
    fixed(cell.p99Ms, 2),
    fixed(cell.cpuUsPerRequest, 1),
    fixed(cell.result?.redis?.perRequest, 2),
    fixed(cell.result?.postgres?.perRequest, 2),
    status(cell),
  ]);
  return table(
    ['server', 'workload', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'Redis cmds/req', 'PG queries/req', 'status'],
    rows,
  );
}

/** `median [min-max]` over the rounds. */
function spreadText(value: Spread, format: (x: number) => string): string {
  return value.min === value.max ? format(value.median) : `${format(value.median)} [${format(value.min)}, ${format(value.max)}]`;
}

const signed = (value: number, digits: number) => `${value >= 0 ? '+' : '-'}${Math.abs(value).toFixed(digits)}`;
const micros = (x: number) => signed(x, 1);

function targetText(target: Target | undefined): [string, string] {
  if (target === undefined) return ['', ''];
  const limit = `${target.atMost ? '<=' : '>='} ${target.limit}${target.atMost ? ' µs' : 'x'}`;
  if (!target.met) return [limit, '**no**'];
  return [limit, target.metBefore === true ? 'yes (two runs)' : 'this run only'];
}

function ratioTable(ratios: readonly Ratio[]): string {
  const rows = ratios.map((r) => [
    r.framework,
    r.workload,
    r.comparison,
    spreadText(r.rps, ratio),
    spreadText(r.cpu, ratio),
    ...targetText(r.target),
  ]);
  return table(['framework', 'workload', 'comparison', 'req/s ratio', 'CPU/req ratio (inverse)', 'target (both)', 'met'], rows);
}

function addedTable(added: readonly AddedCost[]): string {
  const rows = added.map((a) => [
    a.framework,
    a.workload,
    a.server,
    a.bareCpuUs.toFixed(1),
    a.cpuUs.toFixed(1),
    spreadText(a.added, micros),
    a.overFloor === undefined ? '' : spreadText(a.overFloor, micros),
    ...targetText(a.target),
  ]);
  return table(
    [
      'framework',
      'workload',
      'server',
      'bare CPU µs/req',
      'server CPU µs/req',
      'added over bare (µs)',
      'added over floor (µs)',
      'target',
      'met',
    ],
    rows,
  );
}

/** One row per framework and workload: the cost reads "getSession() cost: +X µs CPU/request vs sess+memory". */
function getSessionTable(results: Results): string {
  if (results.getSessionCost.length === 0) return 'not measured (no sess+memory and sess+memory+getSession pair in this run)';
  const rows = results.getSessionCost.map((c) => [
    c.framework,
    c.workload,
    c.baseCpuUs.toFixed(1),
    c.getSessionCpuUs.toFixed(1),
    `getSession() cost: ${spreadText(c.extra, micros)} µs CPU/request vs sess+memory (${signed(c.extraCpuFraction * 100, 0)}%)`,
    ratio(c.rpsRatio),
    ...targetText(c.target),
  ]);
  return table(
    [
      'framework',
      'workload',
      'sess+memory CPU µs/req',
      '+getSession CPU µs/req',
      'getSession() cost',
      'req/s ratio (getSession / sess+memory)',
      'target',
      'met',
    ],
    rows,
  );
}

/** sess's Redis store against the Redis client alone, per framework and workload. */
function redisClientTable(costs: readonly RedisClientCost[] | undefined): string {
  if (costs === undefined || costs.length === 0) {
    return `not measured (no sess+redis, sess+memory, ${FLOOR_REDIS_LABEL} and ${FLOOR_LABEL} of one framework in this run)`;
  }
  const rows = costs.map((c) => [
    c.framework,
    c.workload,
    spreadText(c.store, micros),
    spreadText(c.client, micros),
    spreadText(c.beyondClient, micros),
    ...targetText(c.target),
  ]);
  return table(
    [
      'framework',
      'workload',
      'sess+redis over sess+memory (µs)',
      `client alone: ${FLOOR_REDIS_LABEL} over ${FLOOR_LABEL} (µs)`,
      'beyond the client (µs)',
      'target',
      'met',
    ],
    rows,
  );
}

const REDIS_CLIENT_INTRO = `What sess's Redis store adds to a request over its memory store, against what the Redis client costs alone: \`${FLOOR_REDIS_LABEL}\` is the floor making the same Redis round trips as \`sess+redis\` on each route, through the same node-redis client, with no session work. Server CPU µs per request, each figure taken per round from the four servers of the round.`;

function redisTable(results: Results): string {
  const rows = sortedCells(results)
    .filter((cell) => cell.result?.redis !== undefined)
    .map((cell) => {
      const redis = cell.result!.redis!;
      const commands = Object.entries(redis.byCommand)
        .map(([name, perRequest]) => `${name} ${perRequest.toFixed(2)}`)
        .join(', ');
      const target = cell.scenario.endsWith('sess+redis') ? REDIS_TARGETS[cell.workload] : undefined;
      return [
        cell.scenario,
        cell.workload,
        redis.perRequest.toFixed(2),
        commands,
        target === undefined ? '' : `<= ${target}`,
        target === undefined ? '' : redis.perRequest <= target ? 'yes' : 'no',
      ];
    });
  return rows.length === 0
    ? 'not measured (no Redis scenario ran)'
    : table(['server', 'workload', 'round trips/req', 'commands/req', 'target', 'met'], rows);
}

function postgresTable(results: Results): string {
  const rows = sortedCells(results)
    .filter((cell) => cell.result?.postgres !== undefined)
    .map((cell) => [cell.scenario, cell.workload, cell.result!.postgres!.perRequest.toFixed(2)]);
  return rows.length === 0 ? 'not measured (no PostgreSQL scenario ran)' : table(['server', 'workload', 'queries/req'], rows);
}

function memoryTable(results: Results): string {
  if (results.memoryError !== undefined) return `error: ${results.memoryError}`;
  const peer = results.memory.find((m) => m.store === 'express-session');
  const rows = results.memory.map((m) => {
    const vsPeer = peer === undefined ? undefined : m.bytesPerSession / peer.bytesPerSession;
    const isSess = m.store === 'sess';
    return [
      m.store === 'sess' ? '@sess/store-memory' : 'express-session MemoryStore',
      m.count.toLocaleString('en-US'),
      m.bytesPerSession.toFixed(0),
      m.mibPer100k.toFixed(1),
      vsPeer === undefined ? '' : `${vsPeer.toFixed(2)}x`,
      isSess ? '<= 0.50x' : '',
      isSess && vsPeer !== undefined ? (vsPeer <= 0.5 ? 'yes' : 'no') : '',
    ];
  });
  return table(['store', 'sessions', 'bytes/session', 'MiB per 100k', 'vs express-session', 'target', 'met'], rows);
}

export function markdown(results: Results): string {
  const m = results.meta;
  const unavailable = [
    ...new Set(results.cells.filter((cell) => cell.status === 'unavailable').map((cell) => `- ${cell.scenario}: ${cell.reason}`)),
  ];
  return [
    `# sess benchmark (${m.mode})`,
    '',
    `- Date: ${m.date}`,
    `- Node: ${m.node}`,
    `- Machine: ${m.cpu}, ${m.cores} cores`,
    `- Load generator: ${m.loadGenerator}, ${m.connections} connections, ${m.durationS} s per run, ${m.rounds} alternating round(s), warm-up ${m.warmUp}`,
    `- Pinning: ${m.pinned ? 'server on core 1, load generator and redis-server on core 0 (taskset)' : 'none (taskset or a second core missing)'}`,
    ...(m.only === undefined ? [] : [`- Only scenarios matching: ${m.only}`]),
    '',
    "Server CPU µs/req is the server process's own `process.cpuUsage()` over a run divided by the responses the load generator completed: the sturdiest figure on a shared machine. Redis figures are counted on the bench's own redis-server with MONITOR over sequential requests (script-internal commands excluded).",
    '',
    '## Notes',
    '',
    '- Hono has no first-party session library, so its sess servers are held against bare Hono only; there is no peer row or bar for Hono.',
    '- `@fastify/session` runs with `@fastify/cookie`, its default MemoryStore and `saveUninitialized: false`; its other defaults stay, so `rolling: true` saves the session and re-sends the cookie on every response that has one.',
    "- The PostgreSQL scenarios (Express only: `sess+postgres` with `@sess/store-postgres`, `express-session+connect-pg-simple`) use the PostgreSQL server at `DATABASE_URL`, not one the bench starts; it is not pinned to a core, so their req/s also depends on what else the machine runs. Server CPU µs/req counts the Node server alone, not PostgreSQL. Each store has its own table in a schema of the run's own (`sess_bench_<pid>`), emptied when its server starts and dropped when the run ends. PG queries/req are counted at the server's pool over sequential requests.",
    "- Figures with a spread read `median [lowest, highest]` over the rounds, each round's figure taken from servers measured back to back.",
    `- ${twoRunRule(m.previousRun)}`,
    `- \`${FLOOR_LABEL}\` is each framework's session server with no session in it: a middleware that calls on after one promise step, and the same routes over a plain object. What a server adds over the floor is its own cost; the floor's over bare is the framework's charge for an async middleware and async routes.`,
    "- Ratios for Fastify, Hono, PostgreSQL and h3's `useSession` have no target.",
    '',
    '## Throughput and cost',
    '',
    absoluteTable(results),
    '',
    '## Server CPU added over the bare framework',
    '',
    addedTable(results.added),
    '',
    '## Against the peer',
    '',
    "req/s of sess over the peer's, and the peer's server CPU per request over sess's: above 1 means sess is ahead. A target holds for both.",
    '',
    ratioTable(results.ratios),
    '',
    '## getSession() cost (asyncContext)',
    '',
    `\`sess+memory+getSession\` is \`sess+memory\` with \`asyncContext: true\`, its handlers reaching the session through \`getSession()\` (AsyncLocalStorage) from a helper instead of \`req.session\` / \`ctx.session\` / \`useSession(event)\` / \`request.session\` / \`c.get('session')\`. The cost is the median over rounds of the extra server CPU per request, the two servers measured back to back in each round.${m.mode === 'quick' ? ` A quick run (${QUICK_WORKLOADS.join(' and ')} only, one short run each) makes it noisy, and on a shared machine it can even come out negative: read the full run's figures.` : ''}`,
    '',
    getSessionTable(results),
    '',
    '## Redis store against the client alone',
    '',
    REDIS_CLIENT_INTRO,
    '',
    redisClientTable(results.redisClientCost),
    '',
    '## Redis round trips per request',
    '',
    redisTable(results),
    '',
    '## PostgreSQL queries per request',
    '',
    postgresTable(results),
    '',
    '## Memory per live session',
    '',
    memoryTable(results),
    '',
    '## Core machine cost',
    '',
    results.coreBench === undefined
      ? 'not run'
      : [`\`${results.coreBench.command}\` (exit ${results.coreBench.exitCode})`, '', '```', results.coreBench.output.trim(), '```'].join(
          '\n',
        ),
    '',
    ...(unavailable.length === 0 ? [] : ['## Unavailable scenarios', '', ...unavailable, '']),
    ...(results.errors.length === 0 ? [] : ['## Harness errors', '', ...results.errors.map((error) => `- ${error.split('\n')[0]}`), '']),
    ...(m.mode === 'full' ? ['![requests/s relative to the bare framework](chart.svg)', ''] : []),
  ].join('\n');
}

/** The issue's rule for a met target, and the run this one's verdicts were paired with. */
function twoRunRule(previousRun: string | undefined): string {
  const before =
    previousRun === undefined ? 'no earlier full run was found' : `the one before ran on ${previousRun.slice(0, 16).replace('T', ' ')} UTC`;
  return `A target counts as met once its median meets it in two full runs: \`yes (two runs)\` when this run and the full run before it do, \`this run only\` when only this one does (${before}).`;
}

/**
 * The root README's benchmark summary: when and where, the chart, every ratio the issue sets a
 * target for, and memory per session. The full tables are in `bench/results/latest.md`.
 */
export function readmeSummary(results: Results): string {
  const m = results.meta;
  const sess = results.memory.find((x) => x.store === 'sess');
  const peer = results.memory.find((x) => x.store === 'express-session');
  return [
    `Full run of ${m.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, shared), Node ${m.node}, ${m.loadGenerator}, ${m.connections} connections, ${m.rounds} alternating rounds of ${m.durationS} s, server and load generator pinned to different cores. Figures read \`median [lowest, highest]\` over the rounds. ${twoRunRule(m.previousRun)}`,
    '',
    '![requests/s relative to the bare framework](bench/results/chart.svg)',
    '',
    'Server CPU per request that sess (memory store) adds over the bare framework, and over the floor (the same server with an async middleware and routes but no session):',
    '',
    addedTable(results.added.filter((a) => a.target !== undefined)),
    '',
    "Against the session library each framework's users run today, like for like:",
    '',
    ratioTable(results.ratios.filter((r) => r.target !== undefined)),
    '',
    REDIS_CLIENT_INTRO,
    '',
    redisClientTable(results.redisClientCost),
    '',
    sess === undefined || peer === undefined
      ? 'Memory per session: not measured in this run.'
      : `Memory per live session (${sess.count.toLocaleString('en')} five-key sessions): sess's memory store ${sess.bytesPerSession.toFixed(0)} bytes, express-session's MemoryStore ${peer.bytesPerSession.toFixed(0)} bytes (${(sess.bytesPerSession / peer.bytesPerSession).toFixed(2)}x; target <= 0.50x).`,
    '',
    'Every figure, p50/p99 latency, Redis round trips per request and the getSession() cost: [bench/results/latest.md](bench/results/latest.md).',
  ].join('\n');
}

/** Replaces the README's summary between its markers; a README without them is left alone. */
function writeReadmeSummary(results: Results): void {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start === -1 || end < start) return;
  writeFileSync(README, `${readme.slice(0, start + README_START.length)}\n${readmeSummary(results)}\n${readme.slice(end)}`);
}

/** Writes `<name>.json` and `<name>.md` (and the chart for a full run); returns the markdown. */
export function writeReport(results: Results, name: 'latest' | 'quick'): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const md = markdown(results);
  writeFileSync(`${RESULTS_DIR}${name}.json`, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(`${RESULTS_DIR}${name}.md`, md);
  writeFileSync(`${RESULTS_DIR}${name === 'latest' ? 'chart' : 'quick'}.svg`, chart(results));
  // Only a full run of every scenario speaks for the README.
  if (name === 'latest' && results.meta.only === undefined) writeReadmeSummary(results);
  return md;
}
