/** The runner's handle on one server child: start it, read its CPU time, stop it. */
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { SERVER_CORE, start } from './children.js';
import type { ParentMessage, Scenario, ServerMessage } from './scenarios.js';

const SERVER_TS = fileURLToPath(new URL('./server.ts', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
/** Bounds of the start deadline (see `startDeadlineMs`). */
const MIN_START_MS = 60_000;
const MAX_START_MS = 120_000;
const SAMPLE_TIMEOUT_MS = 5_000;

export interface RunningServer {
  readonly scenario: Scenario;
  readonly port: number;
  /** The server's process id (of the launcher, which runs in the same process: valgrind, taskset). */
  readonly pid: number | undefined;
  /** The server process's user + system CPU time so far, in µs. */
  cpuMicros(): Promise<number>;
  /** The PostgreSQL queries the server's pool has sent so far. */
  queriesSent(): Promise<number>;
  stop(): void;
  /** Lets the server exit by itself (it exits when the IPC channel closes), so `--cpu-prof` can write its profile. */
  exit(): Promise<void>;
}

export type Started =
  | { readonly kind: 'running'; readonly server: RunningServer }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** The services a server may use: the bench's redis-server and the PostgreSQL the runner checked. */
export interface Services {
  readonly redisUrl?: string | undefined;
  readonly redisPort?: number | undefined;
  readonly databaseUrl?: string | undefined;
}

function handle(child: ChildProcess, scenario: Scenario, port: number): RunningServer {
  let nextId = 0;
  /** Asks the server for one figure over IPC. */
  function ask(type: ParentMessage['type']): Promise<number> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${scenario.id}: no ${type} sample in ${SAMPLE_TIMEOUT_MS} ms`)), SAMPLE_TIMEOUT_MS);
      const onMessage = (message: ServerMessage) => {
        if (message.type === 'cpu' && message.id === id) done(undefined, message.micros);
        else if (message.type === 'queries' && message.id === id) done(undefined, message.count);
      };
      const onExit = () => done(new Error(`${scenario.id}: server exited`));
      function done(error: Error | undefined, value?: number) {
        clearTimeout(timer);
        child.off('message', onMessage).off('exit', onExit);
        if (error === undefined) resolve(value ?? 0);
        else reject(error);
      }
      child.on('message', onMessage).once('exit', onExit);
      child.send({ type, id } satisfies ParentMessage);
    });
  }
  return {
    scenario,
    port,
    pid: child.pid,
    cpuMicros: () => ask('cpu'),
    queriesSent: () => ask('queries'),
    stop() {
      child.kill('SIGKILL');
    },
    exit() {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.disconnect();
      return exited;
    },
  };
}

/**
 * How long one start may take. A server compiles its TypeScript (tsx) and imports its framework
 * before it listens: about a second on a quiet machine, but every server of a framework starts at
 * once on the one server core, and another job on the machine (a second test run, say) can slow
 * that several times over. So the deadline is generous and grows with the load average per core,
 * from 60 s to 120 s; a start that misses it is tried once more before the scenario is an error.
 */
export function startDeadlineMs(): number {
  const perCore = loadavg()[0]! / Math.max(1, availableParallelism());
  return Math.round(Math.min(MAX_START_MS, MIN_START_MS * Math.max(1, perCore)));
}

/** Resolves once something accepts a TCP connection on `port`, polling until `deadline` (ms since epoch). */
async function portAnswers(port: number, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('connect', () => done(true)).once('error', () => done(false));
    });
    if (open) return true;
    await delay(100);
  }
  return false;
}

class StartTimeout extends Error {}

/** One attempt: the child says `ready` with its port over IPC, then the port must answer, all before `deadlineMs`. */
function startOnce(scenario: Scenario, services: Services, launch: Launch, deadlineMs: number): Promise<Started> {
  const [command = process.execPath, ...launcherArgs] = launch.launcher ?? [];
  const node = [...(launch.nodeArgs ?? []), '--import', 'tsx', SERVER_TS, scenario.id];
  const child = start(SERVER_CORE, command, launch.launcher === undefined ? node : [...launcherArgs, process.execPath, ...node], {
    cwd: BENCH_DIR,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // production: Express and koa-session skip their development-only work, as deployed.
    env: {
      ...process.env,
      NODE_ENV: 'production',
      BENCH_REDIS_URL: services.redisUrl ?? '',
      BENCH_DATABASE_URL: services.databaseUrl ?? '',
    },
  });
  const deadline = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new StartTimeout(`${scenario.id}: server did not start in ${Math.round(deadlineMs / 1000)} s`)),
      deadlineMs,
    );
    const onMessage = (message: ServerMessage) => {
      if (message.type === 'ready') {
        void portAnswers(message.port, deadline).then((open) => {
          if (open) finish({ kind: 'running', server: handle(child, scenario, message.port) });
          else fail(new StartTimeout(`${scenario.id}: port ${message.port} did not answer in ${Math.round(deadlineMs / 1000)} s`));
        });
      }
      if (message.type === 'unavailable') {
        child.kill('SIGKILL');
        finish({ kind: 'unavailable', reason: message.reason });
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`${scenario.id}: server exited before it was ready (${signal ?? `code ${code}`})`));
    let settled = false;
    function cleanup() {
      settled = true;
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit).off('error', fail);
    }
    function finish(started: Started) {
      if (settled) return;
      cleanup();
      resolve(started);
    }
    function fail(error: Error) {
      if (settled) return;
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    }
    child.on('message', onMessage).once('exit', onExit).once('error', fail);
  });
}

/** How a server's Node process is started. */
export interface Launch {
  /** Flags for Node (`--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** A command Node runs under (`valgrind --tool=callgrind`): it gets Node's path and arguments after its own. */
  readonly launcher?: readonly string[];
  /** How many times longer than usual the start may take (a launcher that slows Node down). */
  readonly slowdown?: number;
}

/**
 * Starts the server for `scenario` on the server core and waits until its port answers.
 * Resolves `unavailable` when the server says a package it needs is not built; rejects when it
 * crashes, or when it misses the start deadline twice (see `startDeadlineMs`).
 */
export async function startServer(scenario: Scenario, services: Services, launch: Launch = {}): Promise<Started> {
  const deadlineMs = () => startDeadlineMs() * (launch.slowdown ?? 1);
  try {
    return await startOnce(scenario, services, launch, deadlineMs());
  } catch (error) {
    if (!(error instanceof StartTimeout)) throw error;
    console.error(`${error.message}; trying once more`);
    return startOnce(scenario, services, launch, deadlineMs());
  }
}
