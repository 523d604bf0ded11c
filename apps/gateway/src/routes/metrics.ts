import { Router } from 'express';
import type { RouteDeps } from './route-deps.js';

/**
 * `GET /metrics`: Prometheus text. The queue-depth gauge is sampled here, at scrape time; when
 * the queue cannot be read (standalone mode, Redis away) the gauge is emptied rather than left
 * at its last value, so a dashboard shows a gap instead of a stale depth.
 */
export function metricsRoute(deps: RouteDeps): Router {
  return Router().get('/metrics', async (_req, res) => {
    res.locals.route = '/metrics';
    const counts = await deps.completer.sampleQueue().catch(() => ({}));
    deps.metrics.queueJobs.reset();
    for (const [state, count] of Object.entries(counts)) deps.metrics.queueJobs.set({ state }, count);
    res.setHeader('cache-control', 'no-store');
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
