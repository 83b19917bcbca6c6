/**
 * The load generators, run on the client core: wrk when installed (one C thread, it does not
 * saturate its own core the way autocannon's JavaScript does, so fast servers are not capped by
 * the client), autocannon otherwise. Both are driven with keep-alive connections and the same
 * cookie header on every request.
 */
import { createRequire } from 'node:module';
import { CLIENT_CORE, hasCommand, run } from './children.js';

export type Generator = 'wrk' | 'autocannon';

export interface LoadOptions {
  readonly url: string;
  /** The `Cookie` header value, if the workload sends one. */
  readonly cookie: string | undefined;
  /** Whole seconds: wrk does not take fractions. */
  readonly durationS: number;
  readonly connections: number;
}

export interface LoadResult {
  /** Responses the generator completed (requests still in flight at the end are not counted). */
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses outside 2xx/3xx: any is a harness failure. */
  readonly non2xx: number;
  /** Connect/read/write errors and timeouts: any is a harness failure. */
  readonly socketErrors: number;
}

export function pickGenerator(): Generator {
  return hasCommand('wrk') ? 'wrk' : 'autocannon';
}

/** A slow peer (h3's PBKDF2 sessions) queues 32 requests at several ms each; not an error. */
const REQUEST_TIMEOUT_S = 10;

export function drive(generator: Generator, options: LoadOptions): Promise<LoadResult> {
  return generator === 'wrk' ? wrk(options) : autocannon(options);
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function toMs(text: string | undefined): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text ?? '');
  if (match === null) throw new Error(`wrk: cannot read latency ${JSON.stringify(text)}`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** Reads wrk 4's `--latency` report. */
export function parseWrk(output: string): LoadResult {
  const number = (pattern: RegExp) => {
    const match = pattern.exec(output);
    if (match === null) throw new Error(`wrk: no ${pattern.source} in output:\n${output}`);
    return match;
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: Number(number(/(\d+) requests in/)[1]),
    rps: Number(number(/Requests\/sec:\s+([\d.]+)/)[1]),
    p50Ms: toMs(number(/^\s+50%\s+(\S+)/m)[1]),
    p99Ms: toMs(number(/^\s+99%\s+(\S+)/m)[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
    socketErrors: socket === null ? 0 : socket.slice(1).reduce((sum, count) => sum + Number(count), 0),
  };
}

async function wrk(options: LoadOptions): Promise<LoadResult> {
  const args = ['-t1', `-c${options.connections}`, `-d${options.durationS}s`, `--timeout`, `${REQUEST_TIMEOUT_S}s`, '--latency'];
  if (options.cookie !== undefined) args.push('-H', `Cookie: ${options.cookie}`);
  args.push(options.url);
  const result = await run(CLIENT_CORE, 'wrk', args, (options.durationS + 30) * 1000);
  if (result.code !== 0) throw new Error(`wrk exited with ${result.code}: ${result.stderr || result.stdout}`);
  return parseWrk(result.stdout);
}

interface AutocannonJson {
  requests: { total: number; average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function autocannon(options: LoadOptions): Promise<LoadResult> {
  const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [cli, '-c', String(options.connections), '-d', String(options.durationS), '-t', String(REQUEST_TIMEOUT_S), '-j'];
  if (options.cookie !== undefined) args.push('-H', `Cookie: ${options.cookie}`);
  args.push(options.url);
  const result = await run(CLIENT_CORE, process.execPath, args, (options.durationS + 30) * 1000);
  if (result.code !== 0) throw new Error(`autocannon exited with ${result.code}: ${result.stderr}`);
  const json = JSON.parse(result.stdout) as AutocannonJson;
  return {
    requests: json.requests.total,
    rps: json.requests.average,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    non2xx: json.non2xx,
    socketErrors: json.errors + json.timeouts,
  };
}
