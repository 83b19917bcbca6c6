/**
 * A real HTTP app on a loopback port with the sess core over a given store, routes that can
 * pause at a named gate (so a test orders concurrent requests by events, not sleeps), and a
 * fetch that carries one session cookie.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSessionManager, setCookieLine } from '@sess/core';
import type { Session, Store } from '@sess/core';

export const SECRET = 'a-test-secret-that-is-at-least-32-bytes-long';

/** Named pause points: a request `wait`s at one; the test sees it arrive and `release`s it. */
export class Gates {
  private readonly gates = new Map<string, { arrived: () => void; arrival: Promise<void>; release: () => void; released: Promise<void> }>();

  private gate(name: string) {
    let gate = this.gates.get(name);
    if (gate === undefined) {
      let arrived = () => undefined as void;
      let release = () => undefined as void;
      const arrival = new Promise<void>((resolve) => (arrived = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      gate = { arrived, arrival, release, released };
      this.gates.set(name, gate);
    }
    return gate;
  }

  /** Called by a route: signals arrival, resolves when the test releases the gate. */
  wait(name: string): Promise<void> {
    const gate = this.gate(name);
    gate.arrived();
    return gate.released;
  }

  arrival(name: string): Promise<void> {
    return this.gate(name).arrival;
  }

  release(name: string): void {
    this.gate(name).release();
  }
}

export interface App {
  readonly url: string;
  readonly gates: Gates;
  close(): Promise<void>;
}

/**
 * Routes: POST /login (sets userId), GET /write?key&value[&gate] (loads, may pause, then writes
 * one key), POST /logout (destroys), GET /id (the session id). Store errors answer with their
 * status hint and a JSON body naming the error and its cause (a RedisStoreError by its reason).
 *
 * The app drives `@sess/core` itself, over `node:http`: a store's tests may not depend on an
 * adapter, since every adapter's tests depend on the stores (through the robustness suite).
 */
export function startApp(store: Store, storeTimeoutMs?: number): Promise<App> {
  const gates = new Gates();
  const manager = createSessionManager({ secret: SECRET, store, ...(storeTimeoutMs === undefined ? {} : { storeTimeoutMs }) });
  const routes: Record<string, (session: Session, query: URLSearchParams) => Promise<string>> = {
    'POST /login': async (session) => {
      session.set('userId', 'u1');
      return 'ok';
    },
    'GET /write': async (session, query) => {
      // Reading first makes this request hold the session as loaded before it pauses.
      session.get('userId');
      const gate = query.get('gate');
      if (gate !== null) await gates.wait(gate);
      session.set(query.get('key') as string, query.get('value'));
      return 'ok';
    },
    'POST /logout': async (session) => {
      await session.destroy();
      return 'bye';
    },
    'GET /id': async (session) => {
      session.get('userId');
      return session.id ?? '';
    },
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes[`${req.method} ${url.pathname}`];
    const session = manager.begin({ cookieHeader: req.headers.cookie, secure: false });
    const handle = async () => {
      if (route === undefined) return void res.writeHead(404).end();
      await session.load();
      const body = await route(session, url.searchParams);
      for (const effect of await session.commit({ status: 200 })) {
        if (effect.type === 'cookie.set' || effect.type === 'cookie.delete') res.appendHeader('Set-Cookie', setCookieLine(effect));
      }
      res.end(body);
    };
    handle().catch(
      (error: { name?: string; code?: string; statusHint?: number; cause?: { name?: string; code?: string; reason?: string } }) => {
        res.writeHead(error.statusHint ?? 500, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({ name: error.name, code: error.code, cause: error.cause?.reason ?? error.cause?.code ?? error.cause?.name }),
        );
      },
    );
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        gates,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** One browser: keeps the session cookie between requests. */
export class Browser {
  cookie = '';
  constructor(private readonly base: string) {}

  async request(path: string, method = 'GET'): Promise<{ status: number; body: string }> {
    const response = await fetch(`${this.base}${path}`, { method, headers: this.cookie === '' ? {} : { cookie: this.cookie } });
    const set = response.headers.getSetCookie()[0];
    if (set !== undefined) this.cookie = set.split(';')[0] as string;
    return { status: response.status, body: await response.text() };
  }
}
