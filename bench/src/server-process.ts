/** The runner's handle on one server child: start it, read its CPU time, stop it. */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVER_CORE, start } from './children.js';
import type { ParentMessage, Scenario, ServerMessage } from './scenarios.js';

const SERVER_TS = fileURLToPath(new URL('./server.ts', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const CPU_TIMEOUT_MS = 5_000;

export interface RunningServer {
  readonly scenario: Scenario;
  readonly port: number;
  /** The server process's user + system CPU time so far, in µs. */
  cpuMicros(): Promise<number>;
  stop(): void;
  /** Lets the server exit by itself (it exits when the IPC channel closes), so `--cpu-prof` can write its profile. */
  exit(): Promise<void>;
}

export type Started =
  | { readonly kind: 'running'; readonly server: RunningServer }
  | { readonly kind: 'unavailable'; readonly reason: string };

function handle(child: ChildProcess, scenario: Scenario, port: number): RunningServer {
  let nextId = 0;
  return {
    scenario,
    port,
    cpuMicros() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${scenario.id}: no CPU sample in ${CPU_TIMEOUT_MS} ms`)), CPU_TIMEOUT_MS);
        const onMessage = (message: ServerMessage) => {
          if (message.type === 'cpu' && message.id === id) done(undefined, message.micros);
        };
        const onExit = () => done(new Error(`${scenario.id}: server exited`));
        function done(error: Error | undefined, micros?: number) {
          clearTimeout(timer);
          child.off('message', onMessage).off('exit', onExit);
          if (error === undefined) resolve(micros ?? 0);
          else reject(error);
        }
        child.on('message', onMessage).once('exit', onExit);
        child.send({ type: 'cpu', id } satisfies ParentMessage);
      });
    },
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
 * Starts the server for `scenario` on the server core. Resolves `unavailable` when the server
 * says a package it needs is not built; rejects when it crashes or does not start in time.
 */
export function startServer(scenario: Scenario, redisUrl: string | undefined, nodeArgs: readonly string[] = []): Promise<Started> {
  const child = start(SERVER_CORE, process.execPath, [...nodeArgs, '--import', 'tsx', SERVER_TS, scenario.id], {
    cwd: BENCH_DIR,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // production: Express and koa-session skip their development-only work, as deployed.
    env: { ...process.env, NODE_ENV: 'production', BENCH_REDIS_URL: redisUrl ?? '' },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${scenario.id}: server did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    const onMessage = (message: ServerMessage) => {
      if (message.type === 'ready') finish({ kind: 'running', server: handle(child, scenario, message.port) });
      if (message.type === 'unavailable') {
        child.kill('SIGKILL');
        finish({ kind: 'unavailable', reason: message.reason });
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`${scenario.id}: server exited before it was ready (${signal ?? `code ${code}`})`));
    function cleanup() {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit).off('error', fail);
    }
    function finish(started: Started) {
      cleanup();
      resolve(started);
    }
    function fail(error: Error) {
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    }
    child.on('message', onMessage).once('exit', onExit).once('error', fail);
  });
}
