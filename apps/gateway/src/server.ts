import {
  BUILT_IN_APIS,
  type CompletionApi,
  type Logger,
  type UpstreamSet,
  upstreamObserver,
  upstreamTimeouts,
} from '@openai-proxy/shared';
import express, { type Express } from 'express';
import { addAdminRoutes } from './admin/admin-routes.js';
import type { QueueBoard } from './admin/queue-board.js';
import { backgroundResponseRoutes } from './background/background-routes.js';
import { batchRoutes } from './batch/batch-routes.js';
import type { NonStreamCompleter } from './completion/non-stream-completer.js';
import type { GatewayConfig } from './config.js';
import type { GatewayMetrics } from './observability/gateway-metrics.js';
import { createGuard } from './pipeline/guard.js';
import type { RouteLabel } from './pipeline/request-context.js';
import { createDoor } from './pipeline/request-door.js';
import type { StreamCapacity } from './relay/stream-within-capacity.js';
import { completionRoute } from './routes/completion-route.js';
import { notFound, passthroughRoute } from './routes/passthrough-route.js';
import { health, metrics as metricsRoute, PROBE_ROUTES, ready } from './routes/probe-routes.js';
import type { RouteDeps } from './routes/route-deps.js';
import { corsPolicy } from './security/cors-policy.js';
import type { RequestLimiter } from './security/request-limiter.js';

/** Room for a multipart upload's boundaries and fields beside its file. */
const MULTIPART_OVERHEAD_BYTES = 1_048_576;

export interface GatewayDeps {
  config: GatewayConfig;
  logger: Logger;
  metrics: GatewayMetrics;
  upstreams: UpstreamSet;
  completer: NonStreamCompleter;
  /** Set when RATE_LIMIT_REQUESTS is; shared through Redis in queue mode (startGateway builds it). */
  limiter?: RequestLimiter | undefined;
  /** The queue dashboard: set with ADMIN_API_KEYS in queue mode (startGateway loads it). */
  board?: QueueBoard | undefined;
  /** Queue mode: where each upstream's room is kept, for streams to groups with limits. */
  capacity?: StreamCapacity | undefined;
  /** The APIs served, each at its path (default: the built-in four); the completer must know them too. */
  apis?: readonly CompletionApi[];
}

/**
 * The Express app, wired but not listening (main.ts listens; tests mount it on port 0). Its
 * routes are one table, resolved at startup: each is a single handler behind the door
 * (request context, in-flight limit, end-of-request accounting), whose steps are chosen from
 * the configuration. A `/v1` request walks no router but its own.
 */
export function createServer(deps: GatewayDeps): Express {
  const { config, logger, metrics } = deps;
  const routeDeps: RouteDeps = {
    config,
    logger,
    metrics,
    completer: deps.completer,
    relay: {
      upstreams: deps.upstreams,
      maxTries: config.UPSTREAM_MAX_TRIES,
      totalTimeoutMs: config.UPSTREAM_TOTAL_TIMEOUT_MS,
      timeouts: upstreamTimeouts(config),
      observe: upstreamObserver(metrics),
      capacity: deps.capacity,
    },
    guard: createGuard(config, deps.limiter),
  };
  const door = createDoor({ logger, metrics, mode: deps.completer.mode, maxInflight: config.MAX_INFLIGHT });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (config.TRUST_PROXY_HOPS > 0) app.set('trust proxy', config.TRUST_PROXY_HOPS);
  const cors = corsPolicy(config.CORS_ORIGINS);
  if (cors !== undefined) app.use(cors);
  // One route per API, most traffic first: Express tries the routes in order. Each API's guard
  // reads keys where its clients send them (`x-api-key` on Anthropic's), and its errors take the
  // API's shape.
  const guards = new Map([['authorization', routeDeps.guard]]);
  for (const api of deps.apis ?? BUILT_IN_APIS) {
    let guard = guards.get(api.keyHeader);
    if (guard === undefined) {
      guard = createGuard(config, deps.limiter, api.keyHeader);
      guards.set(api.keyHeader, guard);
    }
    app.post(
      api.path,
      door.route(api.path, true, completionRoute(api, { ...routeDeps, guard }), api.errorDialect),
    );
  }
  // Background responses made here, by id; every other id goes to the upstream (background-routes.ts).
  const passthrough = passthroughRoute(routeDeps);
  const background = backgroundResponseRoutes(routeDeps, passthrough);
  app.get('/v1/responses/:id', door.route('/v1/responses/{id}', true, background.retrieve));
  app.post('/v1/responses/:id/cancel', door.route('/v1/responses/{id}/cancel', true, background.cancel));
  app.delete('/v1/responses/:id', door.route('/v1/responses/{id}', true, background.remove));
  // The Batch API: its files (uploads may be as large as FILES_MAX_BYTES) and batches.
  const uploadGuard = createGuard(
    { ...config, MAX_BODY_BYTES: config.FILES_MAX_BYTES + MULTIPART_OVERHEAD_BYTES },
    deps.limiter,
  );
  const batch = batchRoutes(routeDeps, uploadGuard);
  app.post('/v1/files', door.route('/v1/files', true, batch.uploadFile));
  app.get('/v1/files', door.route('/v1/files', true, batch.listFiles));
  app.get('/v1/files/:id', door.route('/v1/files/{id}', true, batch.getFile));
  app.get('/v1/files/:id/content', door.route('/v1/files/{id}/content', true, batch.fileContent));
  app.delete('/v1/files/:id', door.route('/v1/files/{id}', true, batch.deleteFile));
  app.post('/v1/batches', door.route('/v1/batches', true, batch.createBatch));
  app.get('/v1/batches', door.route('/v1/batches', true, batch.listBatches));
  app.get('/v1/batches/:id', door.route('/v1/batches/{id}', true, batch.getBatch));
  app.post('/v1/batches/:id/cancel', door.route('/v1/batches/{id}/cancel', true, batch.cancelBatch));
  // A mount path, not a `/v1/{*rest}` pattern: nothing decodes the client's path on the way.
  app.use('/v1', door.route('/v1/*', true, passthrough));
  // Probes stay reachable under load: they do not count against MAX_INFLIGHT.
  app.get('/health', door.route('/health', false, health(routeDeps)));
  app.get('/ready', door.route('/ready', false, ready(routeDeps)));
  app.get('/metrics', door.route('/metrics', false, metricsRoute(routeDeps)));
  // The operator's routes, last: a request on the completion path never walks past them.
  if (config.ADMIN_API_KEYS.length > 0)
    addAdminRoutes(app, door, {
      config,
      completer: deps.completer,
      upstreams: deps.upstreams,
      board: deps.board,
      capacity: deps.capacity?.store,
    });
  app.use((req, res, next) => {
    const label: RouteLabel = PROBE_ROUTES.has(req.path) ? (req.path as RouteLabel) : 'other';
    door.route(label, true, () => {
      throw notFound(req.method, req.originalUrl);
    })(req, res, next);
  });
  // An error Express raised itself, outside every route handler: answered the same way.
  app.use((error: unknown, req: express.Request, res: express.Response, next: express.NextFunction) => {
    door.route('other', false, () => {
      throw error;
    })(req, res, next);
  });
  return app;
}
