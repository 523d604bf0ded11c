import type { Counter, Histogram } from 'prom-client';
import type { UpstreamObserver, UpstreamOutcome } from '../upstream/call-upstream.js';

export interface UpstreamMetrics {
  upstreamRequests: Counter<'upstream' | 'outcome'>;
  upstreamFirstByte: Histogram<'upstream'>;
}

/**
 * Counts every upstream call by upstream and outcome, and times its first byte. The labelled
 * series are looked up once per upstream and outcome, not hashed again on every call.
 */
export function upstreamObserver(metrics: UpstreamMetrics): UpstreamObserver {
  const counters = new Map<string, ReturnType<UpstreamMetrics['upstreamRequests']['labels']>>();
  const firstBytes = new Map<string, ReturnType<UpstreamMetrics['upstreamFirstByte']['labels']>>();
  return (upstream, outcome: UpstreamOutcome, firstByteSeconds) => {
    const key = `${upstream.label}\n${outcome}`;
    let counter = counters.get(key);
    if (counter === undefined) {
      counter = metrics.upstreamRequests.labels({ upstream: upstream.label, outcome });
      counters.set(key, counter);
    }
    counter.inc();
    let firstByte = firstBytes.get(upstream.label);
    if (firstByte === undefined) {
      firstByte = metrics.upstreamFirstByte.labels({ upstream: upstream.label });
      firstBytes.set(upstream.label, firstByte);
    }
    firstByte.observe(firstByteSeconds);
  };
}
