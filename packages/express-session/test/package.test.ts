/**
 * What a user gets: the packed tarballs of @sess/core and @sess/express-session installed into a
 * scratch project outside the workspace under express-session's own name (`"express-session":
 * "file:<tarball>"`, the effect of an npm alias), with express, connect-redis and redis from the
 * registry, and an unchanged express-session app (CommonJS, and the same as ESM) serving over
 * HTTP against the real Redis.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from './helpers.js';
import { REDIS_URL, redisClient } from './services.js';
import type { RedisClient } from './services.js';

const packages = resolve(import.meta.dirname, '../..');
const prefix = `sess-express-session-packed:${randomUUID()}:`;

/** npm without pnpm's `npm_config_*` settings, which npm warns about. */
const npmEnvironment = () =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_config_')));

/** The app as an express-session user wrote it; only the port is printed for the test. */
const APP = `
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');

const client = createClient({ url: ${JSON.stringify(REDIS_URL)} });
client.connect().then(() => {
  const app = express();
  app.use(session({
    store: new RedisStore({ client, prefix: ${JSON.stringify(prefix)} }),
    secret: 'keyboard cat',
    resave: false,
    saveUninitialized: false,
  }));
  app.get('/', (req, res) => {
    req.session.views = (req.session.views || 0) + 1;
    res.send('views ' + req.session.views);
  });
  const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
});
`;

const ESM_APP = `
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

const client = createClient({ url: ${JSON.stringify(REDIS_URL)} });
await client.connect();
const app = express();
app.use(session({ store: new RedisStore({ client, prefix: ${JSON.stringify(prefix)} }), secret: 'keyboard cat', resave: false, saveUninitialized: false }));
app.get('/', (req, res) => {
  req.session.views = (req.session.views || 0) + 1;
  res.send('views ' + req.session.views);
});
const server = app.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

let dir = '';
let redis: RedisClient | string = '';

beforeAll(async () => {
  redis = await redisClient();
  dir = mkdtempSync(join(tmpdir(), 'sess-express-session-packed-'));
  const tarballs: Record<string, string> = {};
  for (const folder of ['core', 'express-session']) {
    const before = new Set(readdirSync(dir));
    execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: join(packages, folder), stdio: 'pipe' });
    tarballs[folder] = readdirSync(dir).find((file) => !before.has(file) && file.endsWith('.tgz')) as string;
  }
  const manifest = {
    name: 'an-express-session-app',
    private: true,
    dependencies: {
      '@sess/core': `file:${tarballs.core}`,
      'express-session': `file:${tarballs['express-session']}`,
      express: '5.2.1',
      'connect-redis': '9.0.0',
      redis: '5.10.0',
    },
    // Stores name express-session as a peer (connect-redis: ">=1"): this points them at the alias.
    overrides: { 'express-session': '$express-session' },
  };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'pipe', env: npmEnvironment() });
}, 300_000);

afterAll(async () => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  if (typeof redis !== 'string') {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(keys);
    await redis.quit();
  }
});

/** Runs `source` with Node in the scratch project; resolves with its URL once it prints its port. */
async function start(file: string, source: string): Promise<{ url: string; close(): void }> {
  writeFileSync(join(dir, file), source);
  const child = spawn(process.execPath, ['--no-warnings', file], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((done, fail) => {
    child.stdout.once('data', (chunk: Buffer) => done(chunk.toString().trim().split('\n')[0] as string));
    child.once('exit', (code) => fail(new Error(`${file} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, close: () => void child.kill() };
}

describe('the packed package, installed as express-session', () => {
  it("is what `express-session` resolves to, bringing only @sess/core (and xstate), and the app's express as its peer", () => {
    const installed = JSON.parse(readFileSync(join(dir, 'node_modules/express-session/package.json'), 'utf8')) as { name: string };
    expect(installed.name).toBe('@sess/express-session');
    const tree = JSON.parse(execFileSync('npm', ['ls', '--all', '--json'], { cwd: dir, encoding: 'utf8', env: npmEnvironment() })) as {
      dependencies: Record<string, { dependencies?: Record<string, unknown> }>;
    };
    expect(Object.keys(tree.dependencies['express-session']?.dependencies ?? {}).sort()).toEqual(['@sess/core', 'express']);
    expect(Object.keys(tree.dependencies['@sess/core']?.dependencies ?? {})).toEqual(['xstate']);
  });

  it.each([
    ['CommonJS', 'app.cjs', APP],
    ['ESM', 'app.mjs', ESM_APP],
  ])('runs an unchanged express-session app with connect-redis (%s) over HTTP', async (_, file, source) => {
    if (typeof redis === 'string') throw new Error(redis);
    const db = redis;
    const running = await start(file, source);
    try {
      const client = new Client(running.url);
      const first = await client.request('/');
      expect(first.body).toBe('views 1');
      expect(first.setCookies[0]).toMatch(/^connect\.sid=s%3A[A-Za-z0-9_-]{32}\.[A-Za-z0-9%]+; Path=\/; HttpOnly$/);
      expect((await client.request('/')).body).toBe('views 2');
      const keys = await db.keys(`${prefix}*`);
      const records = await Promise.all(keys.map(async (key) => JSON.parse((await db.get(key)) as string) as Record<string, unknown>));
      expect(records).toContainEqual({ cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, views: 2 });
    } finally {
      running.close();
    }
  });
});
