import { collectDefaultMetrics, type Registry } from 'prom-client';

/**
 * prom-client's three `*_total` gauges: a counter's suffix on a value that goes down, which
 * `promtool check metrics` reports and `rate()` would misread. Their totals are the sums of the
 * by-type gauges prom-client exports beside them (`sum(nodejs_active_handles)`).
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * The process's runtime metrics (CPU, memory, heap, event loop lag, GC, handles) under the names
 * the ecosystem's Node.js dashboards query, `process_*` and `nodejs_*`, with no prefix: the
 * Prometheus job label tells a gateway from a worker farm.
 */
export function collectRuntimeMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
}
