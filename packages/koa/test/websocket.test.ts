/** Sessions over a real WebSocket (`ws`) on Koa 3: the shared scenarios of @sess/adapter-test. */
import Koa from 'koa';
import { runSocketConformance, serveWithSockets } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

runSocketConformance('Koa 3 + ws', async () => {
  const sessions = session({ secret: 'websocket-test-secret-of-at-least-32-bytes', store: memoryStore() });
  const app = new Koa();
  app.use(sessions);
  app.use(async (ctx) => {
    if (ctx.path === '/session/handoff') return sessions.handoff(ctx, async () => undefined);
    if (ctx.path === '/login') ctx.session.nick = 'ada';
    ctx.body = { nick: ctx.session.nick ?? null, count: ctx.session.count ?? 0 };
  });

  return serveWithSockets(app.callback(), (req) => sessions.socket(req));
});
