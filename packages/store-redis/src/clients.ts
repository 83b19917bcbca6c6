/**
 * The one place that knows node-redis from ioredis. The store speaks to Redis through
 * `RedisCommands`: send a command routed by its key, list the nodes to SCAN, say whether the
 * connection is up. Clients are recognised by shape, not by `instanceof`, so two installed copies
 * (or majors) of a library both work and neither library is imported at runtime.
 */
import { SessConfigError } from '@sess/core';
import { escapeGlob } from './layout.js';

/** One Redis node that takes raw commands (a standalone client, or one master of a cluster). */
export type NodeCommand = (args: readonly string[]) => Promise<unknown>;

/**
 * What the store needs from a client. Pass your own object of this shape as `client` to use a
 * library sess does not recognise (or to wrap one, say to count commands).
 */
export interface RedisCommands {
  /** Sends one command. `key` is the key it touches, so a cluster client can route it. */
  send(key: string, args: readonly string[]): Promise<unknown>;
  /** Every node that holds keys: the client itself, or each master of a cluster. */
  nodes(): Promise<readonly NodeCommand[]>;
  /**
   * False while the client cannot send right now (connecting, reconnecting, closed): the store
   * then fails at once instead of letting the command wait in the client's offline queue.
   */
  isReady(): boolean;
  /**
   * Optional, for cluster clients: re-read the cluster's slot map now (a failover may have moved
   * slots to a promoted replica). Returns at once; the store calls it when commands fail with a
   * lost connection, CLUSTERDOWN or MOVED, or time out, at most once per 100 ms.
   */
  refresh?(): void;
  /**
   * False for a single server (standalone, or a proxy that behaves as one): a script may then
   * read a key it did not declare, so a load costs one round trip (see `LOAD`). Absent or true:
   * a cluster, where the store never touches two slots in one script.
   */
  readonly cluster?: boolean;
}

/** node-redis 5 and 6 `createClient()`: the members the store uses. */
interface NodeRedisClient {
  sendCommand(args: readonly string[]): Promise<unknown>;
  readonly isReady: boolean;
  readonly isOpen: boolean;
}

/** node-redis 5 and 6 `createCluster()`. `isReady` is new in 6; 5 has only `isOpen`. */
interface NodeRedisCluster {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: readonly string[]): Promise<unknown>;
  readonly masters: readonly unknown[];
  nodeClient(node: never): NodeRedisClient | Promise<NodeRedisClient>;
  readonly isOpen: boolean;
  readonly isReady?: boolean;
}

/**
 * The slot map of a node-redis 5 or 6 cluster (`_slots`, not public API): its `rediscover` is
 * what the cluster itself runs on MOVED. 5 needs a node client to ask first; 6 takes none.
 */
interface NodeRedisSlots {
  rediscover(startWith?: unknown): Promise<void>;
  readonly masters?: readonly { readonly client?: { readonly isReady?: boolean } }[];
}

/** ioredis 5 and 6 `new Redis()` and `new Cluster()`. */
interface IoRedis {
  call(command: string, ...args: string[]): Promise<unknown>;
  readonly status: string;
  readonly isCluster: boolean;
  nodes?(role: 'master'): IoRedis[];
  refreshSlotsCache?(): void;
  readonly options?: { readonly keyPrefix?: unknown };
}

/** Any client the store recognises, or your own `RedisCommands`. */
export type RedisClientLike = RedisCommands | object;

function isCommands(client: object): client is RedisCommands {
  const c = client as Partial<RedisCommands>;
  return typeof c.send === 'function' && typeof c.nodes === 'function' && typeof c.isReady === 'function';
}

function isIoRedis(client: object): client is IoRedis {
  const c = client as Partial<IoRedis>;
  return typeof c.call === 'function' && typeof c.status === 'string' && typeof c.isCluster === 'boolean';
}

function isNodeRedisCluster(client: object): client is NodeRedisCluster {
  const c = client as Partial<NodeRedisCluster>;
  return typeof c.sendCommand === 'function' && typeof c.nodeClient === 'function' && 'masters' in c;
}

/**
 * node-redis 5 and 6 `createSentinel()`: it looks like a client (`sendCommand`, `isReady`), but its
 * `sendCommand` takes `(isReadonly, args)`, so it is recognised only to be refused.
 */
function isNodeRedisSentinel(client: object): boolean {
  const c = client as { getMasterNode?: unknown; getSentinelNode?: unknown };
  return typeof c.getMasterNode === 'function' && typeof c.getSentinelNode === 'function';
}

function isNodeRedisClient(client: object): client is NodeRedisClient {
  const c = client as Partial<NodeRedisClient>;
  return typeof c.sendCommand === 'function' && 'isReady' in c;
}

/**
 * SCAN through an ioredis `keyPrefix`: ioredis puts it before the keys of every command but not
 * before a MATCH pattern, nor takes it off the keys SCAN returns. Without this, `ids()` and
 * `clear()` would match nothing under the prefix and quietly do nothing.
 */
