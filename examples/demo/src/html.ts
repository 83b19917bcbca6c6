/**
 * The demo's HTML, as plain template strings. Everything that comes from a request, a header or
 * the store goes through `escapeHtml` on its way in.
 */
import type { Trail } from './responses.js';

/** The id before and after sign-in, shortened, as the sign-in left them in a flash. */
export interface Rotation {
  readonly was: string | undefined;
  readonly now: string | undefined;
}

/** One session of the signed-in user, as the store's `sessionsOf` lists it (times in epoch ms). */
export interface Device {
  readonly id: string;
  readonly createdAt: number;
  readonly touchedAt: number;
  readonly expiresAt: number;
}

export interface HomeView {
  /** "Express with the memory store" */
  readonly about: string;
  readonly id: string | undefined;
  readonly user: string | undefined;
  readonly count: number;
  readonly flashes: readonly string[];
  readonly rotation: Rotation | undefined;
  /** What `store.get(id)` returned. */
  readonly record: unknown;
  /** Undefined when signed out, or when the store keeps no user index. */
  readonly devices: readonly Device[] | undefined;
  readonly trail: Trail | undefined;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char] as string);

/** Enough of an id to tell sessions apart: ids are secrets, so pages never show one whole. */
export const shortId = (id: string) => `${id.slice(0, 8)}…`;
const short = (id: string) => escapeHtml(shortId(id));
const time = (ms: number) => `${new Date(ms).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
const button = (action: string, label: string) => `<form method="post" action="${action}"><button>${label}</button></form>`;

/** `title` is the page's own; the site name is added once, here. */
function layout(title: string | undefined, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title === undefined ? 'sess demo' : `${escapeHtml(title)} · sess demo`}</title>
<link rel="icon" href="data:,">
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}
section{border-top:1px solid #ddd;margin-top:1.5rem}form{display:inline-block;margin:.25rem .5rem .25rem 0}
.flash{background:#e7f5e7;border:1px solid #9c9;padding:.5rem 1rem}.notice{background:#eef3fb;border:1px solid #9ac;padding:.5rem 1rem}
.note{color:#555;font-size:.9rem}table{border-collapse:collapse;font-size:.9rem}th,td{text-align:left;padding:.2rem .6rem .2rem 0;vertical-align:top}
td.why{color:#555}td.value{white-space:nowrap}pre{background:#f6f6f6;padding:.75rem;overflow:auto;font-size:.85rem}
</style></head>
<body>
<h1>${escapeHtml(title ?? 'sess demo')}</h1>
${body}
</body></html>`;
}

export function messagePage(title: string, message: string): string {
  return layout(title, `<p id="message">${escapeHtml(message)}</p>\n<p><a href="/">Back to the demo</a></p>`);
}

export function cookieCheckPage(worked: boolean): string {
  const answer = worked
    ? 'yes: the test cookie set on the previous response came back, so sign-in will work here (and it has been deleted again)'
    : 'no: the test cookie set on the previous response did not come back, so this browser refuses cookies and sign-in cannot work';
  return layout(
    'Cookie check',
    `<p>Cookies enabled: <b id="cookies">${worked ? 'yes' : 'no'}</b> (${answer}).</p>\n<p><a href="/">Back to the demo</a></p>`,
  );
}

export function homePage(view: HomeView): string {
  const flashes = view.flashes.map((message) => `<p class="flash">${escapeHtml(message)}</p>`).join('\n');
  return layout(
    undefined,
    [
      `<p class="note">Running on ${escapeHtml(view.about)}.</p>`,
      `<div id="flash">${flashes}</div>`,
      view.rotation === undefined ? '' : rotationNotice(view.rotation),
      accountSection(view.user),
      counterSection(view.count),
      view.user === undefined ? '' : devicesSection(view.user, view.devices, view.id),
      underTheHood(view),
      EXPLAINERS,
    ].join('\n'),
  );
}

function accountSection(user: string | undefined): string {
  if (user !== undefined)
    return `<section><h2>You</h2>\n<p id="status">Signed in as <b id="user">${escapeHtml(user)}</b>.</p>\n${button('/sign-out', 'Sign out')}</section>`;
  return `<section><h2>You</h2>
<p id="status">You are not signed in.</p>
<form method="post" action="/sign-in"><label>Name <input name="name" required maxlength="40" autocomplete="username"></label> <button>Sign in</button></form>
<p class="note">No password: any name will do. Sign in with the same name in a second browser to see two devices below.</p>
</section>`;
}

function counterSection(count: number): string {
  return `<section><h2>Counter</h2>
<p>Count: <b id="count">${count}</b> ${button('/count', 'Add one')}</p>
<p class="note">The count lives in the session on the server; the cookie carries only the session id.</p>
</section>`;
}

function underTheHood({ id, trail, record }: HomeView): string {
  const shownId =
    id === undefined
      ? '<code id="session-id">none</code> <span class="note">(sess creates a session, and sends a cookie, only once something is stored in it)</span>'
      : `<code id="session-id">${short(id)}</code>`;
  return `<section id="under-the-hood"><h2>Under the hood</h2>
<p>Session id: ${shownId}</p>
<h3>The cookie</h3>
${cookieTable(id, trail)}
<h3>The previous response</h3>
${previousTable(trail)}
<h3>What the store holds</h3>
${recordBlock(id, record)}
</section>`;
}

const EXPLAINERS = `<section><h2>Flash messages and the test cookie</h2>
<p><b>Flash messages</b> (like "Welcome") wait in the session for exactly one later page, which takes them out as it shows them, so a reload shows them no more.</p>
<p><b>The test cookie</b> answers "does this browser keep cookies?": sess sets a separate <code>sid.test</code> cookie on one response and checks that the next request brings it back. <a href="/cookies">Check this browser</a>.</p>
</section>`;

