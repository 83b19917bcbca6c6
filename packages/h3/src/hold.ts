/**
 * h3 v1's commit moment. Its `onBeforeResponse` hook is app-wide and is skipped for responses a
 * handler sends itself (`sendRedirect`, `send`), so the v1 entry holds the Node response's first
 * `writeHead`, `write` or `end` until the commit has run, then replays the held calls in order.
 * If the commit fails, or a replayed call throws, the held output is dropped and `fail` answers
 * instead: a lost write never ends in a 2xx. `onHold` runs when output is first held: h3 v1
 * reads "handled" off `res.writableEnded`/`headersSent`, which a held response doesn't show yet.
 */
import { ServerResponse } from 'node:http';

type Output = 'writeHead' | 'write' | 'end';

interface Call {
  readonly name: Output;
  readonly args: unknown[];
}

/** What Node's `checkInvalidHeaderChar` accepts in a status message. */
const STATUS_MESSAGE = /^[\t\x20-\x7e\x80-\xff]*$/;

const isChunk = (value: unknown): boolean => typeof value === 'string' || value instanceof Uint8Array;

/**
 * The common first call, `end(body)` or `write(chunk)` on a response whose status and message
 * Node takes: nothing in it that Node could refuse, so it needs no rehearsal.
 */
function plainly(res: ServerResponse, { name, args }: Call): boolean {
  if (name === 'writeHead' || args.length > 1 || res.strictContentLength) return false;
  const [chunk] = args;
  if (name === 'write' ? !isChunk(chunk) : chunk && !isChunk(chunk)) return false;
  const { statusCode, statusMessage } = res;
  return (
    Number.isInteger(statusCode) &&
    statusCode >= 100 &&
    statusCode <= 999 &&
    (statusMessage === undefined || STATUS_MESSAGE.test(statusMessage))
  );
}

/**
 * A response that is never sent (it has no socket), with the real one's status and headers and
 * the calls held so far, to rehearse output on. Callbacks are left out: they are the real call's.
 */
function stageOf(res: ServerResponse, held: readonly Call[]): ServerResponse {
  const stage = new ServerResponse(res.req);
  // A rehearsed write after end reports its error as an event, as the real one will.
  stage.on('error', () => {});
  stage.statusCode = res.statusCode;
  stage.statusMessage = res.statusMessage;
  stage.strictContentLength = res.strictContentLength;
  for (const name of res.getHeaderNames()) stage.setHeader(name, res.getHeader(name) as string | string[]);
  for (const call of held) perform(stage, call);
  return stage;
}

function perform(target: ServerResponse, { name, args }: Call): void {
  (ServerResponse.prototype[name] as (...a: unknown[]) => unknown).apply(
    target,
    args.filter((arg) => typeof arg !== 'function'),
  );
}

export function commitBeforeHeaders(
  res: ServerResponse,
  commit: (status: number) => Promise<void>,
  fail: (error: unknown, end: () => void) => void,
  onHold: () => void,
): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end } as const;
  const held: Call[] = [];
  let phase: 'open' | 'committing' | 'done' = 'open';
  let stage: ServerResponse | undefined;
  const call = ({ name, args }: Call) => (original[name] as (...a: unknown[]) => unknown).apply(res, args);

  const release = () => {
    phase = 'done';
    stage = undefined;
    res.writeHead = original.writeHead;
    res.write = original.write;
    res.end = original.end;
  };

  // Node refuses bad output (a status out of range, a header value it can't send, a chunk that
  // isn't one) by throwing to the caller, where h3's error handling answers. A held call would
  // throw only when replayed, after the handler has returned: nobody would catch it and the
  // request would hang. So each call is first rehearsed on a stage, and throws where it's made.
  const rehearse = (next: Call) => {
    // Without its request (a stand-in response) no stage can be built; replay failures are still answered.
    if ((stage === undefined && held.length === 0 && plainly(res, next)) || res.req === undefined) return;
    try {
      stage ??= stageOf(res, held);
      perform(stage, next);
    } catch (error) {
      // The stage may be half-changed by the refused call; the next one gets a fresh stage.
      stage = undefined;
      throw error;
    }
  };

  // After a failed commit, or a replayed call that throws (past the rehearsal only a wrapper
  // another library put around these methods can), once the handler is gone: `fail` answers,
  // and if even that throws the connection is ended rather than left open.
  const answer = (error: unknown) => {
    held.length = 0;
    try {
      fail(error, () => res.end());
    } catch {
      res.destroy();
    }
  };

  const replay = () => {
    for (const next of held.splice(0)) {
      try {
        call(next);
      } catch (error) {
        answer(error);
        return;
      }
    }
  };

  const gate = (name: Output) =>
    function gated(this: ServerResponse, ...args: unknown[]): unknown {
      const next = { name, args };
      if (phase === 'done') return call(next);
      rehearse(next);
      held.push(next);
      if (phase === 'open') {
        phase = 'committing';
        onHold();
        const status = name === 'writeHead' && typeof args[0] === 'number' ? args[0] : res.statusCode;
        commit(status).then(
          () => {
            release();
            replay();
          },
          (error: unknown) => {
            release();
            answer(error);
          },
        );
      }
      return name === 'write' ? true : res;
    };

  res.writeHead = gate('writeHead') as ServerResponse['writeHead'];
  res.write = gate('write') as ServerResponse['write'];
  res.end = gate('end') as ServerResponse['end'];
}
