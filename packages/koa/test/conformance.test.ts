import Koa3 from 'koa';
import Koa2 from 'koa2';
import { listen, runAdapterConformance, runCookieSessionConformance } from '@sess/adapter-test';
import { contractApp } from './routes.js';

for (const [name, Koa] of [
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const) {
  // The 10,000-forged-cookie flood runs in full on one major (Koa 3), 1,000 on the other.
  runAdapterConformance({
    name,
    heavy: name === 'Koa 3',
    start: (options) => listen(contractApp(Koa, options).callback()),
  });
  // The same app with the session sealed in the cookie (`store: cookieSessions(...)`).
  runCookieSessionConformance({ name, start: (options) => listen(contractApp(Koa, options).callback()) });
}
