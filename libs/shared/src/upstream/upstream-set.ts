import type { UpstreamConfig } from '../config/schema.js';
import { HealthProbes } from './health-probes.js';
import { Upstream } from './upstream.js';
import { UpstreamGroup } from './upstream-group.js';
import { type UpstreamSpec, upstreamSpecs } from './upstream-specs.js';

type Env = Record<string, string | undefined>;

/** Bounded, readable metric labels: the host, with a number only when two URLs share one. */
function labelsFor(urls: string[]): string[] {
  const hosts = urls.map((url) => new URL(url).host);
  return hosts.map((host, index) =>
    hosts.indexOf(host) === hosts.lastIndexOf(host)
      ? host
      : `${host}#${hosts.slice(0, index + 1).filter((h) => h === host).length}`,
  );
}

/** One configuration's upstreams, and the groups of them that serve a model. */
class RoutingTable {
  readonly all: readonly Upstream[];
  /** Every upstream, for a request that names no model (pass-through of `/v1/files`, say). */
  readonly everyone: UpstreamGroup;
  /** True when every upstream serves every model (UPSTREAM_API_URL): no lookup per request. */
  private readonly servesAll: boolean;
  /**
   * Groups by which upstreams they hold: bounded by the configuration, whatever model names
   * clients send (a map by model name would grow with every name a client makes up).
   */
  private readonly groups = new Map<string, UpstreamGroup>();

  constructor(
    specs: readonly UpstreamSpec[],
    cooldown: { cooldownMs: number; cooldownMaxMs: number },
    private readonly random: () => number,
    previous: RoutingTable | undefined,
  ) {
    const labels = labelsFor(specs.map((spec) => spec.url));
    const unclaimed = new Set(previous?.all ?? []);
    this.all = specs.map((spec, index) => {
      const label = labels[index] ?? spec.url;
      const old = [...unclaimed].find((upstream) => upstream.label === label && upstream.reachedLike(spec));
      if (old !== undefined) unclaimed.delete(old);
      return new Upstream({ spec, label, ...cooldown, previous: old });
    });
    this.servesAll = this.all.every((upstream) => upstream.spec.models === undefined);
    this.everyone = this.groupOf(this.all);
  }

  groupFor(model: string | undefined): UpstreamGroup | undefined {
    if (model === undefined || this.servesAll) return this.everyone;
    const members = this.all.filter((upstream) => upstream.serves(model));
    return members.length === 0 ? undefined : this.groupOf(members);
  }

  private groupOf(members: readonly Upstream[]): UpstreamGroup {
    const key = members.map((upstream) => this.all.indexOf(upstream)).join(',');
    let group = this.groups.get(key);
    if (group === undefined) {
      const label = members.length === this.all.length ? 'all' : members.map((u) => u.label).join('+');
      group = new UpstreamGroup(members, label, this.random);
      this.groups.set(key, group);
    }
    return group;
  }
}

/**
 * The configured upstreams: from UPSTREAM_API_URL (every upstream serves every model) or
 * UPSTREAMS_FILE (each serves the models it lists). A request asks for the group serving its
 * model and keeps it for its whole life; `reload` swaps the table underneath, so a request in
 * flight finishes on the upstreams it started with, and an upstream the new file drops closes its
 * pool once its last request has ended.
 */
export class UpstreamSet {
  private table: RoutingTable;
  private closing: Promise<void> | undefined;
  /** Dropped by a reload, their pools closing as their last requests end. */
  private readonly retiring = new Set<Upstream>();
  private readonly cooldown: { cooldownMs: number; cooldownMaxMs: number };
  private readonly random: () => number;
  private readonly probes: HealthProbes;

  constructor(config: UpstreamConfig, options: { env?: Env; random?: () => number } = {}) {
    this.random = options.random ?? Math.random;
    this.cooldown = {
      cooldownMs: config.UPSTREAM_COOLDOWN_MS,
      cooldownMaxMs: config.UPSTREAM_COOLDOWN_MAX_MS,
    };
    this.table = new RoutingTable(
      upstreamSpecs(config, options.env ?? process.env),
      this.cooldown,
      this.random,
      undefined,
    );
    this.probes = new HealthProbes(() => this.table.all);
  }

  get all(): readonly Upstream[] {
    return this.table.all;
  }

  /** The upstreams serving `model` (every one when no model is named); undefined when none does. */
  groupFor(model: string | undefined): UpstreamGroup | undefined {
    return this.table.groupFor(model);
  }

  /**
   * The models a client can be told about without asking an upstream: the union of what each
   * upstream lists, in file order. Undefined when any upstream serves every model or a glob.
   */
  listedModels(): string[] | undefined {
    const names = new Set<string>();
    for (const upstream of this.table.all) {
      const listed = upstream.listedModels;
      if (listed === undefined) return undefined;
      for (const name of listed) names.add(name);
    }
    return [...names];
  }

  /**
   * Routes new requests by `specs` from now on. Upstreams reached the same way keep their pool
   * and health; the pools of the others close once their requests end.
   */
  replace(specs: readonly UpstreamSpec[]): void {
    if (this.closing !== undefined) return;
    const old = this.table;
    this.table = new RoutingTable(specs, this.cooldown, this.random, old);
    const kept = new Set(this.table.all.map((upstream) => upstream.pool));
    for (const upstream of old.all) {
      if (kept.has(upstream.pool)) continue;
      this.retiring.add(upstream);
      void upstream
        .retire()
        .catch(() => undefined)
        .then(() => this.retiring.delete(upstream));
    }
  }

  /** At shutdown every pool ends now, a retiring one too: nothing is left to wait for. */
  close(): Promise<void> {
    this.probes.stop();
    this.closing ??= Promise.all(
      [...this.table.all, ...this.retiring].map((upstream) => upstream.close().catch(() => undefined)),
    ).then(() => undefined);
    return this.closing;
  }
}
