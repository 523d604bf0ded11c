import type { GatewayMetrics, Logger } from '@openai-proxy/shared';
import type { RequestHandler } from 'express';

/**
 * One log line and one metrics sample per request, when the response ends (or the client
 * leaves). Routes name themselves in `res.locals.route` so labels stay bounded; anything
 * else is counted as `other`.
 */
export function accessLog(logger: Logger, metrics: GatewayMetrics, mode: string): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    let done = false;
    const route = () => (typeof res.locals.route === 'string' ? res.locals.route : 'other');
    metrics.inFlight.inc({ route: 'all' });
    const finish = () => {
      if (done) return;
      done = true;
      metrics.inFlight.dec({ route: 'all' });
      const seconds = (performance.now() - started) / 1000;
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      const labels = { route: route(), method: req.method, status };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, seconds);
      logger.info(
        {
          requestId: res.locals.requestId,
          method: req.method,
          path: req.path,
          status,
          durationMs: Math.round(seconds * 1000),
          mode,
          upstream: res.locals.upstream,
          queueWaitMs: res.locals.queueWaitMs,
        },
        'request',
      );
    };
    res.on('finish', finish);
    res.on('close', finish);
    next();
  };
}
