/**
 * The demo's pages and what each form does, written once for every framework. A framework's
 * file (`frameworks/*.ts`) mounts sess, and for each route here hands over the request's session
 * and form, then sends the `Reply` back in its own way.
 */
import type { RequestListener } from 'node:http';
import { inspect } from 'node:util';
import { HttpError } from './form.js';
import { type Device, type HomeView, type Rotation, cookieCheckPage, homePage, messagePage, shortId } from './html.js';
import { type ResponseHeader, responseLog } from './responses.js';
import type { SessionStore } from './stores.js';

/** What the demo keeps in a session. The stores index sessions by `userId`, for "Your devices". */
export interface DemoData {
  userId: string;
  count: number;
}

/** The part of the session API the pages use: every sess adapter's session has it. */
export interface SessionApi {
  readonly id: string | undefined;
  regenerate(options: { keepData: boolean }): Promise<void>;
  destroy(): Promise<void>;
  flash(kind: string, message: unknown): void;
  takeFlash(kind?: string): unknown[];
  setTestCookie(): void;
  testCookieWorked(): boolean;
  deleteTestCookie(): void;
}

/** One request, as a framework hands it to a route. */
export interface Visit {
  readonly session: SessionApi;
  /** The session's data: `req.session` itself on Express, `ctx.session` on Koa, `session.data` on h3. */
  readonly data: Partial<DemoData>;
  /** Reads the posted form (see `readForm`). */
  readonly form: () => Promise<URLSearchParams>;
}

/** What a route answers: a page, or a redirect to one (every form post ends in one, so a reload never re-posts). */
export type Reply = { readonly status: number; readonly html: string } | { readonly status: 303; readonly location: string };

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  handle(visit: Visit): Promise<Reply>;
}

/** A framework: its name, and how it serves the demo (a Node request listener, so `server.ts` stays the same for all). */
export interface Framework {
  readonly name: string;
  app(options: { readonly secret: string; readonly store: SessionStore; readonly demo: Demo }): RequestListener | Promise<RequestListener>;
}

/** Every adapter's default cookie name; the demo keeps it. */
const COOKIE_NAME = 'sid';
const NAME_MAX = 40;

const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
const see = (location: string): Reply => ({ status: 303, location });

function nameFrom(form: URLSearchParams): string {
  const name = form.get('name')?.trim() ?? '';
  // Control characters have no business in a name (and a newline would break the log line).
  if (name === '' || name.length > NAME_MAX || /\p{Cc}/u.test(name)) {
    throw new HttpError(400, `A name of 1 to ${NAME_MAX} characters is needed to sign in.`);
  }
  return name;
}

