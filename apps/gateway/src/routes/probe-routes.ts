import type { RouteHandler } from '../pipeline/request-door.js';
import type { RouteDeps } from './route-deps.js';

/** Probes and scrapes: answered before any limit, and not counted as traffic in the stats line. */
export const PROBE_ROUTES: ReadonlySet<string> = new Set(['/health', '/ready', '/metrics']);

/** `GET /health`: liveness — the process answers; `status` says `degraded` when Redis is away. */
export function health(deps: RouteDeps): RouteHandler {
  return (_req, res) => {
    res.json({
      status: deps.completer.isReady() ? 'ok' : 'degraded',
      pid: process.pid,
      mode: deps.completer.mode,
    });
  };
}

/** `GET /ready`: readiness — 200 only when Redis (queue mode) and at least one upstream are usable. */
export function ready(deps: RouteDeps): RouteHandler {
  return (_req, res) => {
    const queue = deps.completer.isReady();
    const upstreams = deps.relay.upstreams.anyHealthy();
    const watched = deps.completer.liveWorkers() !== undefined;
    const workers = !deps.completer.workersMissing();
    const ready = queue && upstreams && workers;
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not_ready',
      mode: deps.completer.mode,
      checks: {
        queue: queue ? 'ok' : 'unavailable',
        upstreams: upstreams ? 'ok' : 'all_cooling_down',
        ...(watched ? { workers: workers ? 'ok' : 'no_workers' } : {}),
      },
    });
  };
}

/**
 * `GET /metrics`: Prometheus text. The queue-depth gauge is sampled here, at scrape time; when
 * the queue cannot be read (standalone mode, Redis away) the gauge is emptied rather than left
 * at its last value, so a dashboard shows a gap instead of a stale depth.
 */
export function metrics(deps: RouteDeps): RouteHandler {
  return async (_req, res) => {
    const counts = await deps.completer.sampleQueue().catch(() => ({}));
    deps.metrics.queueJobs.reset();
    for (const [state, count] of Object.entries(counts)) deps.metrics.queueJobs.set({ state }, count);
    const liveWorkers = deps.completer.liveWorkers();
    if (liveWorkers === undefined) deps.metrics.workersAlive.reset();
    else deps.metrics.workersAlive.set(liveWorkers);
    res.setHeader('cache-control', 'no-store');
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  };
}
