import type { GatewayMetrics, UpstreamObserver } from '@openai-proxy/shared';

/** Counts every upstream call by upstream and outcome, and times its first byte. */
export function upstreamObserver(metrics: GatewayMetrics): UpstreamObserver {
  return (upstream, outcome, firstByteSeconds) => {
    metrics.upstreamRequests.inc({ upstream: upstream.label, outcome });
    metrics.upstreamFirstByte.observe({ upstream: upstream.label }, firstByteSeconds);
  };
}
