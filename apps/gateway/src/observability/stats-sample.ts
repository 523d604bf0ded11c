import { counterSum, type StatsTotals } from '@openai-proxy/shared';
import { PROBE_ROUTES } from '../routes/probe-routes.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** Answered requests (probes aside); errors are 5xx answers (the proxy or its upstream failed). */
export function gatewayStatsSample(metrics: GatewayMetrics): () => Promise<StatsTotals> {
  const traffic = (labels: { route?: string | number }) => !PROBE_ROUTES.has(String(labels.route));
  return async () => ({
    requests: await counterSum(metrics.httpRequests, traffic),
    errors: await counterSum(
      metrics.httpRequests,
      (labels) => traffic(labels) && String(labels.status).startsWith('5'),
    ),
  });
}
