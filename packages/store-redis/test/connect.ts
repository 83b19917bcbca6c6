/**
 * Real clients of every supported library and major, against the standalone server or the test
 * cluster, plus a random key prefix per run so runs sharing a Redis never collide.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import { Cluster as IoCluster6, Redis as IoRedis6 } from 'ioredis';
import { Cluster as IoCluster5, Redis as IoRedis5 } from 'ioredis5';
import { createClient as createClient6, createCluster as createCluster6 } from 'redis';
import { createClient as createClient5, createCluster as createCluster5 } from 'redis5';
import { type RedisCommands, type RedisStore, type RedisStoreOptions, redisStore } from '../src/index.js';
import type { Script } from '../src/scripts.js';

export const LIBRARIES = ['node-redis 6', 'node-redis 5', 'ioredis 6', 'ioredis 5'] as const;
export const TOPOLOGIES = ['standalone', 'cluster'] as const;
export type Library = (typeof LIBRARIES)[number];
export type Topology = (typeof TOPOLOGIES)[number];

/** A prefix for this test file's run: random, so concurrent runs and files never share keys. */
export function testPrefix(label: string): string {
  return `sess-test:${label}:${randomUUID()}:`;
}

export interface Connected {
  /** The client object the store is given. */
  readonly client: object;
  /** Sends a raw command to the node holding `key` (for assertions such as PTTL). */
  command(key: string, args: readonly string[]): Promise<unknown>;
  quit(): Promise<void>;
}

/**
 * `RedisCommands` over `redis` whose commands `holds` picks wait: `atHold` resolves when one is
 * sent, and it goes on to Redis only once `release` is called. Every other command passes
 * straight through. Tests force an ordering with it rather than hope for one.
 */
function holdingCommands(redis: Connected, topology: Topology, holds: (key: string, args: readonly string[]) => boolean) {
  let reached!: () => void;
  let release!: () => void;
  const atHold = new Promise<void>((resolve) => (reached = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  const commands: RedisCommands = {
    async send(key, args) {
      if (holds(key, args)) {
        reached();
        await released;
      }
      return redis.command(key, args);
    },
    nodes: async () => [],
    isReady: () => true,
    cluster: topology === 'cluster',
  };
  return { commands, atHold, release };
}

/** Whether `args` runs `script`, by its SHA1 or by its source. */
export function runs(script: Script, args: readonly string[]): boolean {
  return (args[0] === 'EVALSHA' && args[1] === script.sha1) || (args[0] === 'EVAL' && args[1] === script.source);
}

/** Why `service` cannot be used here, or undefined when it can. */
export function unavailable(service: Topology | 'binaries'): string | undefined {
  const provided = inject(service);
  return provided.ok ? undefined : provided.reason;
}

/** `describe` that skips, with the reason in its title, when the service it needs is missing. */
export function describeOn(topology: Topology | 'binaries', title: string, body: () => void): void {
  const reason = unavailable(topology);
  if (reason === undefined) describe(title, body);
  else describe.skip(`${title} (skipped: ${reason})`, body);
}

function standaloneUrl(): string {
  const service = inject('standalone');
  if (!service.ok) throw new Error(service.reason);
  return service.value;
}

function clusterPorts(): readonly number[] {
  const service = inject('cluster');
  if (!service.ok) throw new Error(service.reason);
  return service.value;
}

/**
 * Connects `library` to the standalone server at `url` and waits until it is ready; with
 * `recommended`, using the client settings the README recommends (no offline queue).
 */
export async function connectUrl(library: Library, url: string, recommended = false): Promise<Connected> {
  if (library.startsWith('node-redis')) {
    const options = { url, ...(recommended ? { disableOfflineQueue: true } : {}) };
    const client = library === 'node-redis 6' ? createClient6(options) : createClient5(options);
    // node-redis throws an 'error' event nobody listens to; the outage test causes them on purpose.
    client.on('error', () => undefined);
    await client.connect();
    return { client, command: (_key, args) => client.sendCommand([...args]), quit: async () => void client.destroy() };
  }
  const options = { lazyConnect: true, ...(recommended ? { enableOfflineQueue: false } : {}) };
  const client = library === 'ioredis 6' ? new IoRedis6(url, options) : new IoRedis5(url, options);
  client.on('error', () => undefined);
  await client.connect();
  return { client, command: (_key, args) => client.call(args[0] as string, ...args.slice(1)), quit: async () => client.disconnect() };
}

/** Connects `library` to `topology` and waits until it is ready. */
export async function connect(library: Library, topology: Topology): Promise<Connected> {
  if (topology === 'standalone') return connectUrl(library, standaloneUrl());
  const rootNodes = clusterPorts().map((port) => ({ host: '127.0.0.1', port }));
  if (library.startsWith('node-redis')) {
    const options = { rootNodes: rootNodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })) };
    const cluster = library === 'node-redis 6' ? createCluster6(options) : createCluster5(options);
    cluster.on('error', () => undefined);
    await cluster.connect();
    return {
      client: cluster,
      command: (key, args) => cluster.sendCommand(key, false, [...args]),
      quit: async () => void (await cluster.close()),
    };
  }
  const cluster =
    library === 'ioredis 6' ? new IoCluster6(rootNodes, { lazyConnect: true }) : new IoCluster5(rootNodes, { lazyConnect: true });
  await cluster.connect();
  return {
    client: cluster,
    command: (_key, args) => cluster.call(args[0] as string, ...args.slice(1)),
    quit: async () => void (await cluster.quit()),
  };
}

