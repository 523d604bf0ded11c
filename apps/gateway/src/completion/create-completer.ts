import {
  type Logger,
  nonStreamSettings,
  redisTopology,
  type UpstreamObserver,
  type UpstreamSet,
} from '@openai-proxy/shared';
import type { GatewayConfig } from '../config.js';
import { InProcessCompleter } from './in-process-completer.js';
import type { NonStreamCompleter } from './non-stream-completer.js';

/** How long a starting gateway waits for Redis before it listens without it. */
const REDIS_WAIT_AT_START_MS = 2_000;

/**
 * The completer this configuration asks for. The queue's modules (BullMQ, ioredis) are loaded
 * only in queue mode: a standalone gateway never pays for them in memory.
 */
export async function createCompleter(
  config: GatewayConfig,
  logger: Logger,
  upstreams: UpstreamSet,
  observe: UpstreamObserver,
): Promise<NonStreamCompleter> {
  const redis = redisTopology(config);
  if (redis === undefined) {
    return new InProcessCompleter(upstreams, nonStreamSettings(config), observe, logger);
  }
  const { QueuedCompleter } = await import('./queued-completer.js');
  const completer = new QueuedCompleter({ ...config, redis }, logger);
  // Redis may come later: ioredis keeps trying, and /health says degraded until it does.
  await completer.start(REDIS_WAIT_AT_START_MS);
  return completer;
}
