/**
 * Socket.IO 4 on Express 5 over real HTTP, as its docs tell express-session apps to share the
 * session: `io.engine.use(sessions)`, then `socket.request.session`. It is read at the handshake
 * (sign-in checks in `io.use`); writes from a socket's events go through
 * `sessions.socket(socket.request).use(...)`, since the handshake's response has long gone.
 * Both transports: a WebSocket upgrade (engine.io hands the middleware a stand-in response) and
 * HTTP long-polling (a real one).
 */
import { createServer, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Server } from 'socket.io';
import type { Socket as ServerSocket } from 'socket.io';
import { io as connect } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { type RequestSession, session } from '../src/index.js';
import { Client, escapesWatched, SECRET } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
    count?: number;
  }
}

const escaped = escapesWatched();

/** The codes of the process warnings given while the file's tests run. */
const warned: string[] = [];
const onWarning = (warning: Error & { code?: string }) => void warned.push(warning.code ?? warning.name);
beforeAll(() => void process.on('warning', onWarning));
afterAll(() => void process.off('warning', onWarning));

/** The session engine.io's middleware put on the handshake request. */
const sessionOf = (socket: ServerSocket) => (socket.request as IncomingMessage & { session: RequestSession }).session;

interface Served {
  readonly url: string;
  readonly io: Server;
  readonly sessions: ReturnType<typeof session>;
}

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  // Clients first, so that no socket keeps its server open.
  for (const app of opened.splice(0).reverse()) await app.close();
});

/**
 * The app: `POST /login` signs in as ada, `POST /logout` signs out, `GET /me` shows the session;
 * Socket.IO shares the session through `io.engine.use(sessions)`, and `io.use` lets in only a
 * signed-in user unless `open`.
 */
