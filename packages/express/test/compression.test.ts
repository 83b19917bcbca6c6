/**
 * A failed save under output wrappers: `compression` (and `response-time`) mounted before or
 * after `session()`. The held output is dropped and Express's error handling answers; the client
 * must get that answer whole, in either mount order, and never a hang or a cut connection.
 */
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import compression from 'compression';
import express5 from 'express';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import express4 from 'express4';
import responseTime from 'response-time';
import { describe, expect, it } from 'vitest';
import { cookieSessions } from '@sess/core';
import { session } from '../src/index.js';
import type { SessionOptions } from '../src/index.js';
import type { Store } from '@sess/core';
import { memoryStore } from '@sess/store-memory';
import { closedAfterEach, COOKIE_SECRET, escapesWatched, fakeClock, inspectableStore, listen, SECRET } from '@sess/adapter-test';

declare module '../src/index.js' {
  interface SessionData {
    blob?: string;
  }
}

const servers = closedAfterEach();

/** Whatever escapes to the process: with sess as without, there must be nothing. */
const escaped = escapesWatched();

type Outcome =
  | { status: number; body: string; encoding: string | undefined; connection: string | undefined; responseTime: boolean }
  | 'hung'
  | 'aborted'
  | `malformed: ${string}`;

/** GET `path` as a browser asks for it (gzip accepted), on a connection of its own; 'hung' after 2 s without a whole answer. */
function outcome(url: string, path: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const request = httpRequest(`${url}${path}`, { agent: false, headers: { 'accept-encoding': 'gzip' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('close', () => {
        if (!response.complete) return resolve('aborted');
        const encoding = response.headers['content-encoding'];
        const raw = Buffer.concat(chunks);
        resolve({
          status: response.statusCode as number,
          body: (encoding === 'gzip' ? gunzipSync(raw) : raw).toString(),
          encoding,
          connection: response.headers.connection,
          responseTime: response.headers['x-response-time'] !== undefined,
        });
      });
    });
    request.on('error', (error: NodeJS.ErrnoException) =>
      resolve(error.code === 'ECONNRESET' ? 'aborted' : `malformed: ${error.code ?? ''} ${error.message}`),
    );
    request.setTimeout(2_000, () => {
      resolve('hung');
      request.destroy();
    });
    request.end();
  });
}

/** A body past compression's 1 KiB threshold, so it is gzipped. */
const REPORT = 'quarterly report '.repeat(200);

