/**
 * Where a server's allocations come from, for `profile --alloc`: V8's sampling heap profiler, told
 * to keep the objects the garbage collector has freed (by default it reports only what is still
 * alive, and almost nothing a request makes outlives it), so each function's bytes are all it
 * allocated. Sampling costs far less than tracking every allocation, so the server keeps its speed.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

/** The environment variable that makes a bench server sample its allocations into that file. */
export const HEAP_PROFILE_ENV = 'SESS_BENCH_HEAP_PROFILE';

/** A sample every this many bytes on average: over a run of 100,000 requests, enough samples for the per-request figures to be stable, at a small cost in speed. */
const SAMPLING_INTERVAL_BYTES = 4096;

export interface HeapProfileNode {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly HeapProfileNode[];
}

/** Starts sampling now; the profile is written to `path` when the process exits. */
export function sampleAllocations(path: string): void {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // An in-process inspector session answers synchronously, so this completes inside 'exit'.
  process.on('exit', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error === null) writeFileSync(path, JSON.stringify(result.profile.head));
    });
  });
}

/** Bytes allocated per function (the frame that made the object), from a profile's tree. */
export function allocatedBytes(head: HeapProfileNode, frameName: (frame: HeapProfileNode['callFrame']) => string): Map<string, number> {
  const bytes = new Map<string, number>();
  const pending: HeapProfileNode[] = [head];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (node.selfSize > 0) {
      const name = frameName(node.callFrame);
      bytes.set(name, (bytes.get(name) ?? 0) + node.selfSize);
    }
    pending.push(...node.children);
  }
  return bytes;
}
