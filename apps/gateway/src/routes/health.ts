import { Router } from 'express';
import type { RouteDeps } from './route-deps.js';

/**
 * `GET /health`: liveness — the process answers; `status` says `degraded` when Redis is away.
 * `GET /ready`: readiness — 200 only when Redis (queue mode) and at least one upstream are usable.
 */
export function healthRoutes(deps: RouteDeps): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.locals.route = '/health';
    res.json({
      status: deps.completer.isReady() ? 'ok' : 'degraded',
      pid: process.pid,
      mode: deps.completer.mode,
    });
  });
  router.get('/ready', (_req, res) => {
    res.locals.route = '/ready';
    const queue = deps.completer.isReady();
    const upstreams = deps.relay.upstreams.anyHealthy();
    res.status(queue && upstreams ? 200 : 503).json({
      status: queue && upstreams ? 'ready' : 'not_ready',
      mode: deps.completer.mode,
      checks: { queue: queue ? 'ok' : 'unavailable', upstreams: upstreams ? 'ok' : 'all_cooling_down' },
    });
  });
  return router;
}