describe.each([
  ['Express 4', express4],
  ['Express 5', express5],
] as const)('%s', (_, express) => {
  const wrappers = { compression: () => compression(), 'response-time': () => responseTime() };

  async function serve(
    order: 'before' | 'after',
    wrapper: RequestHandler,
    options: Partial<SessionOptions>,
    errorBody = 'store down',
    afterSession?: RequestHandler,
  ) {
    const app: Express = express();
    if (order === 'before') app.use(wrapper);
    app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()), ...options }));
    if (afterSession !== undefined) app.use(afterSession);
    if (order === 'after') app.use(wrapper);
    app.get('/report', (req, res) => {
      req.session.blob = req.query.big === undefined ? 'x' : 'x'.repeat(5000);
      res.type('text').send(REPORT);
    });
    app.get('/head', (req, res) => {
      req.session.blob = 'x';
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(REPORT);
    });
    app.use(((error, _req, res, _next) => {
      res.status((error as { statusHint?: number }).statusHint ?? 500).send(errorBody);
    }) as ErrorRequestHandler);
    const served = await listen(app);
    servers.push(served);
    return served.url;
  }

  describe.each(['before', 'after'] as const)('with the wrapper mounted %s session()', (order) => {
    it("a store that fails the save answers the error handler's 503 whole, closing the connection (was a hang, or a socket hang-up)", async () => {
      const store = inspectableStore(fakeClock());
      const url = await serve(order, wrappers.compression(), { store });
      expect(await outcome(url, '/report')).toMatchObject({ status: 200, body: REPORT, encoding: 'gzip' });
      store.failing.add('set');
      expect(await outcome(url, '/report')).toEqual({
        status: 503,
        body: 'store down',
        encoding: undefined,
        connection: 'close',
        responseTime: false,
      });
      // An error answer large enough to be compressed: by a compression mounted before, whose
      // state the dropped output never reached; one mounted after spent it on that output.
      const large = await serve(order, wrappers.compression(), { store }, REPORT);
      expect(await outcome(large, '/report')).toEqual({
        status: 503,
        body: REPORT,
        encoding: order === 'before' ? 'gzip' : undefined,
        connection: 'close',
        responseTime: false,
      });
      expect(escaped).toEqual([]);
    });

    it('a store that fails the save only once the whole (compressed) answer is held answers the 503 whole (was a hang: compression swallowed the error answer)', async () => {
      const inner = memoryStore();
      let failSave: (() => void) | undefined;
      const store: Store = {
        ...inner,
        name: 'fails when told',
        capabilities: inner.capabilities,
        set: () => new Promise((_, reject) => (failSave = () => reject(new Error('store down')))),
      };
      // Right after session(): what reaches the hold's end (compression's, once its gzip stream
      // ends, when it is mounted after) is held, and the save fails then.
      const failOnEnd: RequestHandler = (_req, res, next) => {
        const end = res.end;
        res.end = function (this: typeof res, ...args: unknown[]) {
          const ended = (end as (...args: unknown[]) => typeof res).apply(this, args);
          const fail = failSave;
          failSave = undefined;
          fail?.();
          return ended;
        } as typeof res.end;
        next();
      };
      const url = await serve(order, wrappers.compression(), { store }, 'store down', failOnEnd);
      expect(await outcome(url, '/report')).toEqual({
        status: 503,
        body: 'store down',
        encoding: undefined,
        connection: 'close',
        responseTime: false,
      });
      expect(escaped).toEqual([]);
    });

    it('an oversized cookie session answers the error handler 500 whole (was a malformed response: the gzip body after the error answer)', async () => {
      const url = await serve(order, wrappers.compression(), { store: cookieSessions({ secret: COOKIE_SECRET }) });
      expect(await outcome(url, '/report')).toMatchObject({ status: 200, body: REPORT, encoding: 'gzip' });
      expect(await outcome(url, '/report?big')).toEqual({
        status: 500,
        body: 'store down',
        encoding: undefined,
        connection: 'close',
        responseTime: false,
      });
      expect(escaped).toEqual([]);
    });

    it('an event stream flushed (res.flush) while its save runs reaches the client at once (was held in gzip until the next event, mounted before)', async () => {
      const inner = memoryStore();
      // A store that answers on a later turn, as one over the network does, so the output is held.
      const store: Store = { ...inner, set: async (...args) => (await new Promise(setImmediate), inner.set(...args)) };
      let more!: () => void;
      const moreWanted = new Promise<void>((resolve) => (more = resolve));
      const app: Express = express();
      if (order === 'before') app.use(compression());
      app.use(session({ secret: SECRET, store }));
      if (order === 'after') app.use(compression());
      app.get('/events', async (req, res) => {
        req.session.blob = 'x';
        res.type('text/event-stream');
        res.write('data: 1\n\n');
        (res as typeof res & { flush(): void }).flush();
        await moreWanted;
        res.end('data: 2\n\n');
      });
      const served = await listen(app);
      servers.push(served);
      const response = await fetch(`${served.url}/events`, { headers: { 'accept-encoding': 'gzip' } });
      expect(response.headers.get('content-encoding')).toBe('gzip');
      const events = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
      const first = await Promise.race([events.read(), new Promise((resolve) => setTimeout(resolve, 2_000, 'hung'))]);
      more();
      expect(first).toEqual({ done: false, value: 'data: 1\n\n' });
      while (!(await events.read()).done);
    });

    it("response-time's X-Response-Time is on the error answer of a failed save", async () => {
      const store = inspectableStore(fakeClock());
      const url = await serve(order, wrappers['response-time'](), { store });
      store.failing.add('set');
      for (const path of ['/report', '/head'])
        expect([path, await outcome(url, path)]).toEqual([
          path,
          { status: 503, body: 'store down', encoding: undefined, connection: 'close', responseTime: true },
        ]);
    });
  });
});
