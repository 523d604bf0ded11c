import { Gauge, Histogram, type Registry } from 'prom-client';
import { connectionUse, watchConnectionWaits } from '../upstream/connection-waits.js';
import type { Upstream } from '../upstream/upstream.js';
import { DURATION_BUCKETS } from './buckets.js';
import type { Logger } from './logger.js';

/** How often the pools are looked at for requests waiting, and how often one upstream's wait is logged at most. */
const LOOK_EVERY_MS = 1_000;
const LOG_EVERY_MS = 60_000;

/**
 * The upstream pools' use, in the process's registry (`prefix`: `openai_proxy_upstream` in a
 * gateway, `openai_proxy_worker_upstream` in a worker): `<prefix>_connections{upstream,state}`
 * (connected, running, queued: waiting for one, read at scrape time) and
 * `<prefix>_connection_wait_seconds{upstream}` (each request's wait before it was sent). While
 * requests wait for a connection, a warning says so, once a minute per upstream, with the setting
 * to raise. Returns the function that stops it.
 */
export function trackUpstreamConnections(
  registry: Registry,
  prefix: 'openai_proxy_upstream' | 'openai_proxy_worker_upstream',
  upstreams: () => readonly Upstream[],
  logger: Logger,
): () => void {
  new Gauge({
    name: `${prefix}_connections`,
    help: 'Connections to each upstream (connected, running: a request on it) and requests queued for one, read at scrape time.',
    labelNames: ['upstream', 'state'],
    registers: [registry],
    aggregator: 'sum',
    collect() {
      this.reset();
      for (const upstream of upstreams()) {
        const use = connectionUse(upstream);
        for (const state of ['connected', 'running', 'queued'] as const)
          this.set({ upstream: upstream.label, state }, use[state]);
      }
    },
  });
  const waits = new Histogram({
    name: `${prefix}_connection_wait_seconds`,
    help: 'Time each upstream request waited for a connection (a free one, or a new one opened) before it was sent.',
    labelNames: ['upstream'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const stopWatching = watchConnectionWaits(upstreams, (label, seconds) =>
    waits.observe({ upstream: label }, seconds),
  );
  const loggedAt = new Map<string, number>();
  const look = setInterval(() => {
    const now = Date.now();
    for (const upstream of upstreams()) {
      const { queued, running } = connectionUse(upstream);
      if (queued === 0 || now - (loggedAt.get(upstream.label) ?? 0) < LOG_EVERY_MS) continue;
      loggedAt.set(upstream.label, now);
      logger.warn(
        { upstream: upstream.label, queued, running, connections: upstream.spec.connections },
        'requests wait for a connection to this upstream: every one it may open is in use; raise UPSTREAM_CONNECTIONS (or its `connections` in UPSTREAMS_FILE)',
      );
    }
  }, LOOK_EVERY_MS);
  look.unref();
  return () => {
    clearInterval(look);
    stopWatching();
  };
}
