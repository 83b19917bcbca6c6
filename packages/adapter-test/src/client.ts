/** Real HTTP: a server on a loopback port and a client that keeps cookies like a browser. */
import { Agent, createServer, get } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  readonly url: string;
  /**
   * Settles once every response the server has begun has closed and the event loop has turned
   * once more: by then a rejection or exception that a request's work left behind has reached the
   * process. An event to wait on where a test would otherwise sleep.
   */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** Serves a Node request listener on 127.0.0.1 and an ephemeral port. */
export function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Served> {
  let open = 0;
  const waiting: (() => void)[] = [];
  const closed = () => {
    open -= 1;
    if (open === 0) for (const resolve of waiting.splice(0)) setImmediate(resolve);
  };
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      open += 1;
      res.once('close', closed);
      handler(req, res);
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        idle: () => new Promise((done) => (open === 0 ? setImmediate(done) : waiting.push(done))),
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Headers;
  readonly setCookies: string[];
}

/** One browser: sends its jar, applies every Set-Cookie it gets back (Max-Age=0 deletes). */
export class Client {
  readonly jar = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Reply> {
    const headers = new Headers(init.headers);
    const cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    if (cookie !== '') headers.set('cookie', cookie);
    const response = await fetch(`${this.base}${path}`, { ...init, headers, redirect: 'manual' });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      const expired = attributes.some((attribute) => /^\s*max-age=0$/i.test(attribute));
      if (expired) this.jar.delete(name);
      else this.jar.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    return { status: response.status, body: await response.text(), headers: response.headers, setCookies };
  }

  post(path: string, headers: Record<string, string> = {}): Promise<Reply> {
    return this.request(path, { method: 'POST', headers });
  }
}

/** The Set-Cookie lines of a reply for one cookie name. */
export function cookiesNamed(reply: Reply, name: string): string[] {
  return reply.setCookies.filter((line) => line.startsWith(`${name}=`));
}

/**
 * The distinct answers to `count` GETs of `url` in turn over one kept-alive connection, each as
 * `status Connection body` (`body` read through `read`), or 'reset' when the connection died first.
 * An answer that leaves the connection open while the app may still destroy its socket (a failed
 * commit that cut the app's stream short) resets the next request sent on it.
 */
export async function keptAliveAnswers(url: string, count: number, read = (body: string) => body): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const one = () =>
    new Promise<string>((resolve) => {
      get(url, { agent }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => void (body += chunk));
        response.on('end', () => resolve(`${response.statusCode} ${response.headers.connection} ${read(body)}`));
        response.on('error', () => resolve('reset'));
      }).on('error', () => resolve('reset'));
    });
  try {
    const answers = new Set<string>();
    for (let i = 0; i < count; i++) answers.add(await one());
    return [...answers];
  } finally {
    agent.destroy();
  }
}

/** A body of 256 KiB in 16 chunks: more than a response buffers, so a pipe into it waits on the commit. */
export function* largeBody(): Generator<Buffer> {
  for (let i = 0; i < 16; i++) yield Buffer.alloc(16 * 1024, 'x');
}
