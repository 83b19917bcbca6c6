/**
 * What a user gets from npm: the packed tarballs of @sess/core, @sess/store-memory and
 * @sess/h3-session install with npm outside the workspace, next to h3 from the registry, and a
 * ten-line app runs on them over HTTP: on h3 v2 (ESM), and on h3 v1 (CommonJS), where a session
 * h3 v1 itself sealed moves over with h3 v1's own unsealSession.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, installPacked, runPackageCheck } from '@sess/adapter-test';
import type { PackedProject } from '@sess/adapter-test';

runPackageCheck(resolve(import.meta.dirname, '..'), { h3: '^1.15.0 || ^2.0.0' });

const PACKAGES = ['core', 'store-memory', 'h3-session'];

const v2App = `
import { createServer } from 'node:http';
import { H3, toNodeHandler } from 'h3';
import { useSession } from '@sess/h3-session';
const config = { password: 'a-password-that-is-at-least-32-characters' };
const app = new H3().get('/', async (event) => {
  const session = await useSession(event, config);
  await session.update((data) => ({ views: (data.views ?? 0) + 1 }));
  return 'views ' + session.data.views;
});
const server = createServer(toNodeHandler(app)).listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const v1App = `
const { createServer } = require('node:http');
const h3 = require('h3');
const { useSession } = require('@sess/h3-session/v1');
const config = { password: 'a-password-that-is-at-least-32-characters' };
const app = h3.createApp().use('/', h3.eventHandler(async (event) => {
  const session = await (event.path.startsWith('/old') ? h3.useSession : useSession)(event, config);
  if (event.path.endsWith('?set')) await session.update({ user: 'ada' });
  return { id: session.id, data: session.data };
}));
const server = createServer(h3.toNodeListener(app)).listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

describe('the published @sess/h3-session on h3 v2', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = installPacked(PACKAGES, ['h3@2']);
  }, 180_000);
  afterAll(() => project?.remove());

  it('runs a ten-line app that sets a signed-id cookie and counts visits', async () => {
    const running = await project.start('app.mjs', v2App);
    try {
      const client = new Client(running.url);
      expect((await client.request('/')).body).toBe('views 1');
      expect(client.jar.get('h3')).toMatch(/^[A-Za-z0-9_-]{22,128}\.[A-Za-z0-9_-]{43}$/);
      expect((await client.request('/')).body).toBe('views 2');
    } finally {
      running.close();
    }
  });
});

describe('the published @sess/h3-session/v1 on h3 v1', () => {
  let project: PackedProject;
  beforeAll(() => {
    project = installPacked(PACKAGES, ['h3@1']);
  }, 180_000);
  afterAll(() => project?.remove());

  it('runs from CommonJS, and moves a session h3 v1 sealed into the store', async () => {
    const running = await project.start('app.cjs', v1App);
    try {
      const client = new Client(running.url);
      const old = JSON.parse((await client.request('/old?set')).body) as { id: string };
      expect(client.jar.get('h3')).toMatch(/^Fe26\.2\*/);
      expect(JSON.parse((await client.request('/new')).body)).toEqual({ id: old.id, data: { user: 'ada' } });
      expect(client.jar.get('h3')).toMatch(/^[A-Za-z0-9_-]{22,128}\.[A-Za-z0-9_-]{43}$/);
      expect(JSON.parse((await client.request('/new')).body)).toEqual({ id: old.id, data: { user: 'ada' } });
    } finally {
      running.close();
    }
  });
});
