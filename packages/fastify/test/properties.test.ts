/**
 * The robustness property on Fastify 4 and 5: whatever a handler does with its output and the
 * session, the status is the one bare Fastify gives, nothing crashes or hangs, and nothing is
 * written behind a 5xx.
 */
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterAnswer, BAD_HEADER_VALUE, behaviourOf, runRobustnessProperties, tracksResponses } from '@sess/adapter-test';
import type { Behaviour, RobustnessOptions } from '@sess/adapter-test';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import { type FastifyFactory, MAJORS, serve } from './app.js';

async function useSession(request: FastifyRequest, use: Behaviour['session']): Promise<void> {
  const s = request.session as unknown as Record<string, unknown>;
  if (use === 'read') void s['views'];
  if (use === 'write') s['views'] = Number(s['views'] ?? 0) + 1;
  if (use === 'regenerate') {
    await request.session.regenerate();
    s['user'] = 'ada';
  }
  if (use === 'destroy') await request.session.destroy();
  if (use === 'notJson') {
    s['views'] = Number(s['views'] ?? 0) + 1;
    s['big'] = { big: 1n };
  }
  if (use === 'lateWrite') {
    s['views'] = Number(s['views'] ?? 0) + 1;
    afterAnswer(() => {
      s['late'] = true;
    });
  }
  if (use === 'lateDestroy') {
    s['views'] = Number(s['views'] ?? 0) + 1;
    afterAnswer(() => void request.session.destroy().catch(() => undefined));
  }
}

function answer(request: FastifyRequest, reply: FastifyReply, output: Behaviour['output']): unknown {
  switch (output) {
    case 'send':
      return 'ok';
    case 'stream':
      return reply.send(Readable.from(['a', 'b', 'c']));
    case 'throw':
      throw new Error('boom');
    case 'status500':
      reply.code(500);
      return 'boom';
    case 'badHeaderValue':
      reply.header('content-disposition', BAD_HEADER_VALUE);
      return 'x';
    case 'badStatus':
      reply.code(1000);
      return 'x';
    case 'ownCookieAndVary':
      reply.header('set-cookie', 'app=1; Path=/');
      reply.header('vary', 'Accept');
      return 'ok';
    case 'raw':
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain' });
      reply.raw.end('ok');
      return reply;
    case 'bodyHoldsSession':
      return { session: request.session ?? {} };
  }
}

function start(Fastify: FastifyFactory, options: RobustnessOptions | undefined) {
  const app = Fastify({ forceCloseConnections: true, serverFactory: (handler) => createServer(tracksResponses(handler)) });
  if (options !== undefined) {
    // @fastify/session has no save-every-request option, and neither has this plugin.
    const { saveEveryRequest: _, maxAgeMs, cookie, ...rest } = options;
    app.register(session, { ...rest, cookie: { ...cookie, ...(maxAgeMs === undefined ? {} : { maxAge: maxAgeMs }) } } as SessionOptions);
  }
  app.get('/behave', async (request, reply) => {
    const behaviour = behaviourOf(request.headers['x-behaviour']);
    if (options !== undefined) await useSession(request, behaviour.session);
    return answer(request, reply, behaviour.output);
  });
  return serve(app);
}

for (const [name, Fastify] of MAJORS) runRobustnessProperties({ name, start: (options) => start(Fastify, options) });
