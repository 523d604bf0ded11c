import {
  type GatewayConfig,
  type GatewayMetrics,
  type Logger,
  ProxyError,
  type UpstreamSet,
  upstreamTimeouts,
} from '@openai-proxy/shared';
import express, { type Express } from 'express';
import { accessLog } from './middleware/access-log.js';
import { errorHandler } from './middleware/error-handler.js';
import { guardV1 } from './middleware/guard.js';
import { inflightLimit } from './middleware/inflight-limit.js';
import { requestId } from './middleware/request-id.js';
import type { NonStreamCompleter } from './relay/non-stream-completer.js';
import { upstreamObserver } from './relay/upstream-observer.js';
import { chatCompletionsRoute } from './routes/chat-completions.js';
import { completionsRoute } from './routes/completions.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { passthroughRoute } from './routes/passthrough.js';
import type { RouteDeps } from './routes/route-deps.js';
import { createRequestLimiter, type RequestLimiter } from './security/request-limiter.js';

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: GatewayMetrics;
  upstreams: UpstreamSet;
  completer: NonStreamCompleter;
  /** Shared through Redis when startGateway builds it; without one, counted in this process. */
  limiter?: RequestLimiter | undefined;
}

/** The Express app, wired but not listening (main.ts listens; tests mount it on port 0). */
export function createServer(deps: GatewayDeps): Express {
  const { config, metrics } = deps;
  const routeDeps: RouteDeps = {
    config,
    logger: deps.logger,
    metrics,
    completer: deps.completer,
    relay: {
      upstreams: deps.upstreams,
      maxTries: config.UPSTREAM_MAX_TRIES,
      totalTimeoutMs: config.UPSTREAM_TOTAL_TIMEOUT_MS,
      timeouts: upstreamTimeouts(config),
      observe: upstreamObserver(metrics),
    },
  };

  const limiter = deps.limiter ?? createRequestLimiter({ ...config, REDIS_URL: undefined }, deps.logger);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (config.TRUST_PROXY_HOPS > 0) app.set('trust proxy', config.TRUST_PROXY_HOPS);
  app.use(requestId);
  app.use(accessLog(deps.logger, metrics, deps.completer.mode));
  app.use(healthRoutes(routeDeps));
  app.use(metricsRoute(routeDeps));
  // Health and metrics stay reachable under load; everything below counts against the limit.
  app.use(inflightLimit(config.MAX_INFLIGHT));
  // Every /v1 request, before its body is read: safe target, declared size, access key, rate limit.
  app.use('/v1', ...guardV1(config, limiter));
  app.use(chatCompletionsRoute(routeDeps, config.MAX_BODY_BYTES));
  app.use(completionsRoute(routeDeps, config.MAX_BODY_BYTES));
  app.use(passthroughRoute(routeDeps, config.MAX_BODY_BYTES));
  app.use((req, _res, next) => {
    next(
      new ProxyError(`Unknown path: ${req.method} ${req.path}`, {
        status: 404,
        code: 'not_found',
        type: 'invalid_request_error',
      }),
    );
  });
  app.use(errorHandler(deps.logger, metrics));
  return app;
}
