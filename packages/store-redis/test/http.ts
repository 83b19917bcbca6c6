/**
 * A real Express app on a loopback port with `@sess/express` over a given store, routes that can
 * pause at a named gate (so a test orders concurrent requests by events, not sleeps), and a
 * fetch that carries one session cookie.
 */
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Request } from 'express';
import { session } from '@sess/express';
import type { Store } from '@sess/core';

/** The session as plain data (express-session style), without declaring a SessionData shape. */
const dataOf = (req: Request) => req.session as unknown as Record<string, unknown>;

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
 * status hint and a JSON body naming the error and its cause.
 */
export function startApp(store: Store, storeTimeoutMs?: number): Promise<App> {
  const gates = new Gates();
  const app = express();
  app.use(session({ secret: SECRET, store, ...(storeTimeoutMs === undefined ? {} : { storeTimeoutMs }) }));
  app.post('/login', (req, res) => {
    dataOf(req)['userId'] = 'u1';
    res.send('ok');
  });
  app.get('/write', async (req, res) => {
    const { key, value, gate } = req.query as Record<string, string | undefined>;
    // Reading first makes this request hold the session as loaded before it pauses.
    void dataOf(req)['userId'];
    if (gate !== undefined) await gates.wait(gate);
    dataOf(req)[key as string] = value;
    res.send('ok');
  });
  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.send('bye');
  });
  app.get('/id', (req, res) => {
    void dataOf(req)['userId'];
    res.send(req.sessionID ?? '');
  });
  const onError: ErrorRequestHandler = (error: { name?: string; code?: string; statusHint?: number; cause?: { name?: string; code?: string } }, _req, res, _next) => {
    res.status(error.statusHint ?? 500).json({ name: error.name, code: error.code, cause: error.cause?.code ?? error.cause?.name });
  };
  app.use(onError);
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        gates,
        close: () => new Promise((done) => server.close(() => done())),
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
