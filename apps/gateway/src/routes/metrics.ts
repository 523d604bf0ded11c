import { Router } from 'express';
import type { RouteDeps } from './route-deps.js';

/** `GET /metrics`: Prometheus text; the queue-depth gauge is sampled at scrape time. */
export function metricsRoute(deps: RouteDeps): Router {
  return Router().get('/metrics', async (_req, res) => {
    res.locals.route = '/metrics';
    const counts = await deps.completer.sampleQueue().catch(() => ({}));
    for (const [state, count] of Object.entries(counts)) deps.metrics.queueJobs.set({ state }, count);
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
}
