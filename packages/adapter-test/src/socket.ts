/**
 * The WebSocket session scenarios, once for every adapter: the upgrade
 * request's cookie names the session, socket messages persist changes with store effects only,
 * and a session born on the socket reaches the browser through a one-time hand-off token that
 * the page exchanges over HTTP for the normal HttpOnly cookie.
 *
 * The contract an adapter's app keeps:
 * - `POST /login` sets `nick` to `'ada'`; `GET /me` answers `{ nick, count }` as JSON;
 *   `POST /session/handoff?token=...` is the adapter's hand-off route.
 * - A WebSocket at `wsUrl`: each message `{ nick? }` adds one to `count` (and sets `nick`) in one
 *   `use`, then replies `{ count, handoff? }` (`attachSockets` does this for `ws` servers).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from './client.js';

export interface SocketApp {
  readonly url: string;
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** What the contract keeps in the session; an adapter's view (`req.session`, `s.data`) must have these. */
export interface SocketData {
  count?: number;
  nick?: string;
}

/** The adapter's socket session for an upgrade request. */
export type SocketSessionOf = (req: IncomingMessage) => {
  use<T>(work: (data: SocketData) => T): Promise<{ readonly result: T; readonly handoff?: string }>;
};

/** One message of the contract: count it, maybe take a nick, and say what came of it. */
export async function handleMessage(raw: string, use: ReturnType<SocketSessionOf>['use']): Promise<string> {
  const { nick } = JSON.parse(raw) as { nick?: string };
  try {
    const { result, handoff } = await use((data) => {
      data.count = (data.count ?? 0) + 1;
      if (nick !== undefined) data.nick = nick;
      return data.count;
    });
    return JSON.stringify(handoff === undefined ? { count: result } : { count: result, handoff });
  } catch (error) {
    return JSON.stringify({ error: (error as Error).message });
  }
}

/** Serves the contract's socket on `server` with `ws`; returns a function that drops every socket. */
export function attachSockets(server: Server, sessionOf: SocketSessionOf): () => void {
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    sockets.handleUpgrade(req, socket, head, (ws) => {
      const { use } = sessionOf(req);
      ws.on('message', (raw) => void handleMessage(String(raw), use).then((reply) => ws.send(reply)));
    });
  });
  return () => {
    for (const ws of sockets.clients) ws.terminate();
  };
}

/** Serves `listener` on a loopback port with the contract's `ws` socket (see `attachSockets`). */
export async function serveWithSockets(listener: RequestListener, sessionOf: SocketSessionOf): Promise<SocketApp> {
  const server = createServer(listener);
  const dropSockets = attachSockets(server, sessionOf);
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
}

interface Reply {
  readonly count?: number;
  readonly handoff?: string;
  readonly error?: string;
}

export function runSocketConformance(name: string, start: () => Promise<SocketApp>): void {
  describe(`sessions over a WebSocket: ${name}`, () => {
    const closers: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });

    async function open(): Promise<SocketApp & { http: Client }> {
      const app = await start();
      closers.push(() => app.close());
      return { ...app, http: new Client(app.url) };
    }

    async function connect(url: string, cookie: string | undefined) {
      const ws = new WebSocket(url, cookie === undefined ? {} : { headers: { cookie } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      closers.push(() => ws.terminate());
      return (message: object) =>
        new Promise<Reply>((resolve) => {
          ws.once('message', (raw) => resolve(JSON.parse(String(raw)) as Reply));
          ws.send(JSON.stringify(message));
        });
    }

    const cookieHeader = (client: Client) => [...client.jar].map(([key, value]) => `${key}=${value}`).join('; ');

    it('loads the session from the upgrade request and persists socket changes for the next HTTP request', async () => {
      const { http, wsUrl } = await open();
      await http.post('/login');
      const send = await connect(wsUrl, cookieHeader(http));
      expect(await send({})).toEqual({ count: 1 });
      expect(await send({})).toEqual({ count: 2 });
      const me = await http.request('/me');
      expect(JSON.parse(me.body)).toEqual({ nick: 'ada', count: 2 });
      expect(me.setCookies).toEqual([]);
    });

    it('hands a session born on the socket to the browser as an HttpOnly cookie, for one exchange only', async () => {
      const { url, http, wsUrl } = await open();
      const send = await connect(wsUrl, undefined);
      const { handoff } = await send({ nick: 'grace' });
      expect(handoff).toMatch(/^[A-Za-z0-9_-]{32}$/);
      // Later messages need no second hand-off: the socket already speaks for the new session.
      expect(await send({})).toEqual({ count: 2 });

      const exchange = await http.post(`/session/handoff?token=${handoff}`);
      expect(exchange.status).toBe(204);
      expect(exchange.setCookies).toHaveLength(1);
      expect(exchange.setCookies[0]).toMatch(/^sid=[^;]+;.*; HttpOnly; SameSite=Lax$/);
      // A shared cache must not keep the answer and hand the cookie to the next visitor.
      expect(exchange.headers.get('cache-control')).toBe('private');
      expect(JSON.parse((await http.request('/me')).body)).toEqual({ nick: 'grace', count: 2 });

      const replay = await new Client(url).post(`/session/handoff?token=${handoff}`);
      expect([replay.status, replay.setCookies]).toEqual([400, []]);
    });

    it("refuses a hand-off sent by another site's page or the address bar (login CSRF): 403, no cookie, the token left for the app's own page", async () => {
      const { http, wsUrl } = await open();
      const send = await connect(wsUrl, undefined);
      const { handoff } = await send({ nick: 'mallory' });
      for (const site of ['cross-site', 'same-site', 'none']) {
        const refused = await http.post(`/session/handoff?token=${handoff}`, { 'sec-fetch-site': site });
        expect([site, refused.status, refused.setCookies]).toEqual([site, 403, []]);
      }
      expect(http.jar.size).toBe(0);
      const own = await http.post(`/session/handoff?token=${handoff}`, { 'sec-fetch-site': 'same-origin' });
      expect([own.status, own.setCookies.length]).toEqual([204, 1]);
      expect(JSON.parse((await http.request('/me')).body)).toEqual({ nick: 'mallory', count: 1 });
    });

    it('turns away a forged hand-off token with a 400 and no cookie', async () => {
      const { http } = await open();
      for (const token of ['A'.repeat(32), '../etc/passwd', '']) {
        const reply = await http.post(`/session/handoff?token=${encodeURIComponent(token)}`);
        expect([reply.status, reply.setCookies]).toEqual([400, []]);
      }
    });
  });
}