function rotationNotice({ was, now }: Rotation): string {
  const before = was === undefined ? 'none (this browser had no session yet)' : `<code>${escapeHtml(was)}</code>`;
  return `<p class="notice" id="rotated">Signing in gave your session a new id: was ${before}, now <code>${escapeHtml(now ?? 'none')}</code>.
An id planted in this browser before sign-in (session fixation) now leads nowhere.</p>`;
}

function devicesSection(user: string, devices: readonly Device[] | undefined, current: string | undefined): string {
  if (devices === undefined)
    return `<section id="devices"><h2>Your devices</h2><p>This store keeps no index of sessions by user.</p></section>`;
  const rows = devices.map(
    (device) =>
      `<tr${device.id === current ? ' class="current"' : ''}><td><code>${short(device.id)}</code>${device.id === current ? ' (this browser)' : ''}</td>` +
      `<td>${time(device.createdAt)}</td><td>${time(device.touchedAt)}</td><td>${time(device.expiresAt)}</td></tr>`,
  );
  return `<section id="devices"><h2>Your devices</h2>
<p>Every session signed in as ${escapeHtml(user)}, as the store's user index lists them (<code>store.sessionsOf(userId)</code>).</p>
<table><thead><tr><th>session</th><th>started</th><th>last saved</th><th>expires</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
<p>${button('/devices/sign-out-others', 'Sign out everywhere else')} ${button('/devices/sign-out-everywhere', 'Sign out everywhere')}</p>
<p class="note">Both end sessions in the store (<code>store.revokeUser(userId, { except })</code>): the other browsers are signed out on their next request.</p>
</section>`;
}

/** A Set-Cookie line's attributes, by lower-cased name ('' for flags such as HttpOnly). */
function attributesOf(line: string): { name: string; value: string; attributes: Map<string, string> } {
  const [pair = '', ...rest] = line.split(';').map((part) => part.trim());
  const split = (part: string): [string, string] => {
    const equals = part.indexOf('=');
    return equals === -1 ? [part, ''] : [part.slice(0, equals), part.slice(equals + 1)];
  };
  const [name, value] = split(pair);
  return { name, value, attributes: new Map(rest.map((part) => split(part)).map(([key, text]) => [key.toLowerCase(), text])) };
}

/** A row of the cookie and previous-response tables: what, its value, and why it matters. */
const row = (label: string, shown: string, why: string) =>
  `<tr><th>${label}</th><td class="value">${escapeHtml(shown)}</td><td class="why">${escapeHtml(why)}</td></tr>`;

function cookieTable(id: string | undefined, trail: Trail | undefined): string {
  if (id === undefined) return '<p id="cookie">No session, so no session cookie.</p>';
  if (trail?.cookie === undefined) {
    return '<p id="cookie">This process has not set this session\'s cookie: it was set before a restart, or by another process sharing the store.</p>';
  }
  const { name, value, attributes } = attributesOf(trail.cookie.line);
  const maxAge = attributes.get('max-age');
  const expires = attributes.get('expires');
  return `<p class="note">From the <code>Set-Cookie</code> of the response to ${escapeHtml(trail.cookie.request)}: the browser never sends the attributes back, so the server noted them.</p>
<table id="cookie">
${row('name', name, "every sess adapter's default")}
${row('value', `${value.slice(0, 8)}…`, 'the session id and its HMAC-SHA256 signature: a forged or altered value is refused')}
${row('HttpOnly', attributes.has('httponly') ? 'yes' : 'no', "page scripts can't read the cookie, so an injected script can't steal it")}
${row('SameSite', attributes.get('samesite') ?? 'not set', 'Lax: not sent on cross-site form posts, the usual way to forge a request')}
${row('Secure', attributes.has('secure') ? 'yes' : 'no', 'sess marks the cookie Secure exactly when the request came over HTTPS')}
${row('Path', attributes.get('path') ?? 'not set', 'the whole site')}
${maxAge === undefined ? '' : row('Max-Age', `${maxAge} s`, 'the browser drops it then; the record in the store expires with it')}
${expires === undefined ? '' : row('Expires', expires, 'the same instant, for browsers that predate Max-Age')}
</table>`;
}

function previousTable(trail: Trail | undefined): string {
  if (trail === undefined) return '<p id="previous">This process has not answered this session before.</p>';
  const { request, status, setCookie, vary, cacheControl } = trail.previous;
  return `<table id="previous">
${row('request', `${request} → ${status}`, '')}
${row(
  'Set-Cookie',
  setCookie === undefined ? 'none' : 'yes (above)',
  setCookie === undefined
    ? "the browser already held a valid cookie, so sess didn't send it again"
    : 'a new or changed session id, or a deleted session',
)}
${row('Vary', vary ?? 'none', 'Cookie: the response depends on the session, so a shared cache must not hand it to anyone else')}
${row('Cache-Control', cacheControl ?? 'none', 'private: a response that sets the session cookie must not be stored by shared caches')}
</table>`;
}

function recordBlock(id: string | undefined, record: unknown): string {
  if (id === undefined) return '<p id="record">No session, so nothing in the store.</p>';
  if (record === undefined) return '<p id="record">Nothing yet: the store gets a record when the session is first saved.</p>';
  return `<p class="note"><code>store.get(id)</code>, read before this page's own changes are saved (times are epoch ms):</p>
<pre id="record">${escapeHtml(JSON.stringify(record, null, 2))}</pre>`;
}
