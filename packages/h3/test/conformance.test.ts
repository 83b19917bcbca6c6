import { H3, toNodeHandler } from 'h3';
import { listen, runAdapterConformance, runCookieSessionConformance } from '@sess/adapter-test';
import type { AdapterOptions } from '@sess/adapter-test';
import { session, useSession } from '../src/index.js';
import { contractRoutes, sessionOptions } from './routes.js';

function contractApp(options: AdapterOptions): H3 {
  const app = new H3({ silent: true });
  app.use(session(sessionOptions(options)));
  for (const [key, route] of Object.entries(contractRoutes(options.name ?? 'sid'))) {
    const [method = 'GET', path = '/'] = key.split(' ');
    app.on(method as Parameters<H3['on']>[0], path, async (event) => {
      const reply = {
        status: (code: number) => void (event.res.status = code),
        append: (name: string, value: string) => event.res.headers.append(name, value),
        set: (name: string, value: string) => event.res.headers.set(name, value),
      };
      return route(await useSession(event), reply, event.context.params?.seconds);
    });
  }
  return app;
}

// The 10,000-forged-cookie flood runs in full here; h3 v1 runs 1,000.
runAdapterConformance({ name: 'h3 v2', heavy: true, start: (options) => listen(toNodeHandler(contractApp(options))) });
// The same app with the session sealed in the cookie (`store: cookieSessions(...)`).
runCookieSessionConformance({ name: 'h3 v2', start: (options) => listen(toNodeHandler(contractApp(options))) });
