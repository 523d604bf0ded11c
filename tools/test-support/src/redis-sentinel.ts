import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisCli } from './redis-cli.js';
import { dataNodeArgs, launchRedisNode, type RedisNodeProcess, waitFor } from './redis-cluster.js';

export interface RedisSentinelOptions {
  /** The name the sentinels monitor the master by. Default `mymaster`. */
  masterName?: string;
  /** Sentinels watching it. Default 3 (quorum 2). */
  sentinels?: number;
  /** How long the master may be silent before a sentinel thinks it down. Default 1,000 ms. */
  downAfterMs?: number;
  /** Default 3,000 ms: a failover that stalls is retried soon. */
  failoverTimeoutMs?: number;
}

/** A master, a replica and sentinels watching them, all real processes of the caller's own. */
export interface TestRedisSentinelGroup {
  readonly masterName: string;
  /** The sentinels as `host:port,…`: a REDIS_SENTINELS value. */
  readonly sentinelList: string;
  readonly master: RedisNodeProcess;
  readonly replica: RedisNodeProcess;
  readonly sentinels: readonly RedisNodeProcess[];
  /** The port of the master the sentinels name now. */
  currentMasterPort(): Promise<number>;
  /** Ends every process (SIGKILL) and removes their files. */
  stop(): Promise<void>;
}

/**
 * Starts a master, one replica of it and `sentinels` sentinels (`redis-server <conf> --sentinel`,
 * each with its own config file, which Sentinel rewrites). Resolves once every sentinel knows
 * the replica and the other sentinels: a failover can then happen.
 */
export async function startRedisSentinelGroup(
  options: RedisSentinelOptions = {},
): Promise<TestRedisSentinelGroup> {
  const masterName = options.masterName ?? 'mymaster';
  const count = options.sentinels ?? 3;
  const quorum = Math.floor(count / 2) + 1;
  const dir = await mkdtemp(join(tmpdir(), 'redis-sentinel-'));
  const started: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.allSettled(started.map((node) => node.process.stop('SIGKILL')));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const master = await launchRedisNode('redis-master', (port) => dataNodeArgs(port, dir));
    started.push(master);
    const masterPort = master.port;
    const replica = await launchRedisNode('redis-replica', (port) => [
      ...dataNodeArgs(port, dir),
      '--replicaof',
      '127.0.0.1',
      String(masterPort),
    ]);
    started.push(replica);
    const replicaPort = replica.port;
    await waitFor('the replica in sync', async () =>
      (await redisCli(replicaPort, ['INFO', 'replication'])).includes('master_link_status:up'),
    );

    const sentinels: RedisNodeProcess[] = [];
    for (let index = 0; index < count; index += 1) {
      const sentinel = await launchRedisNode(`redis-sentinel-${index}`, (port) => {
        // Sentinel rewrites its config file, so each one has its own, written before it starts.
        const conf = join(dir, `sentinel-${port}.conf`);
        writeFileSync(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} ${quorum}`,
            `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1_000}`,
            `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 3_000}`,
            `sentinel parallel-syncs ${masterName} 1`,
            '',
          ].join('\n'),
        );
        return [conf, '--sentinel', '--loglevel', 'warning'];
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // Sentinels find the replica in the master's INFO and each other through the master's
    // hello channel (every 2 s): wait until each one could authorise a failover.
    await waitFor(
      'every sentinel knowing the replica and a quorum',
      async () => {
        const views = await Promise.all(
          sentinels.map(async (sentinel) => ({
            quorum: await redisCli(sentinel.port, ['SENTINEL', 'CKQUORUM', masterName]),
            replicas: await redisCli(sentinel.port, ['SENTINEL', 'REPLICAS', masterName]),
            sentinels: await redisCli(sentinel.port, ['SENTINEL', 'SENTINELS', masterName]),
          })),
        );
        return views.every(
          (view) =>
            view.quorum.startsWith('OK') &&
            view.replicas.includes(String(replicaPort)) &&
            sentinelsKnown(view.sentinels) === count - 1,
        );
      },
      60_000,
    );
    return {
      masterName,
      sentinelList: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(','),
      master,
      replica,
      sentinels,
      async currentMasterPort() {
        const reply = await redisCli((sentinels[0] as RedisNodeProcess).port, [
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          masterName,
        ]);
        return Number(reply.split('\n')[1]);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** How many sentinels a `SENTINEL SENTINELS` reply lists (one `runid` field each). */
function sentinelsKnown(reply: string): number {
  return reply.split('\n').filter((line) => line.trim() === 'runid').length;
}
