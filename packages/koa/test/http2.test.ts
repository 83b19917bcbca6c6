/**
 * Koa on Node's HTTP/2 compatibility API: a response the app writes itself (`ctx.respond = false`)
 * is held until the commit as on HTTP/1, and nothing sess does touches what HTTP/2 lacks.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, createSecureServer, createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A self-signed certificate for 127.0.0.1, made by openssl for this run. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'sess-koa-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** GET `path` over HTTP/1.1 and TLS: the status and the cookies set. */
function getHttps(url: string, path: string, ca: Buffer): Promise<{ status: number; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    httpsRequest(`${url}${path}`, { ca }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, cookies: response.headers['set-cookie'] ?? [] }));
    })
      .on('error', reject)
      .end();
  });
}

/** GET `path` over one HTTP/2 session: the status, the cookies set and the body. */
function get(url: string, path: string, ca?: Buffer): Promise<{ status: number; cookies: string[]; body: string }> {
  const client = connect(url, ca === undefined ? {} : { ca });
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

  it('createSecureServer with allowHTTP1: the cookie is Secure over HTTP/2 and over HTTP/1.1 on TLS', async () => {
    const { key, cert } = selfSigned();
    const app = new Koa();
    app.use(session({ secret: SECRET, store: inspectableStore(fakeClock()) }));
    app.use((ctx) => {
      ctx.session.n = 1;
      ctx.body = ctx.req.httpVersion;
    });
    const server = createSecureServer({ key, cert, allowHTTP1: true }, app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const secureCookie = [expect.stringMatching(/^sid=[^;]+;.*; Secure/)];
    expect(await get(url, '/', cert)).toEqual({ status: 200, cookies: secureCookie, body: '2.0' });
    expect(await getHttps(url, '/', cert)).toEqual({ status: 200, cookies: secureCookie });
  });
});
