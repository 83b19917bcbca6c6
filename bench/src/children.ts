/**
 * Every process the bench starts goes through here, so all of them are killed on exit, on an
 * error and on Ctrl-C. Servers run on one core and the load generator on another (`taskset`),
 * so neither steals the other's CPU.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { availableParallelism } from 'node:os';

const live = new Set<ChildProcess>();

export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    console.error(`\nbench: ${signal}, children killed`);
    process.exit(130);
  });
}

/** The core the server gets and the one the load generator gets. */
export const SERVER_CORE = 1;
export const CLIENT_CORE = 0;

/** taskset needs two cores to mean anything; without it, both sides share the machine. */
export const pinning: boolean = availableParallelism() >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Starts `command` on `core` (when pinning works) and tracks it until it exits. */
export function start(core: number, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = pinning ? spawn('taskset', ['-c', String(core), command, ...args], options) : spawn(command, args, options);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion, collecting its output; kills it after `timeoutMs`. */
export function run(
  core: number,
  command: string,
  args: readonly string[],
  timeoutMs: number,
  options: SpawnOptions = {},
): Promise<Finished> {
  const child = start(core, command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => {
    stderr += `\n(killed after ${timeoutMs} ms)`;
    child.kill('SIGKILL');
  }, timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Which of `names` can be executed here (`command -v`). */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}
