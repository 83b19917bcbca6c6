/**
 * What an app written for @fastify/session does that sess must not drop silently, on Fastify 4
 * and 5 over real HTTP: a `save()` with no response left to carry it, and assignments to the
 * session's own members from sloppy-mode code (CommonJS without 'use strict'), where an
 * assignment a frozen object or a Proxy refuses is ignored without a word.
 */
import { Writable } from 'node:stream';
import websocket from '@fastify/websocket';
import websocket4 from 'fastify-websocket4';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { SessUsageError } from '@sess/core';
import { Client, fakeClock, inspectableStore } from '@sess/adapter-test';
import { session } from '../src/index.js';
import { MAJORS, serve } from './app.js';

declare module '../src/index.js' {
  interface SessionData {
    user?: string;
    seen?: number;
  }
}

const SECRET = 'fastify-parity-test-secret-of-32-bytes!!';
const WEBSOCKET = { 'Fastify 5': websocket, 'Fastify 4': websocket4 as unknown as typeof websocket } as const;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** `target[key] = value` as sloppy-mode code runs it: a refused assignment throws only from a setter. */
const sloppyAssign = new Function('return function (target, key, value) { target[key] = value; }')() as (
  target: object,
  key: string,
  value: unknown,
) => void;

/** What `work` threw, as `SessUsageError: message` (or 'no error'). */
function thrown(work: () => void): string {
  try {
    work();
    return 'no error';
  } catch (error) {
    return error instanceof SessUsageError ? `SessUsageError: ${error.message}` : String(error);
  }
}

/** A promise and the function that settles it, for a value a hook or a socket hands back. */
function later<T>(): { promise: Promise<T>; settle: (value: T) => void } {
  let settle: (value: T) => void = () => undefined;
  const promise = new Promise<T>((resolve) => (settle = resolve));
  return { promise, settle };
}

