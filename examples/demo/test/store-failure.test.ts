/**
 * A store that fails while the demo runs: each framework answers the demo's 503 page, sends no
 * session cookie for the write that failed, and keeps serving. The failure is real: a
 * PostgreSQL store whose table was never created (no `migrate()`), so every query errors.
 */
import { randomUUID } from 'node:crypto';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MockInstance } from 'vitest';
import { postgresStore } from '@sess/store-postgres';
import { createDemo } from '../src/demo.js';
import { frameworks } from '../src/frameworks/index.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test' });
afterAll(() => pool.end());

describe.each(['express', 'koa', 'h3', 'hono', 'fastify'] as const)('on %s, with a store that fails', (name) => {
  let server: Server;
  let base: string;
  // The demo logs each store failure it answers; captured here, and checked below.
  let logged: MockInstance<typeof console.error>;
  beforeAll(async () => {
    logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const store = postgresStore({ pool, tableName: `sess_demo_missing_${randomUUID().slice(0, 8)}`, sweepIntervalMs: 0 });
    const demo = createDemo({ store, about: 'a broken store' });
    server = createServer(await frameworks[name].app({ secret: 'store-failure-test-secret-32-bytes!!', store, demo }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    logged.mockRestore();
  });

  it('answers a write it could not save with 503, without a cookie, and keeps serving', async () => {
    const answer = await fetch(`${base}/count`, { method: 'POST', redirect: 'manual' });
    expect(answer.status).toBe(503);
    expect(await answer.text()).toContain('<title>Session store unavailable · sess demo</title>');
    expect(answer.headers.getSetCookie().filter((line) => line.startsWith('sid='))).toEqual([]);
    // The error was logged with its cause, which names the missing table.
    expect(logged.mock.calls.flat().join('\n')).toMatch(/relation "sess_demo_missing_\w+" does not exist/);

    // A page that needs no store still works.
    expect((await fetch(`${base}/`)).status).toBe(200);
  });
});
