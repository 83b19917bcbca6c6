/**
 * The demo as a user runs it: `src/server.ts` in a child process, over real HTTP, on every
 * framework, and on Redis and PostgreSQL (the services at REDIS_URL and DATABASE_URL; nothing
 * here skips without them).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
/** Variables that pick a framework or store: the children get only those a test gives them. */
const CHOOSERS = ['FRAMEWORK', 'STORE', 'REDIS_URL', 'DATABASE_URL', 'PORT', 'HOST', 'SESSION_SECRET'];

function spawnDemo(args: readonly string[], env: Record<string, string>): ChildProcess & { exited: Promise<number | null> } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CHOOSERS) delete childEnv[name];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts', ...args], {
    cwd: resolve(import.meta.dirname, '..'),
    env: { ...childEnv, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return Object.assign(child, { exited: new Promise<number | null>((done) => child.once('exit', done)) });
}

interface RunningDemo {
  readonly url: string;
  readonly output: () => string;
  readonly stop: () => Promise<number | null>;
}

/** Starts the demo; resolves once it prints the URL it listens on. */
async function startDemo(args: readonly string[], env: Record<string, string> = {}): Promise<RunningDemo> {
  const child = spawnDemo(args, env);
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  const url = await new Promise<string>((done, fail) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)\//.exec(output);
      if (match?.[1] !== undefined) done(match[1]);
    });
    void child.exited.then((code) => fail(new Error(`demo exited with ${code} before listening: ${output}`)));
  });
  return { url, output: () => output, stop: () => (child.kill('SIGTERM'), child.exited) };
}