describe.each(MAJORS)('%s', (major, Fastify) => {
  async function start(routes: (app: FastifyInstance) => void) {
    const warnings: string[] = [];
    const stream = new Writable({ write: (line, _, done) => (warnings.push(JSON.parse(String(line)).msg), done()) });
    const store = inspectableStore(fakeClock());
    closers.push(() => store.close());
    const app = Fastify({ forceCloseConnections: true, logger: { level: 'warn', stream } });
    await app.register(WEBSOCKET[major]);
    await app.register(session, { secret: SECRET, store });
    app.get('/sign-in', async (request) => (request.session.user = 'ada'));
    routes(app);
    const served = await serve(app);
    closers.push(served.close);
    const client = new Client(served.url);
    const stored = async () => (await store.peek(client.jar.get('sid')?.split('.')[0] ?? ''))?.data;
    return { client, url: served.url, stored, warnings };
  }

  describe('save() where no response will carry the session', () => {
    it('after the response went out (an onResponse hook) rejects with a SessUsageError and logs a warning, where @fastify/session writes the store (was: resolved, nothing saved)', async () => {
      const outcome = later<string[]>();
      const { client, stored, warnings } = await start((app) => {
        app.addHook('onResponse', async (request) => {
          if (request.url !== '/visit') return;
          request.session.seen = 1;
          const promised = await request.session.save().then(
            () => 'resolved',
            (error: unknown) => (error instanceof SessUsageError ? 'rejected' : String(error)),
          );
          const called = await new Promise<string>((resolve) =>
            request.session.save((error?: unknown) =>
              resolve(error instanceof SessUsageError ? 'called back with it' : 'called back clean'),
            ),
          );
          outcome.settle([promised, called]);
        });
        app.get('/visit', async () => 'visited');
      });
      await client.request('/sign-in');
      expect((await client.request('/visit')).status).toBe(200);
      expect(await outcome.promise).toEqual(['rejected', 'called back with it']);
      expect(await stored()).toEqual({ user: 'ada' });
      expect(warnings).toEqual([
        expect.stringMatching(/save\(\) can't save once the response has gone/),
        expect.stringMatching(/save\(\) can't save once the response has gone/),
      ]);
    });

    it('in a @fastify/websocket handler rejects with a SessUsageError naming sessions.socket(request).use, where @fastify/session writes the store (was: resolved, nothing saved)', async () => {
      const outcome = later<string>();
      const { client, url, stored } = await start((app) => {
        app.get('/live', { websocket: true }, (socket, request) => {
          request.session.seen = 2;
          request.session.save().then(
            () => outcome.settle('resolved'),
            (error: unknown) => outcome.settle(error instanceof SessUsageError ? error.message : String(error)),
          );
          socket.close();
        });
      });
      await client.request('/sign-in');
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/live`, { headers: { cookie: `sid=${client.jar.get('sid')}` } });
      await new Promise((resolve) => socket.on('close', resolve));
      expect(await outcome.promise).toMatch(/WebSocket.*app\.sessions\.socket\(request\)\.use/);
      expect(await stored()).toEqual({ user: 'ada' });
    });

    it('inside sessions.socket(request).use() saves, as before', async () => {
      const outcome = later<unknown>();
      const { client, url, stored } = await start((app) => {
        app.get('/live', { websocket: true }, (socket, request) => {
          const live = app.sessions.socket(request);
          void live
            .use((socketSession) => {
              socketSession.seen = 3;
              socketSession.save();
            })
            .then(outcome.settle, outcome.settle)
            .finally(() => socket.close());
        });
      });
      await client.request('/sign-in');
      const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/live`, { headers: { cookie: `sid=${client.jar.get('sid')}` } });
      await new Promise((resolve) => socket.on('close', resolve));
      expect(await outcome.promise).toMatchObject({ ended: false });
      expect(await stored()).toEqual({ user: 'ada', seen: 3 });
    });
  });

  describe('assignments from sloppy-mode code', () => {
    it("to id, sessionId or cookie (@fastify/session's README types id as data) throw a SessUsageError, and set() refuses them (was: dropped silently, id reading the session id)", async () => {
      const { client, stored } = await start((app) => {
        app.get('/assign', async (request) => {
          request.session.seen = 1;
          const assigned = ['id', 'sessionId', 'cookie'].map((key) => thrown(() => sloppyAssign(request.session, key, 42)));
          const set = thrown(() => request.session.set('id', 42));
          return { assigned, set, keys: Object.keys(request.session), idIsTheSessions: request.session.id === request.session.sessionId };
        });
      });
      const reply = await client.request('/assign');
      const member = expect.stringMatching(
        /^SessUsageError: .*(id|sessionId|cookie) is a member of (request\.session|the session), not data/,
      );
      expect(JSON.parse(reply.body)).toEqual({ assigned: [member, member, member], set: member, keys: ['seen'], idIsTheSessions: true });
      expect(await stored()).toEqual({ seen: 1 });
    });

    it("to request.session.cookie's maxAge, expires or an attribute throw a SessUsageError naming what to use (was: dropped silently by the frozen object); the configured attribute is accepted", async () => {
      const { client } = await start((app) => {
        app.get('/cookie', async (request) => {
          request.session.seen = 1;
          const { cookie } = request.session;
          return {
            maxAge: thrown(() => sloppyAssign(cookie, 'maxAge', 30 * 86_400_000)),
            expires: thrown(() => sloppyAssign(cookie, 'expires', new Date(Date.now() + 60_000))),
            secure: thrown(() => sloppyAssign(cookie, 'secure', true)),
            sameSiteAsConfigured: thrown(() => sloppyAssign(cookie, 'sameSite', 'lax')),
            read: [cookie.maxAge, cookie.path, cookie.sameSite, cookie.httpOnly],
            json: Object.keys(JSON.parse(JSON.stringify(cookie))),
          };
        });
      });
      const reply = await client.request('/cookie');
      expect(JSON.parse(reply.body)).toEqual({
        maxAge: expect.stringMatching(
          /^SessUsageError: \[sess\] request\.session\.cookie\.maxAge can't be assigned: .*request\.session\.options\(\{ maxAge \}\)/,
        ),
        expires: expect.stringMatching(
          /^SessUsageError: \[sess\] request\.session\.cookie\.expires can't be assigned: .*request\.session\.options\(\{ expires \}\)/,
        ),
        secure: expect.stringMatching(/^SessUsageError: .*register\(session, \{ cookie: \{ secure: true \} \}\)/),
        sameSiteAsConfigured: 'no error',
        read: [86_400_000, '/', 'lax', true],
        json: ['maxAge', 'expires'],
      });
    });
  });
});
