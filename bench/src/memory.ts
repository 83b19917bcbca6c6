/** Heap per live session: sess's memory store next to express-session's MemoryStore. */
import { fileURLToPath } from 'node:url';
import { SERVER_CORE, run } from './children.js';

const CHILD_TS = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface MemoryResult {
  readonly store: 'sess' | 'express-session';
  /** Sessions actually created (100,000, or 10,000 in quick mode). */
  readonly count: number;
  readonly bytesPerSession: number;
  /** Scaled to 100,000 sessions. */
  readonly mibPer100k: number;
}

/** Each store in its own fresh process, so neither sees the other's garbage. */
export async function measureMemory(store: MemoryResult['store'], count: number): Promise<MemoryResult> {
  const result = await run(SERVER_CORE, process.execPath, ['--expose-gc', '--import', 'tsx', CHILD_TS, store, String(count)], 120_000, {
    cwd: BENCH_DIR,
  });
  if (result.code !== 0) throw new Error(`memory ${store}: exit ${result.code}: ${result.stderr}`);
  const { heapDeltaBytes } = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as { heapDeltaBytes: number };
  const bytesPerSession = heapDeltaBytes / count;
  return { store, count, bytesPerSession, mibPer100k: (bytesPerSession * 100_000) / 2 ** 20 };
}
