/**
 * What the tests share: a browser that keeps cookies as one does (a past Expires or Max-Age=0
 * deletes), Koa apps on real ports, and koa-session-style external stores: one in memory, and one
 * on the real Redis, written with node-redis as an app would write it.
 */
import { randomUUID } from 'node:crypto';
import Koa3 from 'koa';
import type { Context } from 'koa';
import Koa2 from 'koa2';
import { createClient } from 'redis';
import { closedAfterEach, listen } from '@sess/adapter-test';

export const KOAS = [
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const;

export type KoaClass = typeof Koa3;

/** app.keys as a real app has them (32 bytes and more: no warning). */
export const KEYS = ['first-key-of-the-app-at-least-32-bytes', 'an-older-key-of-the-app-at-least-32-bytes'];

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly setCookies: string[];
  readonly headers: Headers;
}

/** One browser: sends its jar and applies every Set-Cookie it gets back. */
export class Browser {
  readonly jar = new Map<string, string>();
  constructor(public base: string) {}

  get(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.request(path, { headers });
  }

  /** A POST, with `body` as JSON when given. */
  post(path: string, body?: object): Promise<Reply> {
    const json = body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
    return this.request(path, { method: 'POST', ...json });
  }

  async request(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Reply> {
    const cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(`${this.base}${path}`, {
      ...init,
      headers: { ...init.headers, ...(cookie === '' ? {} : { cookie }) },
      redirect: 'manual',
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const name = pair.slice(0, pair.indexOf('='));
      const gone = attributes.some((attribute) => {
        const [field = '', value = ''] = attribute.split('=');
        if (field.toLowerCase() === 'max-age') return Number(value) <= 0;
        return field.toLowerCase() === 'expires' && Date.parse(value) <= Date.now();
      });
      if (gone) this.jar.delete(name);
      else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return { status: response.status, body: await response.text(), setCookies, headers: response.headers };
  }
}

/** The Set-Cookie line for `name` in a reply, if any. */
export const lineOf = (reply: Reply, name: string) => reply.setCookies.find((line) => line.startsWith(`${name}=`));

/** koa-session's own decode of a cookie value. */
export const decoded = (value: string | undefined): Record<string, unknown> =>
  JSON.parse(Buffer.from(value ?? '', 'base64').toString('utf8')) as Record<string, unknown>;

const servers = closedAfterEach();

/** Serves `app` on a loopback port, closed after the test. */
export async function serve(app: { callback(): (...args: never[]) => unknown }): Promise<string> {
  const served = await listen(app.callback() as Parameters<typeof listen>[0]);
  servers.push(served);
  return served.url;
}

/** A Koa app with `keys`, errors kept quiet (the tests look at the responses). */
export function koaApp(Koa: KoaClass, keys: readonly string[] | null = KEYS): Koa3 {
  const app = new Koa();
  if (keys !== null) app.keys = [...keys];
  app.silent = true;
  return app;
}

export interface StoreCall {
  readonly op: 'get' | 'set' | 'destroy';
  readonly key: string;
  readonly maxAge?: unknown;
  readonly options: Record<string, unknown>;
}

/** A koa-session external store over a Map, recording its calls as koa-session makes them. */
export function memoryStore() {
  const sessions = new Map<string, Record<string, unknown>>();
  const calls: StoreCall[] = [];
  return {
    sessions,
    calls,
    async get(key: string, maxAge: unknown, options: { rolling: boolean; ctx: Context }) {
      calls.push({ op: 'get', key, maxAge, options });
      const session = sessions.get(key);
      return session === undefined ? undefined : structuredClone(session);
    },
    async set(
      key: string,
      session: Record<string, unknown>,
      maxAge: unknown,
      options: { rolling: boolean; changed: boolean; ctx: Context },
    ) {
      calls.push({ op: 'set', key, maxAge, options });
      sessions.set(key, structuredClone(session));
    },
    async destroy(key: string, options: { ctx: Context }) {
      calls.push({ op: 'destroy', key, options });
      sessions.delete(key);
    },
  };
}

/**
 * A koa-session external store on the real Redis, as an app writes one with node-redis (JSON,
 * PX for the TTL), under a prefix of its own so runs never meet.
 */
export async function redisStore() {
  const client = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  await client.connect();
  const prefix = `sess-koa-session-test:${randomUUID()}:`;
  return {
    client,
    prefix,
    async get(key: string) {
      const json = await client.get(prefix + key);
      return json === null ? undefined : (JSON.parse(json) as Record<string, unknown>);
    },
    async set(key: string, session: Record<string, unknown>, maxAge: number | 'session') {
      const ttl = typeof maxAge === 'number' ? { PX: maxAge } : {};
      await client.set(prefix + key, JSON.stringify(session), ttl);
    },
    async destroy(key: string) {
      await client.del(prefix + key);
    },
    async keys(): Promise<string[]> {
      const found: string[] = [];
      for await (const batch of client.scanIterator({ MATCH: `${prefix}*` })) found.push(...batch.map((key) => key.slice(prefix.length)));
      return found;
    },
    async close() {
      const keys = await this.keys();
      if (keys.length > 0) await client.del(keys.map((key) => prefix + key));
      await client.quit();
    },
  };
}
