/**
 * The two h3 majors as the tests drive them: a real h3 app of each, served over HTTP, whose one
 * handler gets the entry's session functions and the request's URL. Servers close after each test.
 */
import { H3, toNodeHandler } from 'h3';
import { createApp, eventHandler, toNodeListener } from 'h3v1';
import { Client, closedAfterEach, listen } from '@sess/adapter-test';
import type { Served } from '@sess/adapter-test';
import * as v2 from '../src/index.js';
import * as v1 from '../src/v1.js';

/** The entry's functions, typed as v2's; each flavour passes its own major's event. */
export type Api = typeof v2;

export interface Call {
  readonly event: Parameters<Api['useSession']>[0];
  readonly url: URL;
}

export type Handler = (call: Call) => unknown;

export interface Flavour {
  readonly name: 'h3 v2' | 'h3 v1';
  readonly api: Api;
  serve(handler: Handler): Promise<Served>;
}

export const PASSWORD = 'a-password-for-h3-sessions-at-least-32-characters';

export const v2Flavour: Flavour = {
  name: 'h3 v2',
  api: v2,
  serve: (handler) =>
    listen(toNodeHandler(new H3({ silent: true }).all('/**', (event) => handler({ event, url: new URL(event.url.href) }) as never))),
};

export const v1Flavour: Flavour = {
  name: 'h3 v1',
  api: v1 as unknown as Api,
  serve: (handler) =>
    listen(
      toNodeListener(
        createApp().use(eventHandler((event) => handler({ event: event as never, url: new URL(event.path, 'http://localhost') }) as never)),
      ),
    ),
};

export const flavours = [v2Flavour, v1Flavour] as const;

/** A browser of the app, which can open another (a second user, or an attacker). */
export interface Browser extends Client {
  newClient(): Client;
}

/** Serves `handler` on `flavour` and returns a browser for it; the server closes after the test. */
export function serving(servers = closedAfterEach()) {
  return async (flavour: Flavour, handler: Handler): Promise<Browser> => {
    const served = await flavour.serve(handler);
    servers.push(served);
    return Object.assign(new Client(served.url), { newClient: () => new Client(served.url) });
  };
}

/** A signed session id as sess sends it: id, dot, HMAC-SHA256 in base64url. */
export const SIGNED_VALUE = /^[A-Za-z0-9_-]{22,128}\.[A-Za-z0-9_-]{43}$/;
