import { runAdapterConformance, runCookieSessionConformance } from '@sess/adapter-test';
import { MAJORS, serve } from './app.js';
import { contractApp } from './routes.js';

for (const [name, Fastify] of MAJORS) {
  // The 10,000-forged-cookie flood runs in full on one major (Fastify 5), 1,000 on the other.
  runAdapterConformance({ name, heavy: name === 'Fastify 5', start: (options) => serve(contractApp(Fastify, options)) });
  // The same app with the session sealed in the cookie (`store: cookieSessions(...)`).
  runCookieSessionConformance({ name, start: (options) => serve(contractApp(Fastify, options)) });
  // The routes added after the plugin loaded, as after `await app.register(session)`: each commits in its own last onSend hook.
  runAdapterConformance({ name: `${name}, routes added after the plugin`, start: (options) => serve(contractApp(Fastify, options, true)) });
}
