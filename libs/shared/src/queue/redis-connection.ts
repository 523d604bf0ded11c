import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisTopology } from '../config/redis-topology.js';

/**
 * Every Redis connection of both apps is made here, by role and for the configured topology
 * (one server, Sentinel, Cluster), following BullMQ's production guide:
 * - `queue` (gateway side): fail fast when Redis is away, so a request gets a quick 503
 *   instead of waiting in ioredis's offline queue;
 * - `worker` and `subscriber`: retry forever (`maxRetriesPerRequest: null`), so blocking
 *   commands and subscriptions survive a Redis restart or a failover and resume by themselves.
 * With Sentinel, ioredis asks the sentinels for the master on every (re)connect and listens for
 * their `+switch-master`, so a failover is followed without a restart. A Cluster client follows
 * MOVED redirections and refreshes its slot map when a replica is promoted.
 */
export type RedisRole = 'queue' | 'worker' | 'subscriber';

/** One server or Sentinel (a `Redis`), or a `Cluster`: the commands the proxy uses exist on both. */
export type RedisClient = Redis | Cluster;

const retryStrategy = (times: number) => Math.min(times * 200, 2_000);

function roleOptions(role: RedisRole): RedisOptions {
  if (role === 'queue') {
    return { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy, lazyConnect: false };
  }
  return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
}

/**
 * A cluster's answers to pub/sub: with several masters, a classic PUBLISH is copied to every node
 * of the cluster; a sharded one (SPUBLISH, Redis 7) stays in the shard that owns its channel's
 * slot, which, with the `{…}` hash tag of QUEUE_PREFIX, is the shard of the queue itself.
 */
export function usesShardedPubSub(topology: RedisTopology): boolean {
  return topology.kind === 'cluster';
}

export function createRedis(topology: RedisTopology, role: RedisRole, connectionName?: string): RedisClient {
  const named = connectionName === undefined ? {} : { connectionName };
  switch (topology.kind) {
    case 'single':
      return new Redis(topology.url, { ...roleOptions(role), ...named });
    case 'sentinel':
      return new Redis({
        ...roleOptions(role),
        ...named,
        sentinels: topology.sentinels,
        name: topology.masterName,
        role: 'master',
        // Subscribe to the sentinels' `+switch-master`: a promoted replica is used at once,
        // not after the old master's connection times out.
        failoverDetector: true,
        ...(topology.sentinelPassword === undefined ? {} : { sentinelPassword: topology.sentinelPassword }),
        ...(topology.username === undefined ? {} : { username: topology.username }),
        ...(topology.password === undefined ? {} : { password: topology.password }),
      });
    case 'cluster': {
      // A node connection is never retried (the cluster refreshes its slot map instead) and
      // always queues (for the moment before it is ready): the role's behaviour lives in the
      // Cluster's own options.
      const { enableOfflineQueue, retryStrategy: _nodesNeverRetry, ...nodeOptions } = roleOptions(role);
      const options: ClusterOptions = {
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        clusterRetryStrategy: retryStrategy,
        // A command whose node died is retried every `retryDelayOnFailover` up to `maxRedirections`
        // times. ioredis's 16 × 100 ms is shorter than a failover (cluster-node-timeout, then the
        // election): a worker's answer or job completion would fail in the middle of one. Workers
        // and subscribers wait up to ~30 s, as they wait for a restarted server; the gateway's
        // queue keeps the short default, so a request gets its quick 503.
        ...(role === 'queue' ? {} : { retryDelayOnFailover: 300, maxRedirections: 100 }),
        // Sharded subscriptions follow their slot to whichever node owns it after a failover.
        shardedSubscribers: role === 'subscriber',
        redisOptions: {
          ...nodeOptions,
          ...named,
          ...(topology.username === undefined ? {} : { username: topology.username }),
          ...(topology.password === undefined ? {} : { password: topology.password }),
        },
      };
      return new Cluster(topology.nodes, options);
    }
  }
}
