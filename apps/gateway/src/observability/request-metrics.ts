import type { GatewayMetrics } from './gateway-metrics.js';

type Series = {
  count: ReturnType<GatewayMetrics['httpRequests']['labels']>;
  duration: ReturnType<GatewayMetrics['httpDuration']['labels']>;
};

/**
 * Counts and times one answered request by route, method and status. Each label set is looked
 * up once and kept: the labels are bounded (route templates, methods Node accepts, statuses),
 * and prom-client would otherwise hash them again on every request.
 */
export function requestMetrics(metrics: GatewayMetrics) {
  const series = new Map<string, Series>();
  return (route: string, method: string, status: string, seconds: number): void => {
    const key = `${route} ${method} ${status}`;
    let found = series.get(key);
    if (found === undefined) {
      const labels = { route, method, status };
      found = { count: metrics.httpRequests.labels(labels), duration: metrics.httpDuration.labels(labels) };
      series.set(key, found);
    }
    found.count.inc();
    found.duration.observe(seconds);
  };
}
