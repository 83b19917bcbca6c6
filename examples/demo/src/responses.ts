/**
 * What the server sent each session, kept in this process's memory so the next page can show it.
 * A page can't show the headers of its own response (sess sets them after the page is rendered),
 * and the browser never sends cookie attributes back, so this is the honest place to read them.
 */

/** Reads a response header as the framework holds it (`res.getHeader`, `ctx.response.get`, `headers.get`). */
export type ResponseHeader = (name: 'set-cookie' | 'vary' | 'cache-control') => string | string[] | number | null | undefined;

/** One response, as the "previous response" panel shows it. */
export interface Sent {
  /** `POST /sign-in` */
  readonly request: string;
  readonly status: number;
  /** The session cookie's Set-Cookie line, when this response set or deleted it. */
  readonly setCookie: string | undefined;
  readonly vary: string | undefined;
  readonly cacheControl: string | undefined;
}

/** What one session was sent: its last response, and the last one that set its cookie. */
export interface Trail {
  readonly previous: Sent;
  readonly cookie: { readonly line: string; readonly request: string } | undefined;
}

/** Sessions remembered; the oldest is forgotten first, so the log can't grow without bound. */
const MAX_SESSIONS = 1000;

export function responseLog(cookieName: string) {
  const trails = new Map<string, Trail>();
  const text = (value: string | string[] | number | null | undefined) => (value == null ? undefined : String(value));
  return {
    /** Notes a response of the session `id` (as sess verified it; nothing is noted without one). */
    record(id: string | undefined, request: string, status: number, header: ResponseHeader): void {
      if (id === undefined) return;
      // One Set-Cookie comes as a string or a list, depending on the framework.
      const setCookie = [header('set-cookie') ?? []].flat().map(String);
      const sent: Sent = {
        request,
        status,
        setCookie: setCookie.find((line) => line.startsWith(`${cookieName}=`)),
        vary: text(header('vary')),
        cacheControl: text(header('cache-control')),
      };
      // sess sends the cookie only when the browser lacks a valid one, so most responses carry
      // none: the attributes shown are those of the last response that did.
      const cookie = sent.setCookie === undefined ? trails.get(id)?.cookie : { line: sent.setCookie, request };
      trails.delete(id);
      trails.set(id, { previous: sent, cookie });
      if (trails.size > MAX_SESSIONS) trails.delete(trails.keys().next().value as string);
    },
    lookup(id: string | undefined): Trail | undefined {
      return id === undefined ? undefined : trails.get(id);
    },
  };
}
