/**
 * Sessions over a real WebSocket: Hono 4 on node-server 2, whose own `upgradeWebSocket` runs on a
 * `ws` server; the shared scenarios of @sess/adapter-test. (node-server 1 needs @hono/node-ws,
 * which this package does not test against.)
 */
import type { AddressInfo } from 'node:net';
import { createAdaptorServer, upgradeWebSocket } from '@hono/node-server';
import type { WebSocketServerLike } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it, onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { handleMessage, runSocketConformance } from '@sess/adapter-test';
import type { SocketApp } from '@sess/adapter-test';
import { memoryStore } from '@sess/store-memory';
import { session } from '../src/index.js';
import type { SessionEnv } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    count?: number;
    nick?: string;
  }
}

const SECRET = 'websocket-test-secret-of-at-least-32-bytes';

/** `app` on node-server 2 over plain HTTP, its WebSockets on a `ws` server. */
async function serve(app: Hono<SessionEnv>): Promise<Omit<SocketApp, 'wsUrl'> & { port: number }> {
  // ws's `options.noServer` is `boolean | undefined`, which exactOptionalPropertyTypes keeps from node-server's `noServer?: boolean`.
  const wss = new WebSocketServer({ noServer: true }) as unknown as WebSocketServerLike;
  const server = createAdaptorServer({ fetch: app.fetch, websocket: { server: wss } });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

runSocketConformance('Hono 4 + node-server 2 upgradeWebSocket', async () => {
  const sessions = session({ secret: SECRET, store: memoryStore() });
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
      const { use } = sessions.socket(c);
      return { onMessage: (event, ws) => void handleMessage(String(event.data), use).then((reply) => ws.send(reply)) };
    }),
  );
  const served = await serve(app);
  return { ...served, wsUrl: `ws://127.0.0.1:${served.port}/live` };
});

describe('the Secure attribute of a cookie handed off from a socket', () => {
  it('follows the connection with socket(c), as the middleware does, and the URL with socket(c.req.raw): over plain HTTP, an upgrade whose absolute request target says https', async () => {
    const sessions = session({ secret: SECRET, store: memoryStore() });
    const app = new Hono<SessionEnv>();
    app.use(sessions);
    app.post('/session/handoff', sessions.handoff);
    app.get(
      '/context',
      upgradeWebSocket((c) => {
        const { use } = sessions.socket(c);
        return { onMessage: (event, ws) => void handleMessage(String(event.data), use).then((reply) => ws.send(reply)) };
      }),
    );
    app.get(
      '/request',
      upgradeWebSocket((c) => {
        const { use } = sessions.socket(c.req.raw);
        return { onMessage: (event, ws) => void handleMessage(String(event.data), use).then((reply) => ws.send(reply)) };
      }),
    );
    const { port, url, close } = await serve(app);
    onTestFinished(close);

    /** The cookie a session born on a socket at `path` is handed off as, the upgrade's request target written `https://app.example${path}`. */
    const handedOff = async (path: string): Promise<string | undefined> => {
      // The request line's absolute-form (RFC 9112 3.2.2) is the client's to write: node-server builds `c.req.url` from it.
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
        finishRequest: (request) => {
          request.path = `https://app.example${path}`;
          request.end();
        },
      });
      onTestFinished(() => ws.terminate());
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const reply = new Promise<string>((resolve) => ws.once('message', (raw) => resolve(String(raw))));
      ws.send(JSON.stringify({ nick: 'grace' }));
      const { handoff } = JSON.parse(await reply) as { handoff?: string };
      const exchange = await fetch(`${url}/session/handoff?token=${handoff}`, { method: 'POST' });
      expect(exchange.status).toBe(204);
      return exchange.headers.getSetCookie().find((line) => line.startsWith('sid='));
    };

    expect({ context: await handedOff('/context'), request: await handedOff('/request') }).toEqual({
      context: expect.not.stringMatching(/; Secure/),
      request: expect.stringMatching(/; Secure/),
    });
  });
});
