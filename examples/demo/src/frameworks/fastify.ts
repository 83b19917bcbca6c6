/** The demo on Fastify 5: sess is a plugin, and the session is `request.session`. */
import { createServer, type RequestListener } from 'node:http';
import Fastify, { type FastifyReply } from 'fastify';
import { session } from '@sess/fastify';
import type { DemoData, Framework, Reply } from '../demo.js';
import { readForm } from '../form.js';

declare module '@sess/fastify' {
  interface SessionData extends DemoData {}
}

function send(reply: FastifyReply, answer: Reply): FastifyReply {
  if ('location' in answer) return reply.redirect(answer.location, answer.status);
  return reply.status(answer.status).type('text/html; charset=utf-8').send(answer.html);
}

export const fastifyFramework: Framework = {
  name: 'Fastify',
  async app({ secret, store, demo }) {
    // server.ts listens itself: serverFactory hands over the handler Fastify's own server would run.
    let listener: RequestListener | undefined;
    const app = Fastify({
      serverFactory(handler) {
        listener = handler;
        return createServer(handler);
      },
    });
    // The demo reads its forms itself (with its own size limit), so Fastify's parsers stay out.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    await app.register(session, { secret, store });
    // Once the response is out, sess has set its headers: note them for the next page.
    app.addHook('onResponse', async (request, reply) => {
      demo.responded(request.session?.id, request.method, request.url.split('?')[0] as string, reply.statusCode, (name) =>
        reply.getHeader(name),
      );
    });
    for (const route of demo.routes) {
      app.route({
        method: route.method,
        url: route.path,
        handler: async (request, reply) => {
          const form = () => readForm(request.raw, (name) => request.headers[name] as string | undefined);
          return send(reply, await route.handle({ session: request.session, data: request.session, form }));
        },
      });
    }
    app.setNotFoundHandler((_request, reply) => send(reply, demo.notFound()));
    // A store failure arrives here as an error with statusCode 503 (the SessStoreError is its cause).
    app.setErrorHandler((error, _request, reply) => send(reply, demo.failure(error)));
    await app.ready();
    if (listener === undefined) throw new Error('Fastify did not call serverFactory');
    return listener;
  },
};
