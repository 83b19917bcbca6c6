/**
 * Koa on Node's HTTP/2 compatibility API: a response the app writes itself (`ctx.respond = false`)
 * is held until the commit as on HTTP/1, and nothing sess does touches what HTTP/2 lacks.
 */
import { connect, createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock, inspectableStore, SECRET } from '@sess/adapter-test';
import { session } from '../src/index.js';

declare module '../src/index.js' {
  interface SessionData {
    n?: number;
  }
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** GET `path` over one HTTP/2 session: the status, the cookies set and the body. */
function get(url: string, path: string): Promise<{ status: number; cookies: string[]; body: string }> {
  const client = connect(url);
  return new Promise((resolve, reject) => {
    client.on('error', reject);
    const request = client.request({ ':path': path });
    let status = 0;
    let cookies: string[] = [];
    let body = '';
    request.setEncoding('utf8');
    request.on('response', (headers) => {
      status = headers[':status'] as number;
      cookies = (headers['set-cookie'] as string[] | undefined) ?? [];
    });
    request.on('data', (chunk: string) => void (body += chunk));
    request.on('error', reject);
    request.on('end', () => {
      client.close();
      resolve({ status, cookies, body });
    });
    request.end();
  });
}

describe.each([
  ['Koa 2', Koa2],
  ['Koa 3', Koa3],
] as const)('%s over HTTP/2', (_, Koa) => {
  it('a response written to ctx.res gets its cookie after the commit, and no status-message warning is printed (HTTP/2 has none)', async () => {
    const clock = fakeClock();
    const store = inspectableStore(clock);
    const app = new Koa();
    app.use(session({ secret: SECRET, store, clock: clock.now }));
    app.use((ctx) => {
      ctx.session.n = 1;
      ctx.respond = false;
      if (ctx.path === '/head') ctx.res.writeHead(201, { 'content-type': 'text/plain' });
      else ctx.res.statusCode = 200;
      ctx.res.write('a');
      ctx.res.end('b');
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const path of ['/head', '/'])
        expect(await get(url, path)).toEqual({
          status: path === '/head' ? 201 : 200,
          cookies: [expect.stringMatching(/^sid=/)],
          body: 'ab',
        });
      // Node emits a process warning on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
      expect(store.calls.set).toBe(2);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
