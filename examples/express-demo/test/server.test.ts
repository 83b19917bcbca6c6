/** `pnpm demo` as a user runs it: the server script starts, prints its URL and serves the demo. */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';

it('starts, prints the URL it listens on, serves the page and stops on SIGTERM', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: resolve(import.meta.dirname, '..'),
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  const url = await new Promise<string>((done, fail) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1] !== undefined) done(match[1]);
    });
    void exited.then((code) => fail(new Error(`demo exited with ${code} before listening: ${output}`)));
  });

  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(await response.text()).toContain('You are not signed in.');
  // An untouched visitor gets no cookie (sess never creates a session it doesn't need).
  expect(response.headers.getSetCookie()).toEqual([]);

  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 30_000);
