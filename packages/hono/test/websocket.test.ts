/**
 * Sessions over a real WebSocket: Hono 4 on node-server 2, whose own `upgradeWebSocket` runs on a
 * `ws` server; the shared scenarios of @sess/adapter-test. (node-server 1 needs @hono/node-ws,
 * which this package does not test against.)
 */
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, upgradeWebSocket } from '@hono/node-server';
import type { WebSocketServerLike } from '@hono/node-server';
import { Hono } from 'hono';
import { WebSocketServer } from 'ws';
import { handleMessage, runSocketConformance } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';
import type { SessionEnv } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

runSocketConformance('Hono 4 + node-server 2 upgradeWebSocket', async () => {
  const sessions = session({ secret: 'websocket-test-secret-of-at-least-32-bytes', store: memoryStore() });
  const app = new Hono<SessionEnv>();
  app.use(sessions);
  app.post('/login', async (c) => {
    (await c.get('session').load()).data.nick = 'ada';
    return c.body(null, 204);
  });
  app.get('/me', async (c) => {
    const { data } = await c.get('session').load();
    return c.json({ nick: data.nick ?? null, count: data.count ?? 0 });
  });
  app.post('/session/handoff', sessions.handoff);
  app.get(
    '/live',
    upgradeWebSocket((c) => {
      const { use } = sessions.socket(c.req.raw);
      return { onMessage: (event, ws) => void handleMessage(String(event.data), use).then((reply) => ws.send(reply)) };
    }),
  );

  // ws's `options.noServer` is `boolean | undefined`, which exactOptionalPropertyTypes keeps from node-server's `noServer?: boolean`.
  const wss = new WebSocketServer({ noServer: true }) as unknown as WebSocketServerLike;
  const server = createAdaptorServer({ fetch: app.fetch, websocket: { server: wss } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/live`,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
