/** Sessions over a real WebSocket on h3 v1 with crossws: the same shared scenarios as h3 v2. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import crossws from 'crossws/adapters/node';
import { createApp, createRouter, eventHandler, toNodeListener } from 'h3v1';
import { handleMessage, runSocketConformance } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session, useSession } from '../src/v1.js';
import type { H3Session, SocketSession } from '../src/v1.js';

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

  const bySocket = new WeakMap<object, SocketSession<H3Session['data']>>();
  const ws = crossws({
    hooks: {
      open: (peer) => void bySocket.set(peer, sessions.socket(peer.request)),
      message: async (peer, message) => {
        const current = bySocket.get(peer);
        if (current !== undefined) peer.send(await handleMessage(message.text(), (work) => current.use(work)));
      },
    },
  });
  const server = createServer(toNodeListener(app));
  server.on('upgrade', (req, socket, head) => void ws.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/live`,
    close: () =>
      new Promise<void>((resolve) => {
        ws.closeAll(1001, 'test over', true);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
});
