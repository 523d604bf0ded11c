import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections by role, following BullMQ's production guide:
 * - `queue` (gateway side): fail fast when Redis is away, so a request gets a quick 503
 *   instead of waiting in ioredis's offline queue;
 * - `worker` and `subscriber`: retry forever (`maxRetriesPerRequest: null`), so blocking
 *   commands and subscriptions survive a Redis restart and resume by themselves.
 */
export type RedisRole = 'queue' | 'worker' | 'subscriber';

const retryStrategy = (times: number) => Math.min(times * 200, 2_000);

export function redisOptions(role: RedisRole): RedisOptions {
  if (role === 'queue') {
    return { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy, lazyConnect: false };
  }
  return { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy };
}

export function createRedis(url: string, role: RedisRole, connectionName?: string): Redis {
  return new Redis(url, { ...redisOptions(role), ...(connectionName ? { connectionName } : {}) });
}