/** What a `describeOnEveryClient` body gets: one library's client on one topology, and a prefix of its own. */
export interface ClientContext {
  readonly library: Library;
  readonly topology: Topology;
  /** Keys under it are cleared after the body's tests. */
  readonly prefix: string;
  /**
   * The connected client. It can be taken while the body is collected, but only used inside its
   * tests and hooks: it connects in `beforeAll`.
   */
  readonly redis: Connected;
  /** A store on `redis` under `prefix`; `options` override either. */
  store(options?: Omit<RedisStoreOptions, 'client'>): RedisStore;
  /**
   * A store on `redis` whose commands `holds` picks wait until `release` (see `holdingCommands`);
   * its timeout is long, since its calls wait on the test.
   */
  holding(holds: (key: string, args: readonly string[]) => boolean): { store: RedisStore; atHold: Promise<void>; release: () => void };
}

/**
 * `body` once for every library on every topology (`title, library, topology`), each with its own
 * client and prefix; a topology that is missing skips its blocks. The client connects before the
 * block's tests, and after them the prefix is cleared and the client closed.
 */
export function describeOnEveryClient(title: string, body: (ctx: ClientContext) => void): void {
  for (const topology of TOPOLOGIES) {
    for (const library of LIBRARIES) {
      const name = `${title}, ${library}, ${topology}`;
      describeOn(topology, name, () => {
        let connected: Connected | undefined;
        const live = (): Connected => {
          if (connected === undefined) throw new Error(`${name}: the client is used before beforeAll connected it`);
          return connected;
        };
        // Forwards to the client beforeAll connects, so a body can hold it from the start.
        const redis: Connected = {
          get client() {
            return live().client;
          },
          command: (key, args) => live().command(key, args),
          quit: () => live().quit(),
        };
        const prefix = testPrefix(name.replace(/\W+/g, '-'));
        const store = (options: Omit<RedisStoreOptions, 'client'> = {}) => redisStore({ client: redis.client, prefix, ...options });
        beforeAll(async () => {
          connected = await connect(library, topology);
        });
        afterAll(async () => {
          // A failed connect is reported by beforeAll; there is nothing here to clean up then.
          if (connected === undefined) return;
          try {
            await store().clear();
          } finally {
            await connected.quit();
          }
        });
        body({
          library,
          topology,
          prefix,
          redis,
          store,
          holding(holds) {
            const { commands, atHold, release } = holdingCommands(redis, topology, holds);
            return { store: redisStore({ client: commands, prefix, timeoutMs: 10_000 }), atHold, release };
          },
        });
      });
    }
  }
}
