import type { Upstream } from './upstream.js';

/**
 * The upstreams that serve one model, and the rule that picks one: at random among the healthy
 * ones, each in proportion to its weight; when every candidate is cooling down, the one that
 * recovers first, rather than refusing outright. Failover picks again from the same group, so a
 * request never leaves the upstreams that serve its model.
 */
export class UpstreamGroup {
  constructor(
    readonly members: readonly Upstream[],
    /** A bounded metric and log label: its upstreams' labels (configuration, never client input). */
    readonly label: string,
    private readonly random: () => number = Math.random,
  ) {}

  /** An upstream not in `excluded`, or undefined when every one was tried. */
  pick(excluded: ReadonlySet<Upstream>, nowMs = Date.now()): Upstream | undefined {
    let healthyWeight = 0;
    let untried = 0;
    for (const upstream of this.members) {
      if (excluded.has(upstream)) continue;
      untried += 1;
      if (upstream.health.isHealthy(nowMs)) healthyWeight += upstream.weight;
    }
    if (untried === 0) return undefined;
    if (healthyWeight > 0) {
      let point = this.random() * healthyWeight;
      let last: Upstream | undefined;
      for (const upstream of this.members) {
        if (excluded.has(upstream) || !upstream.health.isHealthy(nowMs)) continue;
        last = upstream;
        point -= upstream.weight;
        if (point < 0) return upstream;
      }
      // Rounding can leave the point a hair past the end: the last healthy one takes it.
      return last;
    }
    let first: Upstream | undefined;
    for (const upstream of this.members) {
      if (excluded.has(upstream)) continue;
      if (first === undefined || upstream.health.recoversAt < first.health.recoversAt) first = upstream;
    }
    return first;
  }
}
