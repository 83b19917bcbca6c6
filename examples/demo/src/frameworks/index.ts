/**
 * The frameworks the demo runs on, by the name `--framework` takes. Adding one is a file like
 * `koa.ts` (mount sess, hand each of `demo.routes` the session and form, send the reply) and a
 * line here.
 */
import type { Framework } from '../demo.js';
import { expressFramework } from './express.js';
import { fastifyFramework } from './fastify.js';
import { h3Framework } from './h3.js';
import { honoFramework } from './hono.js';
import { koaFramework } from './koa.js';

export const frameworks = {
  express: expressFramework,
  koa: koaFramework,
  h3: h3Framework,
  hono: honoFramework,
  fastify: fastifyFramework,
} as const satisfies Record<string, Framework>;

export type FrameworkName = keyof typeof frameworks;
