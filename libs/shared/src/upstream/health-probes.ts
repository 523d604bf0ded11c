import type { Upstream } from './upstream.js';

/** How often cooling upstreams with a `health_check` are probed. */
export const HEALTH_PROBE_INTERVAL_MS = 1_000;

/**
 * Active health checks: every interval, each upstream that cools down after a failure of its own
 * and has a `health_check` path gets one GET there (with its key); an answer below 500 ends its
 * cool-down at once, rather than when the timer runs out. An upstream that said when to come back
 * (`Retry-After`) is left to its word. One probe per upstream at a time, bounded by its
 * connect and first-byte timeouts; a probe's failure changes nothing.
 */
export class HealthProbes {
  private readonly timer: NodeJS.Timeout;
  private readonly probing = new Set<Upstream>();

  constructor(
    private readonly upstreams: () => readonly Upstream[],
    intervalMs = HEALTH_PROBE_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => this.probeCooling(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private probeCooling(): void {
    const now = Date.now();
    for (const upstream of this.upstreams()) {
      const path = upstream.spec.healthCheckPath;
      if (path === undefined || this.probing.has(upstream) || !upstream.health.isProbeable(now)) continue;
      this.probing.add(upstream);
      void probe(upstream, path)
        .then((answered) => {
          if (answered) upstream.health.markSuccess();
        })
        .finally(() => this.probing.delete(upstream));
    }
  }
}

/** True when the upstream answered the probe with a status below 500. */
async function probe(upstream: Upstream, path: string): Promise<boolean> {
  const headers: Record<string, string> = {};
  if (upstream.apiKey !== undefined) headers.authorization = `Bearer ${upstream.apiKey}`;
  try {
    const response = await upstream.pool.request({
      path: upstream.pathFor(path),
      method: 'GET',
      headers,
      headersTimeout: upstream.timeouts.firstByteMs,
      bodyTimeout: upstream.timeouts.idleMs,
      signal: AbortSignal.timeout(upstream.timeouts.connectMs + upstream.timeouts.firstByteMs),
    });
    await response.body.dump();
    return response.statusCode < 500;
  } catch {
    return false;
  }
}
