/** Sessions over a real WebSocket with @fastify/websocket, on Fastify 5 and 4: the shared scenarios of @sess/adapter-test. */
import websocket from '@fastify/websocket';
import websocket4 from 'fastify-websocket4';
import { handleMessage, runSocketConformance } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';
import { type FastifyFactory, MAJORS, serve } from './app.js';

declare module '../src/index.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

/** @fastify/websocket 10 (for Fastify 4) takes the same options and hands the handler the same `(socket, request)` as 11. */
const PLUGINS = { 'Fastify 5': websocket, 'Fastify 4': websocket4 as unknown as typeof websocket } as const;

async function start(Fastify: FastifyFactory, websocketPlugin: typeof websocket) {
  const app = Fastify({ forceCloseConnections: true });
  await app.register(websocketPlugin);
  await app.register(session, { secret: 'websocket-test-secret-of-at-least-32-bytes', store: memoryStore() });
  app.post('/login', async (request) => {
    request.session.nick = 'ada';
    return '';
  });
  app.get('/me', async (request) => ({ nick: request.session.nick ?? null, count: request.session.count ?? 0 }));
  app.post('/session/handoff', app.sessions.handoff);
  app.get('/live', { websocket: true }, (socket, request) => {
    const { use } = app.sessions.socket(request);
    socket.on('message', (raw) => void handleMessage(String(raw), use).then((reply) => socket.send(reply)));
  });
  const { url, close } = await serve(app);
  return { url, wsUrl: `${url.replace(/^http/, 'ws')}/live`, close };
}

for (const [name, Fastify] of MAJORS) runSocketConformance(`${name} + @fastify/websocket`, () => start(Fastify, PLUGINS[name]));
