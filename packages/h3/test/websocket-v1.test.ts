/** Sessions over a real WebSocket on h3 v1 with crossws: the same shared scenarios as h3 v2. */
import { createApp, createRouter, eventHandler, toNodeListener } from 'h3v1';
import { runSocketConformance } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session, useSession } from '../src/v1.js';
import { serveWithCrossws } from './crossws.js';

declare module '../src/v1.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

runSocketConformance('h3 v1 + crossws', async () => {
  const sessions = session({ secret: 'websocket-test-secret-of-at-least-32-bytes', store: memoryStore() });
  const app = createApp();
  const router = createRouter();
  app.use(sessions);
  router.post(
    '/login',
    eventHandler(async (event) => {
      (await useSession(event)).data.nick = 'ada';
      return '';
    }),
  );
  router.get(
    '/me',
    eventHandler(async (event) => {
      const { data } = await useSession(event);
      return { nick: data.nick ?? null, count: data.count ?? 0 };
    }),
  );
  router.post('/session/handoff', sessions.handoff);
  app.use(router);

  return serveWithCrossws(toNodeListener(app), (request) => sessions.socket(request));
});
