/** Sessions over a real WebSocket on h3 v2 with crossws: the shared scenarios of @sess/adapter-test. */
import { H3, toNodeHandler } from 'h3';
import { runSocketConformance } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session, useSession } from '../src/index.js';
import { serveWithCrossws } from './crossws.js';

declare module '../src/index.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

runSocketConformance('h3 v2 + crossws', async () => {
  const sessions = session({ secret: 'websocket-test-secret-of-at-least-32-bytes', store: memoryStore() });
  const app = new H3({ silent: true });
  app.use(sessions);
  app.post('/login', async (event) => {
    (await useSession(event)).data.nick = 'ada';
    return '';
  });
  app.get('/me', async (event) => {
    const { data } = await useSession(event);
    return { nick: data.nick ?? null, count: data.count ?? 0 };
  });
  app.post('/session/handoff', sessions.handoff);

  return serveWithCrossws(toNodeHandler(app), (request) => sessions.socket(request));
});
