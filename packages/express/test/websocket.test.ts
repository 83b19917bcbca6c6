/** Sessions over a real WebSocket (`ws`) on Express 5: the shared scenarios of @sess/adapter-test. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { attachSockets, runSocketConformance } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

runSocketConformance('Express 5 + ws', async () => {
  const sessions = session({ secret: 'websocket-test-secret-of-at-least-32-bytes', store: memoryStore() });
  const app = express();
  app.use(sessions);
  app.post('/login', (req, res) => {
    req.session.nick = 'ada';
    res.end();
  });
  app.get('/me', (req, res) => {
    res.json({ nick: req.session.nick ?? null, count: req.session.count ?? 0 });
  });
  app.post('/session/handoff', sessions.handoff);

  const server = createServer(app);
  const dropSockets = attachSockets(server, (req) => sessions.socket(req));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/live`,
    close: () =>
      new Promise<void>((resolve) => {
        dropSockets();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
