import type { GatewayMetrics, Logger } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';

/** Paths that are route labels as they are; any other `/v1/...` is `/v1/*`, the rest `other`. */
const KNOWN_ROUTES = new Set([
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/models',
  '/health',
  '/ready',
  '/metrics',
]);

/**
 * The bounded `route` label: what the route named itself in `res.locals.route`, else (a request
 * refused by a guard or a body check before its route handler ran) the known path it asked for.
 */
function routeLabel(named: unknown, originalUrl: string): string {
  if (typeof named === 'string') return named;
  const query = originalUrl.indexOf('?');
  const path = query < 0 ? originalUrl : originalUrl.slice(0, query);
  if (KNOWN_ROUTES.has(path)) return path;
  return path.startsWith('/v1/') ? '/v1/*' : 'other';
}

/**
 * One log line and the request's metrics samples, when the response ends (or the client
 * leaves); route labels stay bounded (`routeLabel`). The completion handler leaves what only
 * it knows in `res.locals`: `queued` (sent through the queue), `queueWaitMs` (from the worker's
 * result), `upstream`, and `answerStatus` (the answer's own status once a keep-alive 200 went out).
 */
export function accessLog(logger: Logger, metrics: GatewayMetrics, mode: string): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    let done = false;
    metrics.inFlight.inc();
    const finish = () => {
      if (done) return;
      done = true;
      metrics.inFlight.dec();
      const seconds = (performance.now() - started) / 1000;
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      const route = routeLabel(res.locals.route, req.originalUrl);
      const labels = { route, method: req.method, status };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      const queueWaitMs = typeof res.locals.queueWaitMs === 'number' ? res.locals.queueWaitMs : undefined;
      if (queueWaitMs !== undefined) metrics.queueWait.observe(queueWaitMs / 1000);
      const answerStatus =
        status !== 'aborted' && typeof res.locals.answerStatus === 'number'
          ? String(res.locals.answerStatus)
          : status;
      if (res.locals.queued === true)
        metrics.queuedRequestDuration.observe({ status: answerStatus }, seconds);
      logger.info(
        {
          requestId: res.locals.requestId,
          method: req.method,
          path: req.path,
          status,
          ...(answerStatus === status ? {} : { answerStatus }),
          durationMs: Math.round(seconds * 1000),
          mode,
          upstream: res.locals.upstream,
          queueWaitMs,
        },
        'request',
      );
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };
}
