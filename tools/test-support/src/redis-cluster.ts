import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { redisCli, replyFields } from './redis-cli.js';
import { type SpawnedProcess, spawnProcess, waitUntil } from './spawned-process.js';

/** One redis-server of a cluster or Sentinel group. */
export interface RedisNodeProcess {
  readonly port: number;
  readonly process: SpawnedProcess;
}

export interface RedisClusterOptions {
  /** Masters, each owning a third (or so) of the slots. Default 3. */
  masters?: number;
  /** Replicas per master. Default 1. */
  replicasPerMaster?: number;
}

/** A real Redis Cluster of the caller's own, built the way an operator builds one. */
export interface TestRedisCluster {
  readonly nodes: readonly RedisNodeProcess[];
  /** Every node as `host:port,…`: a REDIS_CLUSTER_NODES value. */
  readonly nodeList: string;
  /** The ports of the nodes that are masters now. */
  masters(): Promise<number[]>;
  /** Ends every node (SIGKILL) and removes its files. */
  stop(): Promise<void>;
}

export const redisEnv = () => ({ PATH: process.env.PATH ?? '' });

/**
 * Starts redis-server on free ports (`argsFor` gets the client port and `extraPorts` more, e.g. a
 * cluster bus); resolves once it answers PING. A port is free when chosen, not when bound: another
 * process (or another node starting at the same moment) may take it first, so a start that fails
 * with "Address already in use" is tried again on new ports.
 */
export async function launchRedisNode(
  name: string,
  argsFor: (port: number, extraPorts: number[]) => readonly string[],
  extraPorts = 0,
): Promise<RedisNodeProcess> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort();
    const extra: number[] = [];
    for (let i = 0; i < extraPorts; i += 1) extra.push(await freePort());
    const server = spawnProcess(name, 'redis-server', argsFor(port, extra), { env: redisEnv() });
    try {
      await waitUntil('PONG', server, async () => (await redisCli(port, ['PING'])).includes('PONG'), 10_000);
      return { port, process: server };
    } catch (error) {
      await server.stop('SIGKILL');
      const taken = server.output.some((line) => line.includes('Address already in use'));
      if (!taken || attempt === 5) throw error;
    }
  }
}

/** Polls `check` every 100 ms until it says yes, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${what} within ${timeoutMs} ms`);
}

/**
 * The arguments of a data node of a test group (cluster, master, replica): loopback only, its own
 * snapshot file in a shared folder (or a replica's first sync would load another node's data),
 * nothing written to disk unless asked, quiet logs.
 */
export const dataNodeArgs = (port: number, dir: string): string[] => [
  '--port',
  String(port),
  '--bind',
  '127.0.0.1',
  '--dir',
  dir,
  '--dbfilename',
  `dump-${port}.rdb`,
  '--save',
  '',
  '--appendonly',
  'no',
  '--loglevel',
  'warning',
];

/**
 * Starts `masters × (1 + replicasPerMaster)` redis-servers in cluster mode (each with its own
 * cluster-bus port, so no port+10000 clash) and joins them with `redis-cli --cluster create`.
 * Resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  const count = masters * (1 + (options.replicasPerMaster ?? 1));
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const nodes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(nodes.map((node) => node.process.stop('SIGKILL')));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const starts = [];
    for (let index = 0; index < count; index += 1) {
      starts.push(
        (async () => {
          const node = await launchRedisNode(
            `redis-cluster-${index}`,
            (port, [busPort]) => [
              ...dataNodeArgs(port, dir),
              '--cluster-enabled',
              'yes',
              '--cluster-port',
              String(busPort),
              '--cluster-config-file',
              join(dir, `nodes-${port}.conf`),
              // A dead master is noticed, and its replica promoted, within a few seconds.
              '--cluster-node-timeout',
              '2000',
            ],
            1,
          );
          nodes.push(node);
        })(),
      );
    }
    const started = await Promise.allSettled(starts);
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await redisCli((nodes[0] as RedisNodeProcess).port, [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      String(options.replicasPerMaster ?? 1),
      '--cluster-yes',
    ]);
    await waitFor('cluster_state:ok on every node', async () => {
      const states = await Promise.all(
        nodes.map(async (node) =>
          replyFields(await redisCli(node.port, ['CLUSTER', 'INFO'])).get('cluster_state'),
        ),
      );
      return states.every((state) => state === 'ok');
    });
    // A replica can take over only once it has its master's data.
    await waitFor('every replica in sync with its master', async () => {
      const roles = await Promise.all(nodes.map((node) => redisCli(node.port, ['INFO', 'replication'])));
      return roles.every((info) => info.includes('role:master') || info.includes('master_link_status:up'));
    });
    return {
      nodes,
      nodeList: addresses.join(','),
      async masters() {
        // Asked of a node still running: a test may have killed any of them.
        const live = nodes.find((node) => !node.process.exited());
        if (live === undefined) return [];
        const reply = await redisCli(live.port, ['CLUSTER', 'NODES']);
        // `<id> <ip:port@bus> <flags> …`, flags such as `myself,master` or `master,fail`.
        return reply
          .split('\n')
          .map((line) => line.split(' '))
          .filter(([, , flags = '']) => flags.split(',').includes('master') && !flags.includes('fail'))
          .map(([, address = '']) => Number(/:(\d+)@/.exec(address)?.[1]));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
