import { type Logger, redisTopology } from '@openai-proxy/shared';
import { createRedis, type RedisClient } from '@openai-proxy/shared/redis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import type { GatewayConfig } from '../config.js';

/** What one request learns from the limiter; the numbers become `x-ratelimit-*` headers. */
export interface LimitDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Until the window of this client starts over. */
  resetMs: number;
}

/** How long a starting gateway waits for the limiter's Redis before it counts in memory. */
const REDIS_READY_WAIT_MS = 2_000;

/** Resolves once `redis` is ready, or after `ms` (Redis may come later; memory counts meanwhile). */
function connected(redis: RedisClient, ms: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
    redis.once('ready', done);
  });
}

export interface RequestLimiter {
  /** Counts one request of `clientId` (a key digest or an IP, never a key in clear). */
  consume(clientId: string): Promise<LimitDecision>;
  close(): Promise<void>;
  /**
   * Resolves when the shared counters can be used. Until then every replica would count in its
   * own memory and each admit a full allowance, so a gateway waits for it before it listens.
   */
  ready?(): Promise<void>;
}

/**
 * A fixed window of `RATE_LIMIT_REQUESTS` per `RATE_LIMIT_WINDOW_SECONDS` per client
 * (rate-limiter-flexible). In queue mode the counters live in Redis, so every gateway replica
 * draws on the same allowance; when Redis is away each process falls back to counting in its
 * own memory rather than refusing or waving everything through. Standalone: memory only.
 * Undefined when rate limiting is off.
 */
export function createRequestLimiter(config: GatewayConfig, logger: Logger): RequestLimiter | undefined {
  if (config.RATE_LIMIT_REQUESTS === 0) return undefined;
  const options = { points: config.RATE_LIMIT_REQUESTS, duration: config.RATE_LIMIT_WINDOW_SECONDS };
  const topology = redisTopology(config);
  if (topology === undefined) {
    return flexibleLimiter(new RateLimiterMemory(options), options.points, logger, async () => {});
  }
  // Its own fail-fast connection, so a Redis outage turns into the in-memory fallback at once.
  // On a Cluster the counters share the queue's `{…}` slot (the key prefix carries the tag).
  const redis = createRedis(topology, 'queue', 'gateway-ratelimit');
  redis.on('error', (error) => logger.debug({ err: error }, 'redis (rate limit) error'));
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${config.QUEUE_PREFIX}:ratelimit`,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
    ...options,
  });
  const flexible = flexibleLimiter(limiter, options.points, logger, async () => redis.disconnect());
  return { ...flexible, ready: () => connected(redis, REDIS_READY_WAIT_MS) };
}

function flexibleLimiter(
  limiter: RateLimiterAbstract,
  limit: number,
  logger: Logger,
  close: () => Promise<void>,
): RequestLimiter {
  const decision = (res: RateLimiterRes, allowed: boolean): LimitDecision => ({
    allowed,
    limit,
    remaining: res.remainingPoints,
    resetMs: res.msBeforeNext,
  });
  return {
    async consume(clientId) {
      try {
        return decision(await limiter.consume(clientId), true);
      } catch (rejection) {
        // rate-limiter-flexible rejects with a RateLimiterRes when the client is over its limit,
        // and with an Error when counting failed: then the request goes on (fail open).
        if (rejection instanceof RateLimiterRes) return decision(rejection, false);
        logger.warn({ err: rejection }, 'rate limiter failed; letting the request through');
        return { allowed: true, limit, remaining: limit, resetMs: 0 };
      }
    },
    close,
  };
}
