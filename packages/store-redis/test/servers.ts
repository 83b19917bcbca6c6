/**
 * Real redis-server processes for the tests: a throwaway server (the outage test kills and
 * restarts one), a 3-master cluster (started once by the global setup) and a 3-master cluster
 * with a replica per master (the failover test kills a master). No mocks.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REDIS_SERVER = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
export const REDIS_CLI = process.env['REDIS_CLI_BIN'] ?? 'redis-cli';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free loopback port whose cluster bus port (port + 10000) is free too, away from 6379. */
export async function freePort(taken: readonly number[] = []): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.includes(port) || taken.includes(port + 10_000)) continue;
    if ((await isFree(port)) && (await isFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair found');
}

/** Runs redis-cli against a loopback port; resolves to its output, rejects if it fails. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

/** Polls `check` until it returns true, failing after `deadlineMs`. Ends on the condition, not a sleep. */
export async function waitFor(what: string, check: () => Promise<boolean>, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface RedisServer {
  readonly port: number;
  readonly process: ChildProcess;
  /** Kills the process (SIGKILL: an outage, not a clean shutdown) and waits for it to exit. */
  kill(): Promise<void>;
}

/** Starts redis-server on `port` without persistence and waits until it answers PING. */
export async function startServer(port: number, dir: string, extra: readonly string[] = []): Promise<RedisServer> {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, ...extra],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const failed = new Promise<never>((_, reject) => child.once('error', reject));
  try {
    await Promise.race([failed, waitFor(`redis-server on port ${port}`, async () => (await cli(port, 'PING')).trim() === 'PONG')]);
  } catch (error) {
    // Never leave a server behind that the caller cannot stop.
    child.kill('SIGKILL');
    throw error;
  }
  return {
    port,
    process: child,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Cluster {
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/** Three masters on free loopback ports, slots assigned by redis-cli, ready when all say cluster_state:ok. */
export async function startCluster(): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sess-redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < 3; i += 1) ports.push(await freePort(ports.flatMap((p) => [p, p + 10_000])));
    for (const port of ports) {
      servers.push(await startServer(port, dir, ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)]));
    }
    await run(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    for (const port of ports) {
      await waitFor(`cluster_state:ok on ${port}`, async () => (await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000);
    }
    return { ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface ClusterNode {
  readonly port: number;
  readonly id: string;
  readonly server: RedisServer;
}

export interface Shard {
  readonly master: ClusterNode;
  readonly replica: ClusterNode;
}

export interface ReplicatedCluster {
  readonly shards: readonly Shard[];
  /** Every port, masters first: root nodes for a client. */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/**
 * Three masters with one replica each, failover tuned fast (`nodeTimeoutMs`), ready when every
 * node says cluster_state:ok and every replica has synced with its master. Each process is
 * stopped by `stop()`, also when start-up fails half way.
 */
export async function startReplicatedCluster(nodeTimeoutMs: number): Promise<ReplicatedCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'sess-redis-failover-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < 6; i += 1) ports.push(await freePort(ports.flatMap((p) => [p, p + 10_000])));
    const settings = [
      '--cluster-enabled',
      'yes',
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      // Promote a replica whatever the age of its data: the test kills a master that was just written.
      '--cluster-replica-validity-factor',
      '0',
      // Full syncs start at once instead of waiting 5 s for more replicas.
      '--repl-diskless-sync-delay',
      '0',
    ];
    await Promise.all(
      ports.map(async (port) => {
        servers.push(await startServer(port, dir, [...settings, '--cluster-config-file', join(dir, `nodes-${port}.conf`)]));
      }),
    );
    // redis-cli makes the first three masters and gives each a replica from the last three.
    await run(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000,
    });
    const serverOf = (port: number) => servers.find((server) => server.port === port) as RedisServer;
    let shards: Shard[] = [];
    await waitFor(
      'every node to say cluster_state:ok and every replica to be in sync',
      async () => {
        for (const port of ports) if (!(await cli(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const nodes = parseClusterNodes(await cli(ports[0] as number, 'CLUSTER', 'NODES'));
        const masters = nodes.filter((node) => node.flags.includes('master'));
        shards = masters.map((master) => {
          const replica = nodes.find((node) => node.masterId === master.id);
          if (replica === undefined) throw new Error(`master ${master.port} has no replica yet`);
          return {
            master: { port: master.port, id: master.id, server: serverOf(master.port) },
            replica: { port: replica.port, id: replica.id, server: serverOf(replica.port) },
          };
        });
        if (shards.length !== 3) return false;
        for (const { replica } of shards)
          if (!(await cli(replica.port, 'INFO', 'replication')).includes('master_link_status:up')) return false;
        return true;
      },
      30_000,
    );
    return { shards, ports: [...shards.map((s) => s.master.port), ...shards.map((s) => s.replica.port)], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface ClusterNodeLine {
  readonly id: string;
  readonly port: number;
  readonly flags: readonly string[];
  /** The master's id for a replica, undefined for a master. */
  readonly masterId: string | undefined;
  /** The slot ranges a master serves, inclusive. */
  readonly slots: readonly (readonly [number, number])[];
}

/** CLUSTER NODES, one entry per line: "<id> <ip:port@bus> <flags> <master|-> <ping> <pong> <epoch> <link> <slot>...". */
export function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, address, flags, master, , , , , ...ranges] = line.trim().split(' ') as [string, string, string, string, ...string[]];
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        flags: flags.split(','),
        masterId: master === '-' ? undefined : master,
        // "0-5460" or "5461"; importing/migrating entries ("[...]") are not served slots.
        slots: ranges
          .filter((range) => /^\d+(-\d+)?$/.test(range))
          .map((range) => {
            const [from, to = from] = range.split('-').map(Number) as [number, number?];
            return [from, to] as const;
          }),
      };
    });
}
