/** Sessions over a real WebSocket (`ws`) on Express 5: the shared scenarios of @sess/adapter-test. */
import express from 'express';
import { runSocketConformance, serveWithSockets } from '@sess/adapter-test';
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

  return serveWithSockets(app, (req) => sessions.socket(req));
});
