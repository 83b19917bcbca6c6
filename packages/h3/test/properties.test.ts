import { H3, toNodeHandler } from 'h3';
import type { H3Event } from 'h3';
import {
  appendResponseHeader,
  createApp,
  eventHandler,
  getRequestHeader,
  sendError,
  sendStream,
  setResponseHeader,
  setResponseStatus,
  toNodeListener,
} from 'h3v1';
import type { H3Event as H3V1Event } from 'h3v1';
import { Readable } from 'node:stream';
import { afterAnswer, BAD_HEADER_VALUE, behaviourOf, listen, runRobustnessProperties, tracksResponses } from '@sess/adapter-test';
import type { Behaviour, RobustnessOptions } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';
import type { H3Session, SessionOptions } from '../src/index.js';
import { session as sessionV1, useSession as useSessionV1 } from '../src/v1.js';

async function useIt(s: H3Session | undefined, use: Behaviour['session']): Promise<void> {
  if (s === undefined) return;
  const data = s.data as Record<string, unknown>;
  if (use === 'read') void data['views'];
  if (use === 'write') data['views'] = Number(data['views'] ?? 0) + 1;
  if (use === 'regenerate') {
    await s.regenerate();
    await s.update({ user: 'ada' } as never);
  }
  if (use === 'destroy') await s.destroy();
  if (use === 'notJson') {
    data['views'] = Number(data['views'] ?? 0) + 1;
    data['big'] = { big: 1n };
  }
  if (use === 'lateWrite') {
    data['views'] = Number(data['views'] ?? 0) + 1;
    afterAnswer(() => void s.update({ late: true } as never));
  }
  if (use === 'lateDestroy') {
    data['views'] = Number(data['views'] ?? 0) + 1;
    afterAnswer(() => void s.destroy().catch(() => undefined));
  }
}

/** sess's options in h3's names: `maxAge` in seconds; h3 has no save-every-request option. */
function h3Options(options: RobustnessOptions): SessionOptions {
  const { saveEveryRequest: _, maxAgeMs, ...rest } = options;
  return { ...rest, ...(maxAgeMs === undefined ? {} : { maxAge: maxAgeMs / 1000 }) } as SessionOptions;
}

function answerV2(event: H3Event, s: H3Session | undefined, output: Behaviour['output']): unknown {
  switch (output) {
    case 'send':
    case 'raw':
      return 'ok';
    case 'stream':
      return new ReadableStream({
        start(controller) {
          for (const chunk of ['a', 'b', 'c']) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      });
    case 'throw':
      throw new Error('boom');
    case 'status500':
      event.res.status = 500;
      return 'boom';
    case 'badHeaderValue':
      return new Response('x', { headers: { 'content-disposition': BAD_HEADER_VALUE } });
    case 'badStatus':
      return new Response('x', { status: 1000 });
    case 'ownCookieAndVary':
      event.res.headers.append('set-cookie', 'app=1; Path=/');
      event.res.headers.append('vary', 'Accept');
      return 'ok';
    case 'bodyHoldsSession':
      return { session: s?.data ?? {} };
  }
}

function startV2(options: RobustnessOptions | undefined) {
  const app = new H3({ silent: true });
  if (options !== undefined) app.use(session(h3Options(options)));
  app.get('/behave', async (event) => {
    const behaviour = behaviourOf(event.req.headers.get('x-behaviour'));
    const s = options === undefined ? undefined : await useSession(event);
    await useIt(s, behaviour.session);
    return answerV2(event, s, behaviour.output);
  });
  return listen(tracksResponses(toNodeHandler(app)));
}

function answerV1(event: H3V1Event, s: H3Session | undefined, output: Behaviour['output']): unknown {
  switch (output) {
    case 'send':
      return 'ok';
    case 'stream':
      return sendStream(event, Readable.from(['a', 'b', 'c']));
    case 'throw':
      throw new Error('boom');
    case 'status500':
      setResponseStatus(event, 500);
      return 'boom';
    case 'badHeaderValue':
      setResponseHeader(event, 'content-disposition', BAD_HEADER_VALUE);
      return 'x';
    case 'badStatus':
      event.node.res.writeHead(1000);
      event.node.res.end('x');
      return undefined;
    case 'ownCookieAndVary':
      appendResponseHeader(event, 'set-cookie', 'app=1; Path=/');
      appendResponseHeader(event, 'vary', 'Accept');
      return 'ok';
    case 'raw':
      event.node.res.writeHead(200, { 'content-type': 'text/plain' });
      event.node.res.end('ok');
      return undefined;
    case 'bodyHoldsSession':
      return { session: s?.data ?? {} };
  }
}

function startV1(options: RobustnessOptions | undefined) {
  // The property provokes errors on purpose; h3 v1 prints each one unless the app answers it itself.
  const app = createApp({ onError: (error, event) => sendError(event, error) });
  if (options !== undefined) app.use(sessionV1(h3Options(options)));
  app.use(
    '/behave',
    eventHandler(async (event) => {
      const behaviour = behaviourOf(getRequestHeader(event, 'x-behaviour'));
      const s = options === undefined ? undefined : await useSessionV1(event);
      await useIt(s, behaviour.session);
      return answerV1(event, s, behaviour.output);
    }),
  );
  return listen(tracksResponses(toNodeListener(app)));
}

runRobustnessProperties({ name: 'h3 v2', start: async (options) => startV2(options) });
runRobustnessProperties({ name: 'h3 v1', start: async (options) => startV1(options) });
