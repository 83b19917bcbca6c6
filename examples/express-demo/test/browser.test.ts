/**
 * The demo in a real headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * session survives reloads and navigation, scripts can't see the HttpOnly session cookie, sign
 * in changes the id, sign out removes the cookie, and the test cookie works in a real browser.
 * With CI=true a missing Chromium fails the run instead of skipping (`.ci/run` installs it).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const available = existsSync(executablePath);
if (!available && process.env.CI === 'true') {
  throw new Error(`Chromium not found at ${executablePath}; .ci/run installs it (apt-get install chromium)`);
}

describe.skipIf(!available)(`the demo in headless Chromium${available ? '' : ` (skipped: no browser at ${executablePath})`}`, () => {
  let server: Server;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    server = createApp({ secret: 'browser-test-secret-at-least-32-bytes!' }).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  beforeEach(async () => {
    await context?.close();
    context = await browser.newContext();
    page = await context.newPage();
  });

  const sessionCookie = async () => (await context.cookies(base)).find((cookie) => cookie.name === 'sid');
  const text = (selector: string) => page.locator(selector).textContent();

  it('keeps the session across reloads and navigation, hides it from scripts, and sign-out removes it', async () => {
    await page.goto(`${base}/`);
    expect(await text('#status')).toContain('not signed in');
    expect(await sessionCookie()).toBeUndefined();

    await page.fill('input[name=name]', 'Ada');
    await Promise.all([page.waitForURL(`${base}/`), page.click('text=Sign in')]);
    expect(await text('#user')).toBe('Ada');
    expect(await text('#flash')).toBe('Welcome, Ada!');
    const signedIn = await sessionCookie();
    expect(signedIn).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
    expect(await page.evaluate<string>('document.cookie')).not.toContain('sid=');

    await page.reload();
    expect(await text('#user')).toBe('Ada');
    expect(await page.locator('#flash').count()).toBe(0);

    for (const expected of ['1', '2']) {
      await Promise.all([page.waitForURL(`${base}/`), page.click('text=Add one')]);
      expect(await text('#count')).toBe(expected);
    }
    await page.click('text=About');
    expect(await text('#who')).toBe('Ada');
    await page.goBack();
    await page.reload();
    expect(await text('#count')).toBe('2');
    expect((await sessionCookie())?.value).toBe(signedIn?.value);

    await Promise.all([page.waitForURL(`${base}/`), page.click('text=Sign out')]);
    expect(await sessionCookie()).toBeUndefined();
    expect(await text('#status')).toContain('not signed in');
    expect(await text('#count')).toBe('0');
  });

  it('gives a new session id on sign-in, so an id held before it is dead', async () => {
    await page.goto(`${base}/`);
    await Promise.all([page.waitForURL(`${base}/`), page.click('text=Add one')]);
    const before = await sessionCookie();
    expect(before).toBeDefined();

    await page.fill('input[name=name]', 'Grace');
    await Promise.all([page.waitForURL(`${base}/`), page.click('text=Sign in')]);
    const after = await sessionCookie();
    expect(after?.value).not.toBe(before?.value);
    expect(await text('#count')).toBe('1');

    // Replaying the pre-sign-in cookie gets an empty session.
    await context.addCookies([{ name: 'sid', value: before?.value as string, url: base }]);
    await page.reload();
    expect(await text('#status')).toContain('not signed in');
    expect(await text('#count')).toBe('0');
  });

  it('reports cookies as enabled through the test cookie, then deletes it', async () => {
    await page.goto(`${base}/cookies`);
    expect(page.url()).toBe(`${base}/cookies/result`);
    expect(await text('#cookies')).toBe('yes');
    expect((await context.cookies(base)).map((cookie) => cookie.name)).not.toContain('sid.test');
  });
});
