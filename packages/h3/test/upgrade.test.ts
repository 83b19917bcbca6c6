/**
 * h3 v2's WebSocket routes (`defineWebSocketHandler`) answer the upgrade request with a 426
 * `Response` carrying the socket's hooks as `crossws`, which a crossws `resolve` reads off what
 * `app.fetch` answers. A session written on that request puts its headers on a copy of the app's
 * Response: the hooks must travel with it.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import crossws from 'crossws/adapters/node';
import { H3, defineWebSocketHandler, toNodeHandler } from 'h3';
import { WebSocket } from 'ws';
import { afterEach, expect, it } from 'vitest';
import { Client, fakeClock, inspectableStore, SECRET } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
    sockets?: number;
  }
}

const closing: Array<() => Promise<void>> = [];
afterEach(async () => void (await Promise.all(closing.splice(0).map((close) => close()))));

it("a WebSocket route that writes the session still upgrades: its hooks ride on the copy of h3's 426", async () => {
  const store = inspectableStore(fakeClock());
  const app = new H3({ silent: true });
  app.use(session({ secret: SECRET, store }));
  app.post('/login', async (event) => void ((await useSession(event)).data.user = 'ada'));
  app.get(
    '/live',
    defineWebSocketHandler(async (event) => {
      // The upgrade is authorised from the session, and counted in it.
      const s = await useSession(event);
      s.data.sockets = (s.data.sockets ?? 0) + 1;
      const greeting = `hello ${s.data.user}, socket ${s.data.sockets}`;
      return { open: (peer) => void peer.send(greeting) };
    }),
  );
  // The resolver h3's WebSocket guide writes: the hooks of the route `app.fetch` answers with
  // (none refuses the upgrade, so the client hears of it at once).
  const ws = crossws({
    resolve: async (request) => {
      const { crossws: hooks } = (await app.fetch(request)) as Response & { crossws?: object };
      return hooks ?? { upgrade: () => new Response('no hooks', { status: 500 }) };
    },
  });
  const server = createServer(toNodeHandler(app));
  server.on('upgrade', (req, socket, head) => void ws.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closing.push(
    () =>
      new Promise<void>((resolve) => {
        ws.closeAll(1001, 'test over', true);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  const client = new Client(`http://127.0.0.1:${port}`);
  await client.request('/login', { method: 'POST' });
  const cookie = `sid=${client.jar.get('sid')}`;

  const socket = new WebSocket(`ws://127.0.0.1:${port}/live`, { headers: { cookie } });
  const greeting = await new Promise<string>((resolve, reject) => {
    socket.once('message', (data) => resolve(String(data)));
    socket.once('close', (code) => reject(new Error(`closed with ${code} before the greeting`)));
    socket.once('error', reject);
    socket.once('unexpected-response', (_, response) => reject(new Error(`upgrade refused with ${response.statusCode}`)));
  });
  socket.close();
  expect(greeting).toBe('hello ada, socket 1');
  expect(store.calls.set).toBe(2);
});
