import type { HttpBindings } from '@hono/node-server';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { getRequestListener as getRequestListenerV1 } from 'hono-node-server1';
import { RESPONSE_ALREADY_SENT as RESPONSE_ALREADY_SENT_V1 } from 'hono-node-server1/utils/response';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { afterAll, beforeAll, vi } from 'vitest';
import { afterAnswer, BAD_HEADER_VALUE, behaviourOf, listen, runRobustnessProperties, tracksResponses } from '@sess/adapter-test';
import type { Behaviour, RobustnessOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { HonoSession, SessionEnv, SessionOptions } from '../src/index.js';
import { quietErrors } from './routes.js';
import type { RequestListenerOf } from './routes.js';

async function useIt(s: HonoSession | undefined, use: Behaviour['session']): Promise<void> {
  if (s === undefined) return;
  const data = s.data as Record<string, unknown>;
  if (use === 'read') void data['views'];
  if (use === 'write') data['views'] = Number(data['views'] ?? 0) + 1;
  if (use === 'regenerate') {
    await s.regenerate();
    data['user'] = 'ada';
  }
  if (use === 'destroy') await s.destroy();
  if (use === 'notJson') {
    data['views'] = Number(data['views'] ?? 0) + 1;
    data['big'] = { big: 1n };
  }
  if (use === 'lateWrite') {
    data['views'] = Number(data['views'] ?? 0) + 1;
    afterAnswer(() => {
      data['late'] = true;
    });
  }
  if (use === 'lateDestroy') {
    data['views'] = Number(data['views'] ?? 0) + 1;
    afterAnswer(() => void s.destroy().catch(() => undefined));
  }
}

/** sess's options in this adapter's names: `maxAge` in seconds; there is no save-every-request option. */
function honoOptions(options: RobustnessOptions): SessionOptions {
  const { saveEveryRequest: _, maxAgeMs, ...rest } = options;
  return { ...rest, ...(maxAgeMs === undefined ? {} : { maxAge: maxAgeMs / 1000 }) } as SessionOptions;
}

function answer(c: Context, s: HonoSession | undefined, output: Behaviour['output'], alreadySent: Response): Response {
  switch (output) {
    case 'send':
      return c.text('ok');
    case 'stream':
      return stream(c, async (body) => {
        for (const chunk of ['a', 'b', 'c']) await body.write(chunk);
      });
    case 'throw':
      throw new Error('boom');
    case 'status500':
      return c.text('boom', 500);
    case 'badHeaderValue':
      c.header('content-disposition', BAD_HEADER_VALUE);
      return c.text('x');
    case 'badStatus':
      return c.text('x', 1000 as never);
    case 'ownCookieAndVary':
      c.header('set-cookie', 'app=1; Path=/', { append: true });
      c.header('vary', 'Accept');
      return c.text('ok');
    case 'raw': {
      const { outgoing } = c.env as HttpBindings;
      outgoing.writeHead(200, { 'content-type': 'text/plain' });
      outgoing.end('ok');
      return alreadySent;
    }
    case 'bodyHoldsSession':
      return c.json({ session: s?.data ?? {} });
  }
}

function start(requestListener: RequestListenerOf, alreadySent: Response) {
  return async (options: RobustnessOptions | undefined) => {
    const app = new Hono<SessionEnv>();
    app.onError(quietErrors);
    if (options !== undefined) app.use(session(honoOptions(options)));
    app.get('/behave', async (c) => {
      const behaviour = behaviourOf(c.req.header('x-behaviour'));
      const s = options === undefined ? undefined : await c.get('session').load();
      await useIt(s, behaviour.session);
      return answer(c, s, behaviour.output, alreadySent);
    });
    return listen(tracksResponses(requestListener(app.fetch)));
  };
}

// node-server logs the status Node refuses (the `badStatus` behaviour), with sess and without.
const print = console.error.bind(console);
const quiet = vi.spyOn(console, 'error');
beforeAll(() => {
  quiet.mockImplementation((...args: unknown[]) => {
    if ((args[0] as { code?: unknown } | undefined)?.code !== 'ERR_HTTP_INVALID_STATUS_CODE') print(...args);
  });
});
afterAll(() => quiet.mockRestore());

// `raw` writes `c.env.outgoing` itself: its headers leave before the commit (see the README).
const sentBeforeCommit = ['raw'] as const;
runRobustnessProperties({ name: 'Hono 4 on node-server 2', start: start(getRequestListener, RESPONSE_ALREADY_SENT), sentBeforeCommit });
runRobustnessProperties({
  name: 'Hono 4 on node-server 1',
  start: start(getRequestListenerV1, RESPONSE_ALREADY_SENT_V1),
  sentBeforeCommit,
});