/** The demo for one store; `about` names the framework and store on the page ("Express with the memory store"). */
export function createDemo(options: { readonly store: SessionStore; readonly about: string }) {
  const { store, about } = options;
  const sent = responseLog(COOKIE_NAME);

  // Memory, Redis and PostgreSQL stores index sessions by user; a store without an index has no sessionsOf.
  const devicesOf = async (userId: string): Promise<readonly Device[] | undefined> =>
    store.capabilities.userIndex === true ? await store.sessionsOf?.(userId) : undefined;

  async function home({ session, data }: Visit): Promise<Reply> {
    // Taking a flash removes it from the session: a reload won't show it again.
    const flashes = session.takeFlash('info').map(String);
    const [rotation] = session.takeFlash('rotated') as Rotation[];
    const { id } = session;
    const view: HomeView = {
      about,
      id,
      user: data.userId,
      count: data.count ?? 0,
      flashes,
      rotation,
      // Read before this response saves anything, so it is the record as the previous request left it.
      record: id === undefined ? undefined : await store.get(id),
      devices: data.userId === undefined ? undefined : await devicesOf(data.userId),
      trail: sent.lookup(id),
    };
    return { status: 200, html: homePage(view) };
  }

  async function signIn({ session, data, form }: Visit): Promise<Reply> {
    const name = nameFrom(await form());
    const was = session.id;
    // A new id at sign-in: an id someone planted in this browser beforehand (session fixation) is
    // worthless now. The count stays (Express's and Fastify's regenerate() would empty the session).
    await session.regenerate({ keepData: true });
    data.userId = name;
    session.flash('info', `Welcome, ${name}!`);
    const rotation: Rotation = { was: was && shortId(was), now: session.id && shortId(session.id) };
    session.flash('rotated', rotation);
    return see('/');
  }

  async function signOutOthers({ session, data }: Visit): Promise<Reply> {
    if (data.userId === undefined || session.id === undefined) return see('/');
    const revoked = (await store.revokeUser?.(data.userId, { except: session.id })) ?? 0;
    session.flash('info', `Signed out ${plural(revoked, 'other session')}.`);
    return see('/');
  }

  async function signOutEverywhere({ session, data }: Visit): Promise<Reply> {
    if (data.userId !== undefined) await store.revokeUser?.(data.userId);
    // The record is gone already; destroy() also deletes this browser's cookie.
    await session.destroy();
    return see('/');
  }

  async function signOut({ session }: Visit): Promise<Reply> {
    // The record goes now, the cookie with this response.
    await session.destroy();
    return see('/');
  }

  async function count({ data }: Visit): Promise<Reply> {
    data.count = (data.count ?? 0) + 1;
    return see('/');
  }

  // Django's test cookie: set it on one request, and see on the next whether the browser sent it back.
  async function checkCookies({ session }: Visit): Promise<Reply> {
    session.setTestCookie();
    return see('/cookies/result');
  }

  async function cookieCheckResult({ session }: Visit): Promise<Reply> {
    const worked = session.testCookieWorked();
    if (worked) session.deleteTestCookie();
    return { status: 200, html: cookieCheckPage(worked) };
  }

  const route = (method: Route['method'], path: string, handle: (visit: Visit) => Promise<Reply>): Route => ({
    method,
    path,
    handle: (visit) => handle(visit).catch(clientError),
  });
  const routes: readonly Route[] = [
    route('GET', '/', home),
    route('POST', '/sign-in', signIn),
    route('POST', '/sign-out', signOut),
    route('POST', '/count', count),
    route('POST', '/devices/sign-out-others', signOutOthers),
    route('POST', '/devices/sign-out-everywhere', signOutEverywhere),
    route('GET', '/cookies', checkCookies),
    route('GET', '/cookies/result', cookieCheckResult),
  ];

  return {
    routes,
    /** The route for a request, for frameworks without a router of their own (Koa). HEAD is answered as GET. */
    routeFor: (method: string, path: string) =>
      routes.find((candidate) => candidate.method === (method === 'HEAD' ? 'GET' : method) && candidate.path === path),
    notFound: (): Reply => ({ status: 404, html: messagePage('Not found', 'There is no page here.') }),
    /** The page for an error that reached the framework's error handling: a store failure (503) or the framework's own. */
    failure(error: unknown): { status: number; html: string } {
      const status = statusOf(error);
      // Deep enough to reach the store's own error, under sess's (and, on h3, under h3's too).
      if (status >= 500) console.error(inspect(error, { depth: 8 }));
      return status === 503
        ? { status, html: messagePage('Session store unavailable', 'The session store did not answer. Try again in a moment.') }
        : { status, html: messagePage('Something went wrong', status < 500 ? 'The request could not be served.' : 'Please try again.') };
    },
    /** Notes what a response of the session `id` carried, for the next page's "previous response" panel. */
    responded(id: string | undefined, method: string, path: string, status: number, header: ResponseHeader): void {
      // Only the demo's own pages: a browser's /favicon.ico 404 would hide the response worth showing.
      if (routes.some((candidate) => candidate.path === path)) sent.record(id, `${method} ${path}`, status, header);
    },
  };
}

export type Demo = ReturnType<typeof createDemo>;

/** Bad input is the client's mistake: a 4xx page, never an error for the framework. */
function clientError(error: unknown): Reply {
  if (!(error instanceof HttpError)) throw error;
  return { status: error.status, html: messagePage(error.status === 413 ? 'Form too large' : 'Bad request', error.message) };
}

/** sess's store errors carry `statusHint` (503); frameworks' own errors carry `status` or `statusCode`. */
function statusOf(error: unknown): number {
  const { statusHint, status, statusCode } = (error ?? {}) as { statusHint?: unknown; status?: unknown; statusCode?: unknown };
  const found = [statusHint, status, statusCode].find((value) => typeof value === 'number' && value >= 400 && value <= 599);
  return (found as number | undefined) ?? 500;
}
