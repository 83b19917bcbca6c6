/**
 * One benchmark server, run by `run.ts` as a child process: `server.ts <scenario id>`.
 * Listens on 127.0.0.1 port 0 and tells the parent its port over IPC; answers `cpu` messages
 * with its own `process.cpuUsage()` so the parent can charge CPU per request to the server
 * alone, and `queries` messages with the PostgreSQL queries its pool has sent. Exits when the
 * parent goes away, so no server outlives a run. With `SESS_BENCH_HEAP_PROFILE` set (`profile
 * --alloc`), it samples every allocation it makes and writes the profile there as it exits.
 */
import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HEAP_PROFILE_ENV, sampleAllocations } from './allocations.js';
import { scenarioById } from './scenarios.js';
import type { ParentMessage, Scenario, ServerMessage } from './scenarios.js';
import { Unavailable } from './servers/optional.js';
import { expressServer } from './servers/express.js';
import { koaServer } from './servers/koa.js';
import { h3Server } from './servers/h3.js';
import { fastifyServer } from './servers/fastify.js';
import { honoServer } from './servers/hono.js';
import { queryCount } from './servers/postgres.js';

function send(message: ServerMessage): void {
  process.send?.(message);
}

/** The parent sees failures as non-2xx responses; a few stacks on stderr say why. */
let errorsLogged = 0;
function onError(error: unknown): void {
  if (errorsLogged++ < 3) console.error(`[bench server ${process.argv[2]}]`, error);
}

function build(scenario: Scenario): Promise<RequestListener> {
  switch (scenario.framework) {
    case 'express':
      return expressServer(scenario, onError);
    case 'koa':
      return koaServer(scenario, onError);
    case 'h3':
      return h3Server(scenario, onError);
    case 'fastify':
      return fastifyServer(scenario, onError);
    case 'hono':
      return honoServer(scenario, onError);
  }
}

if (process.send === undefined) throw new Error('server.ts runs as a child of run.ts (it needs an IPC channel)');
const heapProfile = process.env[HEAP_PROFILE_ENV];
if (heapProfile !== undefined) sampleAllocations(heapProfile);
process.on('disconnect', () => process.exit(0));
process.on('message', (message: ParentMessage) => {
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    send({ type: 'cpu', id: message.id, micros: user + system });
  } else if (message.type === 'queries') send({ type: 'queries', id: message.id, count: queryCount() });
});

try {
  const listener = await build(scenarioById(process.argv[2] ?? ''));
  const server = createServer(listener);
  server.listen(0, '127.0.0.1', () => send({ type: 'ready', port: (server.address() as AddressInfo).port }));
} catch (error) {
  if (!(error instanceof Unavailable)) throw error;
  send({ type: 'unavailable', reason: error.message });
  process.disconnect();
}
