/**
 * The bench's own redis-server, on a free port, so other Redis users on the machine neither
 * slow the Redis scenarios nor add to their command counts. It runs on the client core: the
 * server core belongs to the Node server being measured.
 */
import type { ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { CLIENT_CORE, hasCommand, start } from './children.js';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function connect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolve(socket)).once('error', reject);
  });
}

/** Sends one inline command and waits for the first reply line. */
async function command(port: number, line: string): Promise<string> {
  const socket = await connect(port);
  try {
    return await new Promise((resolve, reject) => {
      let reply = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        reply += chunk;
        if (reply.includes('\r\n')) resolve(reply.slice(0, reply.indexOf('\r\n')));
      });
      socket.once('error', reject);
      socket.write(`${line}\r\n`);
    });
  } finally {
    socket.destroy();
  }
}

/** Starts redis-server without persistence; `unavailable` when it is not installed or will not start. */
export async function startRedis(): Promise<RedisServer | { readonly unavailable: string }> {
  if (!hasCommand('redis-server')) return { unavailable: 'redis-server is not installed' };
  const port = await freePort();
  const child: ChildProcess = start(
    CLIENT_CORE,
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return { unavailable: `redis-server exited with ${child.exitCode}` };
    try {
      if ((await command(port, 'PING')) === '+PONG') return { url: `redis://127.0.0.1:${port}`, port, stop: () => child.kill('SIGKILL') };
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  return { unavailable: 'redis-server did not answer PING within 10 s' };
}

export interface CommandCount {
  /** Commands clients sent, each one round trip (the bench never pipelines them). */
  readonly total: number;
  /** By command name, e.g. `{ GET: 100, EXPIRE: 100 }`. */
  readonly byCommand: Readonly<Record<string, number>>;
}

/**
 * Counts the commands clients send while `work` runs, with MONITOR. Not `INFO commandstats`:
 * Redis 7 counts the commands a Lua script runs there too, so one EVALSHA round trip that runs
 * HSET and PEXPIRE would count as three. MONITOR tags script commands `[0 lua]`; they are skipped.
 */
export async function countCommands(port: number, work: () => Promise<void>): Promise<CommandCount> {
  const socket = await connect(port);
  const byCommand: Record<string, number> = {};
  let buffered = '';
  let total = 0;
  let ready: () => void = () => undefined;
  const monitoring = new Promise<void>((resolve) => (ready = resolve));
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\r\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (line === '+OK') ready();
      // +1700000000.123456 [0 127.0.0.1:51234] "GET" "key"
      const match = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (match === null || match[1] === 'lua') continue;
      const name = match[2]!.toUpperCase();
      byCommand[name] = (byCommand[name] ?? 0) + 1;
      total++;
    }
  });
  try {
    socket.write('MONITOR\r\n');
    await monitoring;
    await work();
    // MONITOR lines are sent as Redis runs the commands; give the last ones time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { total, byCommand };
  } finally {
    socket.destroy();
  }
}
