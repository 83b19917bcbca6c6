/**
 * Requests `fetch` refuses to send: a Cookie header with CR, LF, NUL or non-ASCII bytes, or one
 * larger than Node's parser accepts. Written byte for byte on a fresh TCP connection, so a case
 * sees exactly what the server answered, or that it closed the connection.
 */
import { Agent, request } from 'node:http';
import { connect } from 'node:net';

export interface RawReply {
  /** The status code, or 0 when the server closed the connection without answering. */
  readonly status: number;
  readonly headers: readonly string[];
  readonly body: string;
}

/** The Set-Cookie lines of a raw reply for one cookie name. */
export function rawCookiesNamed(reply: RawReply, name: string): string[] {
  return reply.headers
    .filter((line) => /^set-cookie:/i.test(line))
    .map((line) => line.slice(line.indexOf(':') + 1).trim())
    .filter((line) => line.startsWith(`${name}=`));
}

/**
 * Sends `GET path` (or `options.method`) with `cookie` as the Cookie header's bytes (latin1: each char one byte) and
 * `Connection: close`; resolves with the answer once the server closes, or rejects after
 * `deadlineMs` (a hang is a failure, not a wait).
 */
export function rawRequest(
  url: string,
  path: string,
  cookie: string | undefined,
  options: { method?: string; deadlineMs?: number } = {},
): Promise<RawReply> {
  const { method = 'GET', deadlineMs = 5_000 } = options;
  const { hostname, port } = new URL(url);
  const head = `${method} ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n${cookie === undefined ? '' : `Cookie: ${cookie}\r\n`}Connection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${method} ${path} within ${deadlineMs} ms`));
    }, deadlineMs);
    // The server may answer 431 and close while a large header is still being written: the
    // write then fails (EPIPE/ECONNRESET), and what was read so far is the answer.
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('latin1')));
    });
    socket.end(Buffer.from(head, 'latin1'));
  });
}

function parse(text: string): RawReply {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...headers] = (split === -1 ? text : text.slice(0, split)).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  let body = split === -1 ? '' : text.slice(split + 4);
  if (headers.some((line) => /^transfer-encoding:\s*chunked/i.test(line))) body = unchunk(body);
  return { status: status === undefined ? 0 : Number(status), headers, body };
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    if (eol === -1) return out;
    const size = Number.parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += text.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/**
 * Sends `count` GETs of `path`, each with the Cookie header `cookieFor(i)`, over `concurrency`
 * keep-alive connections; resolves with how many answers had each status.
 */
export async function flood(
  url: string,
  path: string,
  count: number,
  cookieFor: (index: number) => string,
  concurrency = 32,
): Promise<Map<number, number>> {
  const { hostname, port } = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = new Map<number, number>();
  let next = 0;
  const one = (index: number) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: hostname, port, path, agent, headers: { cookie: cookieFor(index) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async () => {
    while (next < count) {
      const status = await one(next++);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}
