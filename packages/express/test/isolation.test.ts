/**
 * sess gates only the Express app that uses it: three apps in one process (one with sess, one
 * with no session at all, one with express-session) answer exactly as they do without sess
 * around, none of sess's gates or accessors sits in the other two's path, and Express's own
 * shared prototypes are left as Express made them. A sub-app mounted into the sess app is gated.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import express5 from 'express';
import type { Express, RequestHandler, Response } from 'express';
import express4 from 'express4';
import { describe, expect, it } from 'vitest';
import type { Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { Client, closedAfterEach, cookiesNamed, listen, SECRET } from '@sess/adapter-test';
import type { Reply } from '@sess/adapter-test';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    views?: number;
  }
}

/** express-session, as its users install it; its types would redeclare `req.session`, so it is loaded untyped. */
const expressSession = createRequire(import.meta.url)('express-session') as (options: object) => RequestHandler;

const servers = closedAfterEach();

/** The output methods a response would call, from its prototype chain: Node's own unless something sits in between. */
const outputOf = (res: Response) => {
  const proto = Object.getPrototypeOf(res) as Record<string, unknown>;
  return [proto.writeHead, proto.write, proto.end];
};
const NODE_OUTPUT = [ServerResponse.prototype.writeHead, ServerResponse.prototype.write, ServerResponse.prototype.end];
const OUTPUT = ['writeHead', 'write', 'end', 'sessionID'];
const ownOf = (object: object) => OUTPUT.filter((name) => Object.hasOwn(object, name));

/** What a client can see of a reply, minus the date. */
const seen = (reply: Reply) => ({
  status: reply.status,
  body: reply.body,
  headers: [...reply.headers].filter(([name]) => name !== 'date' && name !== 'set-cookie'),
  cookies: reply.setCookies.map((line) => line.replace(/=[^;]*/, '=<value>').replace(/Expires=[^;]*/, 'Expires=<date>')),
});

describe.each([
  ['Express 4', express4 as unknown as typeof express5],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  /** Routes every app has: a plain answer, a streamed one, and (with a session) a counter. */
  function routes(app: Express, observed: Array<{ output: unknown[]; sessionID: unknown }>) {
    app.use((req, res, next) => {
      observed.push({ output: outputOf(res), sessionID: 'sessionID' in req ? req.sessionID : 'absent' });
      next();
    });
    app.get('/plain', (_req, res) => void res.set('X-App', 'yes').send('plain'));
    app.get('/stream', (_req, res) => {
      res.write('a');
      res.end('b');
    });
    app.get('/count', (req, res) => {
      const session = req.session as { views?: number } | undefined;
      if (session !== undefined) session.views = (session.views ?? 0) + 1;
      res.send(`views ${session?.views ?? 'none'}`);
    });
  }

  async function serve(app: Express) {
    const served = await listen(app);
    servers.push(served);
    return served.url;
  }

  it('an app without sess and an app with express-session answer as before, and never pass through sess', async () => {
    const sharedBefore = { response: ownOf(express.response), request: ownOf(express.request) };
    const plainObserved: Array<{ output: unknown[]; sessionID: unknown }> = [];
    const legacyObserved: Array<{ output: unknown[]; sessionID: unknown }> = [];
    const plain = express();
    routes(plain, plainObserved);
    const legacy = express();
    legacy.use(expressSession({ secret: SECRET, resave: false, saveUninitialized: false }));
    routes(legacy, legacyObserved);
    const plainUrl = await serve(plain);
    const legacyUrl = await serve(legacy);
    const visit = async (url: string) => {
      const client = new Client(url);
      const replies = [];
      for (const path of ['/plain', '/stream', '/count', '/count']) replies.push(seen(await client.request(path)));
      return replies;
    };
    const plainBefore = await visit(plainUrl);
    const legacyBefore = await visit(legacyUrl);
    expect(legacyBefore.map((reply) => reply.body)).toEqual(['plain', 'ab', 'views 1', 'views 2']);

    // The sess app, serving while the others do: its store holds each write until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const inner = memoryStore();
    const slow: Store = { ...inner, set: async (...args) => (await released, inner.set(...args)) };
    const sessObserved: Array<{ output: unknown[]; sessionID: unknown }> = [];
    const withSess = express();
    withSess.use(session({ secret: SECRET, store: slow }));
    routes(withSess, sessObserved);
    const sessUrl = await serve(withSess);
    const sessClient = new Client(sessUrl);
    let sessAnswered = false;
    const held = sessClient.request('/count').then((reply) => ((sessAnswered = true), reply));

    const [plainAfter, legacyAfter] = await Promise.all([visit(plainUrl), visit(legacyUrl)]);
    expect(sessAnswered).toBe(false);
    expect(plainAfter).toEqual(plainBefore);
    expect(legacyAfter).toEqual(legacyBefore);
    release();
    const sessReply = await held;
    expect(sessReply.body).toBe('views 1');
    expect(cookiesNamed(sessReply, 'sid')).toHaveLength(1);

    // No sess gate in the other apps' path, and express-session's req.sessionID is its own.
    for (const { output } of [...plainObserved, ...legacyObserved]) expect(output).toEqual(NODE_OUTPUT);
    expect(plainObserved.map(({ sessionID }) => sessionID)).toEqual(Array(8).fill('absent'));
    expect(legacyObserved.slice(-2).map(({ sessionID }) => typeof sessionID)).toEqual(['string', 'string']);
    expect(Object.getPrototypeOf(plain.response)).toBe(express.response);
    expect(Object.getPrototypeOf(legacy.response)).toBe(express.response);
    expect(Object.getPrototypeOf(plain.request)).toBe(express.request);
    // The sess app's own responses do pass its gates (so the checks above would see them).
    expect(sessObserved[0]?.output).not.toEqual(NODE_OUTPUT);
    // Express's shared prototypes, and Node's, are as they were.
    expect({ response: ownOf(express.response), request: ownOf(express.request) }).toEqual(sharedBefore);
    expect(ServerResponse.prototype.writeHead).toBe(NODE_OUTPUT[0]);
    expect(Object.hasOwn(IncomingMessage.prototype, 'sessionID')).toBe(false);
    expect(ownOf(withSess.response)).toEqual([]);
  });

  it('a sub-app mounted in the sess app is gated and sees req.sessionID; the same routes in another app are not', async () => {
    const sub = express();
    sub.get('/stream', (req, res) => {
      req.session.views = 1;
      res.write(`${req.sessionID === undefined ? 'no id' : 'id'} `);
      res.end('done');
    });
    const app = express();
    app.use(session({ secret: SECRET }));
    app.use('/sub', sub);
    const reply = await new Client(await serve(app)).request('/sub/stream');
    expect(reply.body).toBe('id done');
    expect(cookiesNamed(reply, 'sid')).toHaveLength(1);

    const other = express();
    const observed: Array<{ output: unknown[]; sessionID: unknown }> = [];
    const otherSub = express();
    routes(otherSub, observed);
    other.use('/sub', otherSub);
    expect((await new Client(await serve(other)).request('/sub/plain')).body).toBe('plain');
    expect(observed).toEqual([{ output: NODE_OUTPUT, sessionID: 'absent' }]);
  });
});