async function serve({ store = memoryStore() as Store, open = false } = {}): Promise<Served> {
  const sessions = session({ secret: SECRET, store });
  const app = express();
  app.use(sessions);
  app.post('/login', (req, res) => {
    req.session.user = 'ada';
    res.end();
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.end();
  });
  app.get('/me', (req, res) => {
    res.json({ user: req.session.user ?? null, count: req.session.count ?? 0 });
  });
  const server = createServer(app);
  const io = new Server(server);
  io.engine.use(sessions);
  io.use((socket, next) => {
    next(open || sessionOf(socket).user !== undefined ? undefined : new Error('sign in first'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  opened.push({
    close: async () => {
      server.closeAllConnections();
      await io.close();
    },
  });
  return { url, io, sessions };
}

type Transport = 'websocket' | 'polling';
const TRANSPORTS: Transport[] = ['websocket', 'polling'];

/** A Socket.IO client sending `cookie` with its handshake; resolves once connected, rejects with the app's refusal. */
function connected(url: string, transport: Transport, cookie?: string): Promise<Socket> {
  const socket = connect(url, {
    transports: [transport],
    reconnection: false,
    forceNew: true,
    // A handshake that hangs fails the test with 'timeout' rather than timing it out.
    timeout: 2_000,
    ...(cookie === undefined ? {} : { extraHeaders: { cookie } }),
  });
  opened.push({ close: async () => void socket.close() });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

const cookieOf = (client: Client) => [...client.jar].map(([name, value]) => `${name}=${value}`).join('; ');

async function signedIn(url: string): Promise<Client> {
  const client = new Client(url);
  await client.post('/login');
  expect(client.jar.has('sid')).toBe(true);
  return client;
}

const me = async (client: Client) => JSON.parse((await client.request('/me')).body) as { user: string | null; count: number };

describe.each(TRANSPORTS)('Socket.IO over %s', (transport) => {
  it('lets in a browser signed in over HTTP: io.use and the connection handler see socket.request.session.user', async () => {
    const { url, io } = await serve();
    const seen: (string | undefined)[] = [];
    io.on('connection', (socket) => {
      seen.push(sessionOf(socket).user);
      socket.on('whoami', (ack: (user: string | undefined) => void) => ack(sessionOf(socket).user));
    });
    const client = await signedIn(url);
    const socket = await connected(url, transport, cookieOf(client));
    expect(await socket.emitWithAck('whoami')).toBe('ada');
    expect(seen).toEqual(['ada']);
    expect(escaped).toEqual([]);
  });

  it('refuses, with the error the app gives, an anonymous client, a forged cookie and a signed-out one', async () => {
    const { url } = await serve();
    await expect(connected(url, transport)).rejects.toThrow('sign in first');

    const client = await signedIn(url);
    const cookie = cookieOf(client);
    const value = cookie.slice('sid='.length);
    const forged = `sid=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
    await expect(connected(url, transport, forged)).rejects.toThrow('sign in first');

    await client.post('/logout');
    expect(client.jar.has('sid')).toBe(false);
    await expect(connected(url, transport, cookie)).rejects.toThrow('sign in first');
    expect(escaped).toEqual([]);
  });

  it("socket.io's own write (socket.request.session.count = n; save()) after the handshake tells the app it cannot save, and crashes nothing", async () => {
    const { url, io } = await serve();
    io.on('connection', (socket) => {
      socket.on('count', (ack: (outcome: unknown) => void) => {
        const live = sessionOf(socket);
        live.count = (live.count ?? 0) + 1;
        // The docs' bare call: nobody hears its outcome but the process's warning.
        void live.save();
        live.save((error) => {
          const callback = (error as Error | undefined)?.message ?? null;
          void (live.save() as Promise<void>).then(
            () => ack({ callback, promise: null }),
            (rejection: Error) => ack({ callback, promise: rejection.message }),
          );
        });
      });
    });
    const client = await signedIn(url);
    const socket = await connected(url, transport, cookieOf(client));
    const outcome = (await socket.emitWithAck('count')) as { callback: string | null; promise: string | null };
    expect(outcome.callback).toMatch(/can't save.*sessions\.socket\(req\)\.use/);
    expect(outcome.promise).toBe(outcome.callback);
    // Once per process, whichever transport's test came first.
    expect(warned.filter((code) => code === 'SESS_LATE_SAVE')).toEqual(['SESS_LATE_SAVE']);
    // Nothing was written: the store holds the session as it was signed in.
    expect(await me(client)).toEqual({ user: 'ada', count: 0 });
    expect(escaped).toEqual([]);
  });

  it('writes through sessions.socket(socket.request).use(...) on each event, and HTTP sees them', async () => {
    const { url, io, sessions } = await serve();
    io.on('connection', (socket) => {
      const live = sessions.socket(socket.request);
      socket.on('count', async (ack: (count: number | undefined) => void) => {
        const { result } = await live.use((s) => (s.count = (s.count ?? 0) + 1));
        ack(result);
      });
    });
    const client = await signedIn(url);
    const socket = await connected(url, transport, cookieOf(client));
    expect(await socket.emitWithAck('count')).toBe(1);
    expect(await socket.emitWithAck('count')).toBe(2);
    expect(await me(client)).toEqual({ user: 'ada', count: 2 });
    expect(escaped).toEqual([]);
  });

  it('connects an open app with no cookie, or a malformed one, to an empty session', async () => {
    const { url, io } = await serve({ open: true });
    io.on('connection', (socket) => {
      socket.on('whoami', (ack: (user: string | null) => void) => ack(sessionOf(socket).user ?? null));
    });
    for (const cookie of [undefined, 'sid=', 'sid=%E0%A4%A', 'sid=a.b.c; sid=;;', '=; ; sid']) {
      const socket = await connected(url, transport, cookie);
      expect(await socket.emitWithAck('whoami')).toBeNull();
      socket.close();
    }
    expect(escaped).toEqual([]);
  });

  it('survives a client that leaves while its session is still loading, and serves the next one', async () => {
    const inner = memoryStore();
    let loading: () => void = () => {};
    const loadStarted = new Promise<void>((resolve) => (loading = resolve));
    let finishLoad: () => void = () => {};
    const loadHeld = new Promise<void>((resolve) => (finishLoad = resolve));
    let held = true;
    const store: Store = {
      ...inner,
      name: 'held on the first read',
      capabilities: inner.capabilities,
      get: async (id) => {
        if (held) {
          held = false;
          loading();
          await loadHeld;
        }
        return inner.get(id);
      },
      set: (...args) => inner.set(...args),
      destroy: (id) => inner.destroy(id),
    };
    const { url, io } = await serve({ store });
    io.on('connection', (socket) => {
      socket.on('whoami', (ack: (user: string | undefined) => void) => ack(sessionOf(socket).user));
    });
    const client = await signedIn(url);
    const { port } = new URL(url);
    const leaving = request({
      port,
      host: '127.0.0.1',
      path: `/socket.io/?EIO=4&transport=${transport}`,
      headers:
        transport === 'websocket'
          ? {
              cookie: cookieOf(client),
              connection: 'Upgrade',
              upgrade: 'websocket',
              'sec-websocket-version': '13',
              'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
            }
          : { cookie: cookieOf(client) },
    });
    leaving.on('error', () => {});
    leaving.end();
    await loadStarted;
    // The client has gone; the server learns it when it answers (an upgrade's socket reads nothing more).
    const gone = new Promise((resolve) => leaving.once('close', resolve));
    leaving.destroy();
    await gone;
    finishLoad();
    const socket = await connected(url, transport, cookieOf(client));
    expect(await socket.emitWithAck('whoami')).toBe('ada');
    expect(escaped).toEqual([]);
  });
});
