/**
 * h3 v1's commit moment. Its `onBeforeResponse` hook is app-wide and is skipped for responses a
 * handler sends itself (`sendRedirect`, `send`), so the v1 entry holds the Node response's first
 * `writeHead`, `write` or `end` until the commit has run, then replays the held calls in order.
 * If the commit fails the held output is dropped and `fail` answers instead: a lost write never
 * ends in a 2xx. `onHold` runs when output is first held: h3 v1 reads "handled" off
 * `res.writableEnded`/`headersSent`, which a held response doesn't show yet.
 */
import type { ServerResponse } from 'node:http';

type Output = 'writeHead' | 'write' | 'end';

export function commitBeforeHeaders(
  res: ServerResponse,
  commit: (status: number) => Promise<void>,
  fail: (error: unknown, end: () => void) => void,
  onHold: () => void,
): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as const;
  const held: Array<() => void> = [];
  let phase: 'open' | 'committing' | 'done' = 'open';
  const call = (name: Output, args: unknown[]) => (original[name] as (...a: unknown[]) => unknown).apply(res, args);

  const release = () => {
    phase = 'done';
    res.writeHead = original.writeHead;
    res.write = original.write;
    res.end = original.end;
  };

  const gate = (name: Output) =>
    function gated(this: ServerResponse, ...args: unknown[]): unknown {
      if (phase === 'done') return call(name, args);
      held.push(() => call(name, args));
      if (phase === 'open') {
        phase = 'committing';
        onHold();
        const status = name === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode;
        commit(status).then(
          () => {
            release();
            for (const replay of held.splice(0)) replay();
          },
          (error: unknown) => {
            held.length = 0;
            release();
            fail(error, () => res.end());
          },
        );
      }
      return name === 'write' ? true : res;
    };

  res.writeHead = gate('writeHead') as ServerResponse['writeHead'];
  res.write = gate('write') as ServerResponse['write'];
  res.end = gate('end') as ServerResponse['end'];
}