async function scanUnder(n: IoRedis, keyPrefix: string, args: readonly string[]): Promise<unknown> {
  const sent = args.map((arg, i) => (i > 0 && args[i - 1] === 'MATCH' ? escapeGlob(keyPrefix) + arg : arg));
  const [cursor, keys] = (await n.call('SCAN', ...sent.slice(1))) as [unknown, unknown[]];
  return [cursor, keys.map(String).map((key) => (key.startsWith(keyPrefix) ? key.slice(keyPrefix.length) : key))];
}

/** What the client itself puts before every key it sends (an ioredis `keyPrefix`), or ''. */
export function clientKeyPrefix(client: RedisClientLike): string {
  if (typeof client !== 'object' || client === null || isCommands(client) || !isIoRedis(client)) return '';
  return typeof client.options?.keyPrefix === 'string' ? client.options.keyPrefix : '';
}

function fromIoRedis(client: IoRedis): RedisCommands {
  const keyPrefix = clientKeyPrefix(client);
  const node =
    (n: IoRedis): NodeCommand =>
    (args) =>
      keyPrefix !== '' && args[0] === 'SCAN' ? scanUnder(n, keyPrefix, args) : n.call(args[0] as string, ...args.slice(1));
  return {
    // ioredis routes a cluster command by the key positions it knows for each command (EVALSHA's
    // included), so the key argument is not needed here.
    send: (_key, args) => client.call(args[0] as string, ...args.slice(1)),
    nodes: async () => (client.isCluster && client.nodes ? client.nodes('master').map(node) : [node(client)]),
    isReady: () => client.status === 'ready',
    cluster: client.isCluster,
    // ioredis refreshes on its own when it retries; this is for the errors it passes on.
    ...(client.isCluster && typeof client.refreshSlotsCache === 'function' ? { refresh: () => client.refreshSlotsCache?.() } : {}),
  };
}

/**
 * Starts node-redis's own rediscovery (the one it runs on MOVED, which a failover does not send
 * while the dead master's client waits to reconnect), asking a master that is connected first.
 */
function rediscover(cluster: NodeRedisCluster): void {
  const slots = (cluster as { _slots?: Partial<NodeRedisSlots> })._slots;
  if (typeof slots?.rediscover !== 'function') return;
  const ready = slots.masters?.map((master) => master.client).find((client) => client?.isReady === true);
  // node-redis 5 reads the first node to ask from its argument; with no master connected, its
  // root nodes are all that is left, and its own reconnection will do.
  if (ready === undefined && cluster.isReady === undefined) return;
  slots.rediscover(ready).catch(() => undefined);
}

function fromNodeRedisCluster(cluster: NodeRedisCluster): RedisCommands {
  return {
    send: (key, args) => cluster.sendCommand(key, false, args),
    nodes: () =>
      Promise.all(
        cluster.masters.map(async (master) => {
          const client = await cluster.nodeClient(master as never);
          return (args: readonly string[]) => client.sendCommand(args);
        }),
      ),
    isReady: () => cluster.isReady ?? cluster.isOpen,
    refresh: () => rediscover(cluster),
  };
}

function fromNodeRedisClient(client: NodeRedisClient): RedisCommands {
  const node: NodeCommand = (args) => client.sendCommand(args);
  return { send: (_key, args) => node(args), nodes: async () => [node], isReady: () => client.isReady, cluster: false };
}

/**
 * Why `client` cannot send, for the error of a call made while `isReady()` is false. A client the
 * app never connected (or closed) stays that way, since the store never connects one: the message
 * says what to call, rather than suggesting a reconnection that is not coming.
 */
export function notReadyDetail(client: RedisClientLike): string {
  const connecting = 'the Redis client is not connected (connecting or reconnecting)';
  if (isCommands(client)) return connecting;
  const advice = 'call `await client.connect()` before serving requests (the store never connects a client)';
  if (isIoRedis(client)) {
    if (client.status === 'wait') return `the ioredis client was made with lazyConnect: true and has not connected: ${advice}`;
    if (client.status === 'end') return `the ioredis client was closed (quit() or disconnect()) and will not reconnect: ${advice}`;
  } else if ((isNodeRedisCluster(client) || isNodeRedisClient(client)) && !client.isOpen) {
    return `the node-redis client is not open (never connected, or closed): ${advice}`;
  }
  return connecting;
}

/**
 * Wraps a client for the store: ioredis `Redis` or `Cluster` (5, 6), node-redis `createClient()`
 * or `createCluster()` (5, 6), or an object that already is `RedisCommands`.
 *
 * @throws SessConfigError for anything else, at construction.
 */
export function toCommands(client: RedisClientLike): RedisCommands {
  if (typeof client !== 'object' || client === null) throw new SessConfigError('redisStore: client must be a Redis client instance');
  if (isCommands(client)) return client;
  if (isIoRedis(client)) return fromIoRedis(client);
  if (isNodeRedisCluster(client)) return fromNodeRedisCluster(client);
  if (isNodeRedisSentinel(client)) {
    throw new SessConfigError(
      'redisStore: client is a node-redis Sentinel (createSentinel()), which the store does not recognise; wrap it as a RedisCommands object { send, nodes, isReady }',
    );
  }
  if (isNodeRedisClient(client)) return fromNodeRedisClient(client);
  throw new SessConfigError(
    'redisStore: client is not a node-redis or ioredis client (or cluster); pass one, or an object with send(), nodes() and isReady()',
  );
}
