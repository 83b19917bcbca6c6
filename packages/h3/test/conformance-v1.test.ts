import {
  appendResponseHeader,
  createApp,
  createRouter,
  eventHandler,
  getRouterParam,
  setResponseHeader,
  setResponseStatus,
  toNodeListener,
} from 'h3v1';
import type { App, RouterMethod } from 'h3v1';
import { listen, runAdapterConformance, runCookieSessionConformance } from '@sess/adapter-test';
import type { AdapterOptions } from '@sess/adapter-test';
import { session, useSession } from '../src/v1.js';
import { expectOnlyLoggedErrors } from './logs.js';
import { contractRoutes, sessionOptions } from './routes.js';

// Scenarios that fail on purpose (a throwing route, a store that fails or hangs, a write on a
// read-only or retired session) make h3 v1 log "[h3] [unhandled]" with the error: those lines are
// captured, and any other error logged fails the scenario.
expectOnlyLoggedErrors((error) =>
  /^\[sess\] |^handler failed$|^Session store unavailable$/.test((error as Error | undefined)?.message ?? ''),
);

function contractApp(options: AdapterOptions): App {
  const app = createApp();
  const router = createRouter();
  app.use(session(sessionOptions(options)));
  for (const [key, route] of Object.entries(contractRoutes(options.name ?? 'sid'))) {
    const [method = 'GET', path = '/'] = key.split(' ');
    router.use(
      path,
      eventHandler(async (event) => {
        const reply = {
          status: (code: number) => setResponseStatus(event, code),
          append: (name: string, value: string) => appendResponseHeader(event, name, value),
          set: (name: string, value: string) => setResponseHeader(event, name, value),
        };
        return route(await useSession(event), reply, getRouterParam(event, 'seconds'));
      }),
      method.toLowerCase() as RouterMethod,
    );
  }
  app.use(router);
  return app;
}

runAdapterConformance({ name: 'h3 v1', start: (options) => listen(toNodeListener(contractApp(options))) });
// The same app with the session sealed in the cookie (`store: cookieSessions(...)`).
runCookieSessionConformance({ name: 'h3 v1', start: (options) => listen(toNodeListener(contractApp(options))) });