describe('a bare node:http server (no Express app, as under connect)', () => {
  /** A connect-like chain without connect: each step calls the next, the last one answers. */
  type Step = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
  const chain =
    (...steps: Step[]) =>
    (req: IncomingMessage, res: ServerResponse) => {
      const run = (index: number, error?: unknown): void => {
        const step = steps[index];
        if (error !== undefined || step === undefined) {
          res.statusCode = 500;
          res.end(String(error));
          return;
        }
        step(req, res, (next?: unknown) => run(index + 1, next));
      };
      run(0);
    };

  it("requests keep Node's prototype, and req.session and req.sessionID work and follow the session's id", async () => {
    const sessions = session({ secret: SECRET }) as unknown as Step;
    const seen: Array<{ proto: boolean; before: unknown; after: unknown; id: unknown }> = [];
    const handler: Step = (req, res) => {
      const visit = req as IncomingMessage & {
        session: { views?: number; id?: string; regenerate(options: { keepData: boolean }): Promise<void> };
        sessionID?: string;
      };
      const proto = Object.getPrototypeOf(req) === IncomingMessage.prototype && Object.getPrototypeOf(res) === ServerResponse.prototype;
      const before = visit.sessionID;
      visit.session.views = (visit.session.views ?? 0) + 1;
      const answer = () => {
        seen.push({ proto, before, after: visit.sessionID, id: visit.session.id });
        res.end(`views ${visit.session.views}`);
      };
      if (req.url === '/regenerate') void visit.session.regenerate({ keepData: true }).then(answer);
      else answer();
    };
    // Mounted twice, as a connect app can be: the first one owns the session.
    const served = await listen(chain(sessions, sessions, handler));
    servers.push(served);
    const client = new Client(served.url);
    expect((await client.request('/count')).body).toBe('views 1');
    expect((await client.request('/count')).body).toBe('views 2');
    expect((await client.request('/regenerate')).body).toBe('views 3');
    const [first, second, third] = seen;
    expect(seen.map(({ proto }) => proto)).toEqual([true, true, true]);
    // No id before a new session's first write, its id after.
    expect(first?.before).toBeUndefined();
    expect(typeof first?.after).toBe('string');
    expect(first?.after).toBe(first?.id);
    expect([second?.before, second?.after]).toEqual([first?.id, first?.id]);
    // regenerate() gives a new id, and req.sessionID follows it.
    expect(third?.before).toBe(first?.id);
    expect(third?.after).toBe(third?.id);
    expect(third?.after).not.toBe(first?.id);
  });

  it("an assigned req.sessionID (express-session's habit) becomes the request's own data, and Node's prototype stays as it was", async () => {
    const sessions = session({ secret: SECRET }) as unknown as Step;
    const requests: IncomingMessage[] = [];
    const handler: Step = (req, res) => {
      requests.push(req);
      const visit = req as IncomingMessage & { sessionID?: string };
      if (req.url === '/assign') visit.sessionID = 'assigned';
      res.end(String(visit.sessionID));
    };
    const served = await listen(chain(sessions, handler));
    servers.push(served);
    const client = new Client(served.url);
    expect((await client.request('/assign')).body).toBe('assigned');
    expect(Object.getOwnPropertyDescriptor(requests[0] as object, 'sessionID')).toEqual({
      value: 'assigned',
      writable: true,
      configurable: true,
      enumerable: true,
    });
    expect((await client.request('/read')).body).toBe('undefined');
    expect('sessionID' in IncomingMessage.prototype).toBe(false);
  });
});
