import { getRequestListener } from '@hono/node-server';
import { getRequestListener as getRequestListenerV1 } from 'hono-node-server1';
import { runAdapterConformance, runCookieSessionConformance } from '@sess/adapter-test';
import { contractApp, serve } from './routes.js';

// The 10,000-forged-cookie flood runs in full on node-server 2; node-server 1 runs 1,000.
runAdapterConformance({
  name: 'Hono 4 on node-server 2',
  heavy: true,
  start: async (options) => serve(getRequestListener, contractApp(options)),
});
runAdapterConformance({ name: 'Hono 4 on node-server 1', start: async (options) => serve(getRequestListenerV1, contractApp(options)) });
// The same app with the session sealed in the cookie (`store: cookieSessions(...)`).
runCookieSessionConformance({ name: 'Hono 4 on node-server 2', start: async (options) => serve(getRequestListener, contractApp(options)) });
runCookieSessionConformance({
  name: 'Hono 4 on node-server 1',
  start: async (options) => serve(getRequestListenerV1, contractApp(options)),
});
