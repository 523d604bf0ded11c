import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  describeTopology,
  type Logger,
  queueNames,
  type RedisTopology,
  redisTopology,
  reloadUpstreams,
  startStatsLine,
  trackUpstreamConnections,
  UpstreamSet,
  upstreamObserver,
} from '@openai-proxy/shared';
import { Registry } from 'prom-client';
import { createCompleter } from './completion/create-completer.js';
import type { NonStreamCompleter } from './completion/non-stream-completer.js';
import type { GatewayConfig } from './config.js';
import { createGatewayMetrics } from './observability/gateway-metrics.js';
import { gatewayStatsSample } from './observability/stats-sample.js';
import { addMissingReasonPhrases } from './pipeline/reason-phrases.js';
import type { StreamCapacity } from './relay/stream-within-capacity.js';
import { answerClientErrors } from './security/client-error.js';
import { httpServerOptions } from './security/http-server-options.js';
import { createServer, type GatewayDeps } from './server.js';

export interface RunningGateway {
  server: Server;
  url: string;
  completer: NonStreamCompleter;
  /**
   * Re-reads UPSTREAMS_FILE (SIGHUP): new requests route by it, requests in flight finish where
   * they are. A bad file changes nothing and is logged. Returns whether the file was taken.
   */
  reloadUpstreams(): boolean;
  /** Stops accepting, lets in-flight requests finish within the grace period, closes Redis and pools. */
  close(): Promise<void>;
}

/** Builds every dependency from the config and listens. Used by main.ts and by in-process tests. */
export async function startGateway(
  config: GatewayConfig,
  logger: Logger,
  options: Pick<GatewayDeps, 'apis'> = {},
): Promise<RunningGateway> {
  addMissingReasonPhrases();
  const metrics = createGatewayMetrics(new Registry());
  const upstreams = new UpstreamSet(config);
  const completer = await createCompleter(config, logger, upstreams, upstreamObserver(metrics));
  // rate-limiter-flexible is loaded only when a limit is set.
  const limiter =
    config.RATE_LIMIT_REQUESTS > 0
      ? (await import('./security/request-limiter.js')).createRequestLimiter(config, logger)
      : undefined;
  await limiter?.ready?.();
  const redis = redisTopology(config);
  // bull-board is loaded only when the admin routes are on and there is a queue to show.
  const capacity = redis === undefined ? undefined : await streamCapacity(config, redis);
  const board =
    config.ADMIN_API_KEYS.length > 0 && redis !== undefined
      ? (await import('./admin/queue-board.js')).createQueueBoard({ ...config, redis }, logger)
      : undefined;
  const app = createServer({
    config,
    logger,
    metrics,
    upstreams,
    completer,
    limiter,
    board,
    capacity,
    ...options,
  });
  // Head size and head/request timeouts are enforced by Node before Express runs (slow-loris).
  const server = createHttpServer(httpServerOptions(config), app);
  answerClientErrors(server, metrics);
  server.listen({ port: config.PORT, host: config.HOST, backlog: config.LISTEN_BACKLOG });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  logger.info(
    {
      port,
      mode: completer.mode,
      upstreams: upstreams.all.map((u) => u.label),
      file: config.UPSTREAMS_FILE,
      ...(redis === undefined ? {} : { redis: describeTopology(redis) }),
    },
    `gateway listening (${completer.mode} mode)`,
  );

  const stats = startStatsLine({
    logger,
    intervalSeconds: config.STATS_INTERVAL_SECONDS,
    sample: gatewayStatsSample(metrics),
  });
  const stopConnectionTracking = trackUpstreamConnections(
    metrics.registry,
    'openai_proxy_upstream',
    () => upstreams.all,
    logger,
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stats.stop();
      stopConnectionTracking();
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection whose request just finished turns idle; close those as they
      // appear so the server drains as soon as the last in-flight request is answered.
      const idleSweeper = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        graceTimer = setTimeout(resolve, config.SHUTDOWN_GRACE_MS);
      });
      await Promise.race([drained, grace]);
      clearInterval(idleSweeper);
      clearTimeout(graceTimer);
      server.closeAllConnections();
      await completer.close();
      await board?.close();
      await limiter?.close();
      capacity?.store.close();
      await upstreams.close();
    })();
    return closing;
  };
  return {
    server,
    url: `http://${host}:${port}`,
    completer,
    reloadUpstreams: () => reloadUpstreams(upstreams, config, logger),
    close,
  };
}

/**
 * Each upstream's room, for streams to groups with limits: its own connection, loaded only in
 * queue mode. Its errors are the queue's (the completer reports an outage once per interval).
 */
async function streamCapacity(config: GatewayConfig, redis: RedisTopology): Promise<StreamCapacity> {
  const { CapacityStore, createRedis } = await import('@openai-proxy/shared/redis');
  const connection = createRedis(redis, 'queue', `gateway-capacity:${process.pid}`);
  connection.on('error', () => undefined);
  return {
    store: new CapacityStore(connection, queueNames(config.QUEUE_PREFIX).prefix),
    waitMs: config.STREAM_CAPACITY_WAIT_MS,
  };
}
