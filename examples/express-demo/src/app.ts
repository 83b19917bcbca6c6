/**
 * The sess demo: sign in (a new session id), a counter, a flash message, sign out (the record
 * and the cookie are gone) and a "cookies enabled?" check with the test cookie.
 */
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { session } from '@sess/express';
import type { Store } from '@sess/express';

declare module '@sess/express' {
  interface SessionData {
    user?: string;
    count?: number;
  }
}

export interface DemoOptions {
  readonly secret: string;
  readonly store?: Store;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => escapes[char] as string);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)} · sess demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
.flash{background:#e7f5e7;border:1px solid #9c9;padding:.5rem 1rem}form{display:inline}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
<nav><a href="/">Home</a> · <a href="/about">About</a> · <a href="/cookies">Are cookies enabled?</a></nav>
</body></html>`;
}

export function createApp(options: DemoOptions): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false, limit: '1kb' }));
  app.use(session({ secret: options.secret, ...(options.store === undefined ? {} : { store: options.store }) }));

  app.get('/', (req, res) => {
    // Read once: taking the flash removes it from the session.
    const [flash] = req.session.takeFlash('info') as string[];
    const user = req.session.user;
    const account =
      user === undefined
        ? `<p id="status">You are not signed in.</p>
<form method="post" action="/login"><label>Name <input name="name" required maxlength="40"></label> <button>Sign in</button></form>`
        : `<p id="status">Signed in as <b id="user">${escapeHtml(user)}</b>.</p>
<form method="post" action="/logout"><button>Sign out</button></form>`;
    res.send(
      page(
        'sess demo',
        `${flash === undefined ? '' : `<p class="flash" id="flash">${escapeHtml(flash)}</p>`}
${account}
<p>Counter: <b id="count">${req.session.count ?? 0}</b>
<form method="post" action="/count"><button>Add one</button></form></p>`,
      ),
    );
  });

  // A new id on sign-in: an id planted before it (session fixation) is dead afterwards.
  app.post('/login', async (req, res) => {
    const name = typeof req.body?.name === 'string' ? req.body.name.trim().slice(0, 40) : '';
    if (name === '') {
      res.status(400).send(page('Sign in', '<p>A name is required.</p>'));
      return;
    }
    await req.session.regenerate();
    req.session.user = name;
    req.session.flash('info', `Welcome, ${name}!`);
    res.redirect(303, '/');
  });

  app.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.redirect(303, '/');
  });

  app.post('/count', (req, res) => {
    req.session.count = (req.session.count ?? 0) + 1;
    res.redirect(303, '/');
  });

  app.get('/about', (req, res) => {
    const who = req.session.user === undefined ? 'nobody' : escapeHtml(req.session.user);
    res.send(
      page(
        'About',
        `<p>sess keeps the session on the server; the cookie holds only a signed id.</p><p>Signed in: <b id="who">${who}</b></p>`,
      ),
    );
  });

  // Django's test cookie: set it, then see whether the browser sends it back.
  app.get('/cookies', (req, res) => {
    req.session.setTestCookie();
    res.redirect(303, '/cookies/result');
  });

  app.get('/cookies/result', (req, res) => {
    const worked = req.session.testCookieWorked();
    if (worked) req.session.deleteTestCookie();
    res.send(page('Cookies', `<p>Cookies enabled: <b id="cookies">${worked ? 'yes' : 'no'}</b></p>`));
  });

  // A store failure reaches here as a SessStoreError with a status hint (503).
  app.use((error: { statusHint?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(error.statusHint ?? 500).send(page('Something went wrong', '<p>Please try again.</p>'));
  });

  return app;
}
