/** Both Fastify majors, and serving an app on a loopback port. */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import fastify4 from 'fastify4';

/**
 * Fastify 4 is installed under an alias for the version matrix. The tests use the part of its API
 * that Fastify 5 kept, so they see it through Fastify 5's types (where `request.session` is declared).
 */
export const MAJORS = [
  ['Fastify 5', Fastify],
  ['Fastify 4', fastify4 as unknown as typeof Fastify],
] as const;

export type FastifyFactory = (typeof MAJORS)[number][1];

/** Listens on 127.0.0.1 and an ephemeral port; `close` ends keep-alive connections too (`forceCloseConnections`). */
export async function serve(app: FastifyInstance): Promise<{ url: string; close(): Promise<void> }> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}
