/**
 * Configs written inline, as h3's own examples write them: a new object on every call, and with
 * it a new `generateId` function (and cookie options). The same app runs on h3's own sessions and
 * on this package: each call's config, functions included, is the one h3 uses, one request's
 * calls share one session, and the prepared config is built once however many functions come.
 */
import { H3, toNodeHandler, getSession as h3GetSession, updateSession as h3UpdateSession, useSession as h3UseSession } from 'h3';
import type { HTTPEvent } from 'h3';
import {
  createApp,
  eventHandler,
  getSession as v1GetSession,
  toNodeListener,
  updateSession as v1UpdateSession,
  useSession as v1UseSession,
} from 'h3v1';
import { describe, expect, it } from 'vitest';
import { Client, closedAfterEach, cookiesNamed, fakeClock, inspectableStore, listen } from '@sess/adapter-test';
import type { Served } from '@sess/adapter-test';
import { perConfig } from '../src/config.js';
import type { SessionConfig } from '../src/index.js';
import { PASSWORD, v1Flavour, v2Flavour } from './apps.js';
import type { Flavour } from './apps.js';

/** The three session calls an app makes, on either library. */
interface Calls {
  use(event: unknown, config: SessionConfig): Promise<{ id: string | undefined; data: Record<string, unknown> }>;
  update(event: unknown, config: SessionConfig, update: Record<string, unknown>): Promise<unknown>;
  get(event: unknown, config: SessionConfig): Promise<{ id: string; data: Record<string, unknown> }>;
}

const servers = closedAfterEach();

/**
 * The app: every call builds its config inline, with a `generateId` that names the request
 * (`?user=`) and the call that made it. `/set?n=` updates the session between two reads.
 */
async function serveApp(
  serve: (handler: (event: unknown, url: URL) => Promise<unknown>) => Promise<Served>,
  calls: Calls,
  store?: SessionConfig['store'],
) {
  const served = await serve(async (event, url) => {
    const user = url.searchParams.get('user') ?? 'anon';
    const inline = (call: string): SessionConfig => ({
      password: PASSWORD,
      name: 'app',
      cookie: { path: '/', sameSite: 'lax', secure: false },
      generateId: () => `${user}-${call}-id-0123456789abcdef`,
      ...(store && { store }),
    });
    const session = await calls.use(event, inline('use'));
    if (url.pathname === '/set') await calls.update(event, inline('update'), { n: Number(url.searchParams.get('n')) });
    const read = await calls.get(event, inline('get'));
    return { id: session.id, same: read.id === session.id, data: { ...read.data } };
  });
  servers.push(served);
  return served;
}

const realV2 = (handler: (event: unknown, url: URL) => Promise<unknown>) =>
  listen(toNodeHandler(new H3({ silent: true }).all('/**', (event) => handler(event, new URL(event.url.href)) as never)));
const realV1 = (handler: (event: unknown, url: URL) => Promise<unknown>) =>
  listen(toNodeListener(createApp().use(eventHandler((event) => handler(event, new URL(event.path, 'http://localhost')) as never))));

const h3Calls = (use: unknown, update: unknown, get: unknown) => ({ use, update, get }) as unknown as Calls;

const pairs = [
  { flavour: v2Flavour, real: realV2, realCalls: h3Calls(h3UseSession, h3UpdateSession, h3GetSession) },
  { flavour: v1Flavour, real: realV1, realCalls: h3Calls(v1UseSession, v1UpdateSession, v1GetSession) },
] as const;

const oursOf = (flavour: Flavour) => ({
  serve: (handler: (event: unknown, url: URL) => Promise<unknown>) => flavour.serve(({ event, url }) => handler(event as HTTPEvent, url)),
  calls: h3Calls(flavour.api.useSession, flavour.api.updateSession, flavour.api.getSession),
});

/** Two users' visits: a new session updated in the request that starts it, then reads and another update. */
async function visits(served: Served) {
  const trace: unknown[] = [];
  for (const user of ['ada', 'bob']) {
    const client = new Client(served.url);
    for (const path of [`/set?user=${user}&n=1`, `/?user=${user}`, `/set?user=${user}&n=2`, `/?user=${user}`]) {
      const reply = await client.request(path);
      expect(reply.status).toBe(200);
      trace.push({ path, body: JSON.parse(reply.body), cookies: cookiesNamed(reply, 'app').length });
    }
  }
  return trace;
}

describe.each(pairs)('$flavour.name', ({ flavour, real, realCalls }) => {
  it("each call's inline config is the one used (its generateId), and one request's calls share one session, as in h3", async () => {
    const expected = await visits(await serveApp(real as never, realCalls as never));
    // h3 names a new session with the generateId of the call that starts it (useSession's here),
    // and sends the session's cookie once per response however many calls wrote it.
    expect(expected).toEqual(
      ['ada', 'bob'].flatMap((user) => [
        { path: `/set?user=${user}&n=1`, body: { id: `${user}-use-id-0123456789abcdef`, same: true, data: { n: 1 } }, cookies: 1 },
        { path: `/?user=${user}`, body: { id: `${user}-use-id-0123456789abcdef`, same: true, data: { n: 1 } }, cookies: 0 },
        { path: `/set?user=${user}&n=2`, body: { id: `${user}-use-id-0123456789abcdef`, same: true, data: { n: 2 } }, cookies: 1 },
        { path: `/?user=${user}`, body: { id: `${user}-use-id-0123456789abcdef`, same: true, data: { n: 2 } }, cookies: 0 },
      ]),
    );
    const store = inspectableStore(fakeClock());
    const ours = oursOf(flavour);
    expect(await visits(await serveApp(ours.serve as never, ours.calls, store))).toEqual(expected);
    // One record per user: no request left a second session behind.
    expect(store.size).toBe(2);
  });
});

describe('perConfig', () => {
  it('prepares a config written inline once, however many new functions it brings', () => {
    let made = 0;
    const prepared = perConfig('test', true, () => ++made);
    const inline = (name: string) => ({
      password: PASSWORD,
      name,
      cookie: { sameSite: 'lax', encode: (value: string) => value },
      generateId: () => `${name}-0123456789abcdefghij`,
    });
    const first = prepared(inline('h3'));
    for (let request = 0; request < 1_000; request++) expect(prepared(inline('h3'))).toBe(first);
    expect(made).toBe(1);
    // Other contents are another config.
    expect(prepared(inline('other'))).not.toBe(first);
    expect(made).toBe(2);
  });
});
