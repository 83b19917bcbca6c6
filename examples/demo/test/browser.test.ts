/**
 * The demo in a real headless Chromium (Debian's `chromium`, driven by playwright-core), on
 * Express, Koa and h3: sign-in rotates the id, the page shows the cookie attributes Chromium
 * actually stored, scripts can't see the HttpOnly cookie, and two browser contexts signed in as
 * one user are two devices, where "sign out everywhere else" on one signs the other out.
 * With CI=true a missing Chromium fails the run instead of skipping (`.ci/run` installs it).
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from '@sess/store-memory';
import { createDemo } from '../src/demo.js';
import { type FrameworkName, frameworks } from '../src/frameworks/index.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(executablePath);
if (!available && process.env.CI === 'true') {
  throw new Error(`Chromium not found at ${executablePath}; .ci/run installs it (apt-get install chromium)`);
}

/** Serves the demo on `name` with a memory store of its own, on a free port. */
async function serve(name: FrameworkName): Promise<{ base: string; server: Server }> {
  const store = memoryStore();
  const framework = frameworks[name];
  const demo = createDemo({ store, about: `${framework.name} with the memory store` });
  const server = createServer(await framework.app({ secret: 'browser-test-secret-at-least-32-bytes!', store, demo }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The shortened id the page shows for a `sid` cookie value (`<id>.<signature>`). */
const short = (cookie: string | undefined) => `${cookie?.split('.')[0]?.slice(0, 8)}…`;
const text = async (page: Page, selector: string) => (await page.locator(selector).textContent())?.trim();
/** The value cell of the row headed `header` in the table `table`. */
const cell = (page: Page, table: string, header: string) =>
  page
    .locator(`${table} tr`)
    .filter({ has: page.locator('th', { hasText: new RegExp(`^${header}$`) }) })
    .locator('td')
    .first()
    .textContent();

/** Clicks a form's button and waits for the page the post redirects to. */
async function press(page: Page, button: string): Promise<void> {
  const loaded = page.waitForEvent('load');
  await page.getByRole('button', { name: button, exact: true }).click();
  await loaded;
}

describe.skipIf(!available)(`the demo in headless Chromium${available ? '' : ` (skipped: no browser at ${executablePath})`}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      // Without the background-networking flags Chromium keeps dialling Google on a closed network.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(['express', 'koa', 'h3', 'hono', 'fastify'] as const)('on %s', (name) => {
    let base: string;
    let server: Server;
    const contexts: BrowserContext[] = [];
    beforeAll(async () => {
      ({ base, server } = await serve(name));
    });
    afterAll(async () => {
      await new Promise((resolve) => server?.close(resolve));
    });
    afterEach(async () => {
      await Promise.all(contexts.splice(0).map((context) => context.close()));
    });

    /** A fresh browser profile (its own cookies): one device. */
    async function device(): Promise<Page> {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${base}/`);
      return page;
    }
    const sid = async (page: Page) => (await page.context().cookies(base)).find((cookie) => cookie.name === 'sid');
    async function signIn(page: Page, user: string): Promise<void> {
      await page.getByLabel('Name').fill(user);
      await press(page, 'Sign in');
    }

    it('rotates the id on sign-in, shows the cookie Chromium stored, hides it from scripts, and signs out', async () => {
      const page = await device();
      expect(await page.title()).toBe('sess demo');
      expect(await text(page, '#status')).toBe('You are not signed in.');
      expect(await sid(page)).toBeUndefined();

      await press(page, 'Add one');
      expect(await text(page, '#count')).toBe('1');
      const before = (await sid(page))?.value;
      expect(await text(page, '#session-id')).toBe(short(before));

      await signIn(page, 'Ada');
      const cookie = await sid(page);
      expect(cookie?.value).not.toBe(before);
      expect(await text(page, '#user')).toBe('Ada');
      expect(await text(page, '#flash')).toBe('Welcome, Ada!');
      expect(await text(page, '#rotated')).toContain(`was ${short(before)}, now ${short(cookie?.value)}`);
      expect(await text(page, '#count')).toBe('1');

      // What the page says the server sent is what Chromium kept.
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
      expect(await cell(page, '#cookie', 'HttpOnly')).toBe('yes');
      expect(await cell(page, '#cookie', 'SameSite')).toBe('Lax');
      expect(await cell(page, '#cookie', 'Secure')).toBe('no');
      expect(await cell(page, '#cookie', 'Path')).toBe('/');
      expect(await cell(page, '#cookie', 'Max-Age')).toBe('86400 s');
      expect((cookie?.expires ?? 0) - Date.now() / 1000).toBeGreaterThan(86400 - 60);
      expect(await cell(page, '#previous', 'request')).toBe('POST /sign-in → 303');
      expect(await page.evaluate<string>('document.cookie')).not.toContain('sid=');

      await page.reload();
      expect(await page.locator('#flash .flash').count()).toBe(0);
      expect(await cell(page, '#previous', 'request')).toBe('GET / → 200');
      expect(await cell(page, '#previous', 'Set-Cookie')).toBe('none');
      expect((await sid(page))?.value).toBe(cookie?.value);

      await press(page, 'Sign out');
      expect(await sid(page)).toBeUndefined();
      expect(await text(page, '#status')).toBe('You are not signed in.');
      expect(await text(page, '#count')).toBe('0');
    });

    it('two browsers signed in as one user are two devices; "sign out everywhere else" signs the other out', async () => {
      const user = `user-${randomUUID().slice(0, 8)}`;
      const [laptop, phone] = [await device(), await device()];
      await signIn(laptop, user);
      await signIn(phone, user);

      await laptop.reload();
      expect(await laptop.locator('#devices tbody tr').count()).toBe(2);
      expect(await text(laptop, '#devices tr.current')).toContain(`${short((await sid(laptop))?.value)} (this browser)`);
      expect(await text(laptop, '#devices')).toContain(short((await sid(phone))?.value));

      await press(laptop, 'Sign out everywhere else');
      expect(await text(laptop, '#flash')).toBe('Signed out 1 other session.');
      expect(await laptop.locator('#devices tbody tr').count()).toBe(1);
      expect(await text(laptop, '#user')).toBe(user);

      await phone.reload();
      expect(await text(phone, '#status')).toBe('You are not signed in.');
    });

    it('"sign out everywhere" signs out every device, this one included', async () => {
      const user = `user-${randomUUID().slice(0, 8)}`;
      const [laptop, phone] = [await device(), await device()];
      await signIn(laptop, user);
      await signIn(phone, user);

      await press(phone, 'Sign out everywhere');
      expect(await text(phone, '#status')).toBe('You are not signed in.');
      expect(await sid(phone)).toBeUndefined();
      await laptop.reload();
      expect(await text(laptop, '#status')).toBe('You are not signed in.');
    });

    it('the test cookie says cookies work, then is deleted', async () => {
      const page = await device();
      await page.goto(`${base}/cookies`);
      expect(page.url()).toBe(`${base}/cookies/result`);
      expect(await text(page, '#cookies')).toBe('yes');
      expect((await page.context().cookies(base)).map((cookie) => cookie.name)).not.toContain('sid.test');
    });
  });
});