/** Runs the demo until it exits on its own. */
async function runToExit(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const child = spawnDemo(args, env);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const code = await child.exited;
  return { code, stderr, ms: Date.now() - started };
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** A browser in miniature: it keeps the cookies it is sent and follows no redirect, so each answer can be checked. */
class Client {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(
    method: string,
    path: string,
    init: { body?: RequestInit['body']; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      ...init,
      headers: { ...(cookie === '' ? {} : { cookie }), ...init.headers },
      // A stream body is sent chunked, without Content-Length.
      ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const [name = '', value = ''] = pair.split('=');
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: response.status, headers: response.headers, text: await response.text() };
  }
  get = (path: string) => this.request('GET', path);
  post = (path: string, form: Record<string, string> = {}) => this.request('POST', path, { body: new URLSearchParams(form) });

  /** The session id the `sid` cookie carries (before its signature). */
  get sessionId(): string | undefined {
    return this.cookies.get('sid')?.split('.')[0];
  }
  async signIn(name: string): Promise<void> {
    expect((await this.post('/sign-in', { name })).status).toBe(303);
  }
}

const short = (id: string | undefined) => `${id?.slice(0, 8)}…`;
const uniqueName = () => `user-${randomUUID().slice(0, 8)}`;
/** The rows of the "Your devices" table. */
/** The start of a row of the cookie or previous-response table. */
const row = (header: string, value: string) => `<tr><th>${header}</th><td class="value">${value}</td>`;
const deviceRows = (html: string) => html.match(/<tr(?: class="current")?><td><code>/g)?.length ?? 0;
const SIGNED_OUT = '<p id="status">You are not signed in.</p>';

const CASES = [
  { title: 'Express (the default) with the memory store', args: [], env: {}, about: 'Express with the memory store' },
  { title: 'Koa (--framework koa) with the memory store', args: ['--framework', 'koa'], env: {}, about: 'Koa with the memory store' },
  { title: 'h3 (FRAMEWORK=h3) with the memory store', args: [], env: { FRAMEWORK: 'h3' }, about: 'h3 with the memory store' },
  { title: 'Hono (--framework hono) with the memory store', args: ['--framework', 'hono'], env: {}, about: 'Hono with the memory store' },
  {
    title: 'Fastify (--framework fastify) with the memory store',
    args: ['--framework', 'fastify'],
    env: {},
    about: 'Fastify with the memory store',
  },
  { title: 'Hono with Redis (REDIS_URL)', args: ['--framework', 'hono'], env: { REDIS_URL }, about: 'Hono with Redis at redis://' },
  { title: 'Koa with Redis (REDIS_URL)', args: ['--framework', 'koa'], env: { REDIS_URL }, about: 'Koa with Redis at redis://' },
  {
    title: 'h3 with PostgreSQL (DATABASE_URL)',
    args: ['--framework', 'h3'],
    env: { DATABASE_URL },
    about: 'h3 with PostgreSQL at postgres',
  },
  {
    title: 'Express with PostgreSQL (--store postgres)',
    args: ['--store', 'postgres'],
    env: { DATABASE_URL },
    about: 'Express with PostgreSQL at',
  },
];

describe.each(CASES)('$title', ({ args, env, about }) => {
  let demo: RunningDemo;
  const client = () => new Client(demo.url);
  beforeAll(async () => {
    demo = await startDemo(args, env);
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('serves a new visitor the page, titled once, with no cookie', async () => {
    const page = await client().get('/');
    expect(page.status).toBe(200);
    expect(page.text.match(/<title>[^<]*<\/title>/g)).toEqual(['<title>sess demo</title>']);
    expect(page.text).toContain(`Running on ${about}`);
    expect(page.text).toContain(SIGNED_OUT);
    expect(page.text).toContain('<code id="session-id">none</code>');
    // sess creates no session, and sends no cookie, for a visitor who stored nothing.
    expect(page.headers.getSetCookie()).toEqual([]);
  });

  it('gives the session a new id on sign-in, shows the old and the new, and the old id is dead', async () => {
    const browser = client();
    expect((await browser.post('/count')).status).toBe(303);
    const before = browser.sessionId;
    const beforeCookie = browser.cookies.get('sid') as string;
    const name = uniqueName();
    await browser.signIn(name);
    const after = browser.sessionId;
    expect(before).toBeDefined();
    expect(after).toBeDefined();
    expect(after).not.toBe(before);

    const page = (await browser.get('/')).text;
    expect(page).toContain(`was <code>${short(before)}</code>, now <code>${short(after)}</code>`);
    expect(page).toContain(`Signed in as <b id="user">${name}</b>`);
    expect(page).toContain('<b id="count">1</b>');
    expect(page).toContain(`<code id="session-id">${short(after)}</code>`);

    // Someone holding the pre-sign-in cookie (a planted one, say) gets an empty session.
    const planted = client();
    planted.cookies.set('sid', beforeCookie);
    const theirs = (await planted.get('/')).text;
    expect(theirs).toContain(SIGNED_OUT);
    expect(theirs).toContain('<b id="count">0</b>');
  });

  it("shows the cookie's attributes, the previous response's headers and the stored record", async () => {
    const browser = client();
    const name = uniqueName();
    await browser.signIn(name);
    const page = (await browser.get('/')).text;
    expect(page).toContain('From the <code>Set-Cookie</code> of the response to POST /sign-in');
    const attributes = { name: 'sid', HttpOnly: 'yes', SameSite: 'Lax', Secure: 'no', Path: '/', 'Max-Age': '86400 s' };
    for (const [attribute, value] of Object.entries(attributes)) expect(page).toContain(row(attribute, value));
    expect(page).toContain(row('request', 'POST /sign-in → 303'));
    expect(page).toMatch(/<tr><th>Vary<\/th><td class="value">[^<]*Cookie<\/td>/);
    expect(page).toContain(row('Cache-Control', 'private'));
    expect(page).toContain(`&quot;userId&quot;: &quot;${name}&quot;`);

    // The page itself set no cookie: the browser's was valid, so sess did not send it again.
    const next = (await browser.get('/')).text;
    expect(next).toContain(row('request', 'GET / → 200'));
    expect(next).toContain(row('Set-Cookie', 'none'));
    expect(next).toContain(row('Max-Age', '86400 s'));
  });

  it('lists the user\'s devices, and "sign out everywhere else" ends the other one', async () => {
    const [laptop, phone] = [client(), client()];
    const name = uniqueName();
    await laptop.signIn(name);
    await phone.signIn(name);

    const devices = (await laptop.get('/')).text;
    expect(deviceRows(devices)).toBe(2);
    expect(devices).toContain(`<tr class="current"><td><code>${short(laptop.sessionId)}</code> (this browser)</td>`);
    expect(devices).toContain(`<tr><td><code>${short(phone.sessionId)}</code></td>`);

    expect((await laptop.post('/devices/sign-out-others')).status).toBe(303);
    const after = (await laptop.get('/')).text;
    expect(after).toContain('Signed out 1 other session.');
    expect(after).toContain(`Signed in as <b id="user">${name}</b>`);
    expect(deviceRows(after)).toBe(1);
    expect((await phone.get('/')).text).toContain(SIGNED_OUT);
  });

  it('"sign out everywhere" ends every session of the user, this one and its cookie included', async () => {
    const [laptop, phone] = [client(), client()];
    const name = uniqueName();
    await laptop.signIn(name);
    await phone.signIn(name);
    const laptopCookie = laptop.cookies.get('sid') as string;

    const answer = await laptop.post('/devices/sign-out-everywhere');
    expect(answer.status).toBe(303);
    expect(answer.headers.getSetCookie().some((line) => /^sid=;/.test(line))).toBe(true);
    expect(laptop.cookies.has('sid')).toBe(false);
    expect((await laptop.get('/')).text).toContain(SIGNED_OUT);
    expect((await phone.get('/')).text).toContain(SIGNED_OUT);
    const replayed = client();
    replayed.cookies.set('sid', laptopCookie);
    expect((await replayed.get('/')).text).toContain(SIGNED_OUT);
  });

  it('answers an oversized form with 413, a malformed or empty one with 400 and another type with 415, never 500', async () => {
    const browser = client();
    const oversized = `name=${'a'.repeat(5000)}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await browser.request('POST', '/sign-in', { body: oversized, headers: form })).status).toBe(413);
    // Without Content-Length, the limit is found while reading.
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(oversized.slice(i * 500, (i + 1) * 500)));
        controller.close();
      },
    });
    const streamed = await browser.request('POST', '/sign-in', { body: chunked, headers: form });
    expect(streamed.status).toBe(413);
    expect(streamed.text).toContain('<title>Form too large · sess demo</title>');

    for (const body of [
      'name=%E0%A4%A',
      'name=',
      `name=${'a'.repeat(41)}`,
      'name=a%0Ab',
      new Uint8Array([...Buffer.from('name='), 0xff]),
    ]) {
      const answer = await browser.request('POST', '/sign-in', { body, headers: form });
      expect(answer.status, String(body)).toBe(400);
      expect(answer.text).toContain('<title>Bad request · sess demo</title>');
    }
    const json = await browser.request('POST', '/sign-in', { body: '{"name":"Ada"}', headers: { 'content-type': 'application/json' } });
    expect(json.status).toBe(415);
    expect(browser.cookies.size).toBe(0);
    expect((await browser.get('/no-such-page')).status).toBe(404);
    expect((await browser.get('/')).status).toBe(200);
  });

  it('escapes what the user typed', async () => {
    const browser = client();
    await browser.signIn('<script>alert("hi")</script>');
    const page = (await browser.get('/')).text;
    expect(page).toContain('Signed in as <b id="user">&lt;script&gt;alert(&quot;hi&quot;)&lt;/script&gt;</b>');
    expect(page).not.toContain('<script>');
  });

  it('tells whether the browser keeps cookies with the test cookie', async () => {
    const browser = client();
    const set = await browser.get('/cookies');
    expect(set.status).toBe(303);
    expect(set.headers.get('location')).toBe('/cookies/result');
    expect(browser.cookies.has('sid.test')).toBe(true);
    expect((await browser.get('/cookies/result')).text).toContain('Cookies enabled: <b id="cookies">yes</b>');
    // Its job done, the test cookie is deleted.
    expect(browser.cookies.has('sid.test')).toBe(false);

    expect((await client().get('/cookies/result')).text).toContain('Cookies enabled: <b id="cookies">no</b>');
  });

  it('stops on SIGTERM with exit code 0', async () => {
    expect(await demo.stop()).toBe(0);
  });
});

it('shares sessions through Redis between an Express process and a Koa process', async () => {
  const env = { REDIS_URL, SESSION_SECRET: randomBytes(32).toString('base64url') };
  const [express, koa] = await Promise.all([startDemo([], env), startDemo(['--framework', 'koa'], env)]);
  try {
    const browser = new Client(express.url);
    const name = uniqueName();
    await browser.signIn(name);
    const onKoa = new Client(koa.url);
    onKoa.cookies.set('sid', browser.cookies.get('sid') as string);
    const page = (await onKoa.get('/')).text;
    expect(page).toContain(`Signed in as <b id="user">${name}</b>`);
    // This process never set the cookie, and says so rather than guess its attributes.
    expect(page).toContain("This process has not set this session's cookie");

    expect((await onKoa.post('/sign-out')).status).toBe(303);
    expect((await browser.get('/')).text).toContain(SIGNED_OUT);
  } finally {
    expect(await express.stop()).toBe(0);
    expect(await koa.stop()).toBe(0);
  }
});

describe('start-up failures end the demo with one message and exit code 1', () => {
  it('Redis down: names REDIS_URL, and gives up instead of reconnecting forever', async () => {
    const { code, stderr, ms } = await runToExit([], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(code).toBe(1);
    expect(stderr).toBe('sess demo: cannot reach Redis at REDIS_URL=redis://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1\n');
    // tsx compiles the demo first; the connection attempt itself fails at once.
    expect(ms).toBeLessThan(10_000);
  });

  it('PostgreSQL down: names DATABASE_URL', async () => {
    const { code, stderr } = await runToExit([], { DATABASE_URL: 'postgres://postgres:secret@127.0.0.1:1/test' });
    expect(code).toBe(1);
    // The password stays out of the message.
    expect(stderr).toBe(
      'sess demo: cannot use PostgreSQL at DATABASE_URL=postgres://postgres:***@127.0.0.1:1/test: connect ECONNREFUSED 127.0.0.1:1\n',
    );
  });

  // Three demo starts in a row: a few seconds alone, more with a whole workspace's tests beside it.
  it('an unknown framework or store, or a store without its URL', { timeout: 120_000 }, async () => {
    expect(await runToExit(['--framework', 'express5'], {})).toMatchObject({
      code: 1,
      stderr: 'sess demo: unknown framework "express5": pick one of express, koa, h3, hono, fastify\n',
    });
    expect(await runToExit([], { STORE: 'mongo' })).toMatchObject({
      code: 1,
      stderr: 'sess demo: unknown store "mongo": pick one of memory, redis, postgres\n',
    });
    expect(await runToExit(['--store', 'redis'], {})).toMatchObject({
      code: 1,
      stderr: 'sess demo: --store redis needs REDIS_URL (for example REDIS_URL=redis://127.0.0.1:6379)\n',
    });
  });

  it('a SESSION_SECRET shorter than 32 bytes', async () => {
    expect(await runToExit([], { SESSION_SECRET: 'too short' })).toMatchObject({
      code: 1,
      stderr: `sess demo: SESSION_SECRET must be at least 32 bytes; make one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"\n`,
    });
  });
});
