import type { UpstreamConfig } from '../config/schema.js';
import { Upstream } from './upstream.js';

/** Bounded, readable metric labels: the host, with a number only when two URLs share one. */
function labelsFor(urls: string[]): string[] {
  const hosts = urls.map((url) => new URL(url).host);
  return hosts.map((host, index) =>
    hosts.indexOf(host) === hosts.lastIndexOf(host)
      ? host
      : `${host}#${hosts.slice(0, index + 1).filter((h) => h === host).length}`,
  );
}

/**
 * The configured upstreams and the rule that picks one: at random among the healthy ones
 * (the original tool's rule); when every candidate is cooling down, the one that recovers
 * first, rather than refusing outright.
 */
export class UpstreamSet {
  readonly all: readonly Upstream[];
  private closing: Promise<void> | undefined;

  constructor(
    config: UpstreamConfig,
    private readonly random: () => number = Math.random,
  ) {
    const labels = labelsFor(config.UPSTREAM_API_URL);
    this.all = config.UPSTREAM_API_URL.map(
      (url, index) =>
        new Upstream({
          url,
          label: labels[index] ?? url,
          apiKey:
            config.UPSTREAM_API_KEY.length > 1 ? config.UPSTREAM_API_KEY[index] : config.UPSTREAM_API_KEY[0],
          connections: config.UPSTREAM_CONNECTIONS,
          connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
          cooldownMs: config.UPSTREAM_COOLDOWN_MS,
          cooldownMaxMs: config.UPSTREAM_COOLDOWN_MAX_MS,
        }),
    );
  }

  /** An upstream not in `excluded`, or undefined when every one was tried. */
  pick(excluded: ReadonlySet<Upstream>, nowMs = Date.now()): Upstream | undefined {
    const candidates = this.all.filter((upstream) => !excluded.has(upstream));
    if (candidates.length === 0) return undefined;
    const healthy = candidates.filter((upstream) => upstream.health.isHealthy(nowMs));
    if (healthy.length > 0) return healthy[Math.floor(this.random() * healthy.length)];
    return candidates.reduce((best, upstream) =>
      upstream.health.recoversAt < best.health.recoversAt ? upstream : best,
    );
  }

  /** True when at least one upstream is not cooling down (readiness). */
  anyHealthy(nowMs = Date.now()): boolean {
    return this.all.some((upstream) => upstream.health.isHealthy(nowMs));
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(this.all.map((upstream) => upstream.close())).then(() => undefined);
    return this.closing;
  }
}
