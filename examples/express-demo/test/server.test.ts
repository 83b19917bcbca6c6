/** `pnpm demo` as a user runs it: the server script starts, prints its URL and serves the demo. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterEach, expect, it } from 'vitest';

const running: Array<() => Promise<number | null>> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((stop) => stop()));
});

/** Starts `src/server.ts` with `env`; resolves with its URL and a stop function. */
async function startDemo(env: Record<string, string>): Promise<{ url: string; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: resolve(import.meta.dirname, '..'),
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  const stop = () => {
    child.kill('SIGTERM');
    return exited;
  };
  running.push(stop);
  let output = '';
  const url = await new Promise<string>((done, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) done(match[1].replace(/\/$/, ''));
    });
    void exited.then((code) => fail(new Error(`demo exited with ${code} before listening: ${output}`)));
  });
  return { url, output: () => output, stop };
}

it('starts on the memory store, prints the URL it listens on, serves the page and stops on SIGTERM', async () => {
  const demo = await startDemo({});
  expect(demo.output()).toContain('(memory store)');
  const response = await fetch(`${demo.url}/`);
  expect(response.status).toBe(200);
  expect(await response.text()).toContain('You are not signed in.');
  // An untouched visitor gets no cookie (sess never creates a session it doesn't need).
  expect(response.headers.getSetCookie()).toEqual([]);
  expect(await demo.stop()).toBe(0);
}, 30_000);

it('with REDIS_URL, two demo processes share one sign-in', async () => {
  const env = { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', SESSION_SECRET: randomBytes(32).toString('base64url') };
  const [first, second] = await Promise.all([startDemo(env), startDemo(env)]);
  expect(first.output()).toContain(`(Redis at ${env.REDIS_URL})`);

  const login = await fetch(`${first.url}/login`, { method: 'POST', body: new URLSearchParams({ name: 'Ada' }), redirect: 'manual' });
  expect(login.status).toBe(303);
  const cookie = login.headers.getSetCookie()[0]?.split(';')[0] as string;
  const page = await fetch(`${second.url}/`, { headers: { cookie } });
  expect(await page.text()).toContain('Signed in as <b id="user">Ada</b>');

  // Sign out on the second process; the first no longer knows the session.
  await fetch(`${second.url}/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' });
  expect(await (await fetch(`${first.url}/`, { headers: { cookie } })).text()).toContain('You are not signed in.');
  expect(await first.stop()).toBe(0);
  expect(await second.stop()).toBe(0);
}, 30_000);
