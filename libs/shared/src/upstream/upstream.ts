import type { UpstreamTimeouts } from './call-upstream.js';
import { TimedPool } from './connection-waits.js';
import { ModelPattern } from './model-pattern.js';
import { UpstreamHealth } from './upstream-health.js';
import { type UpstreamPaths, upstreamPathFor, upstreamPaths } from './upstream-paths.js';
import type { UpstreamSpec } from './upstream-specs.js';

export interface UpstreamOptions {
  spec: UpstreamSpec;
  label: string;
  cooldownMs: number;
  cooldownMaxMs: number;
  /**
   * The same upstream from the configuration this one replaces (a reload): its pool and its
   * health carry over when it is reached the same way, so a reload costs no connection and does
   * not forget a cool-down.
   */
  previous?: Upstream | undefined;
}

/**
 * One configured provider endpoint: its keep-alive connection pool, its health, and what it
 * serves (models, aliases, abilities). The URL names the chat-completions endpoint or the base
 * below which it lives (upstream-paths.ts); other `/v1/*` endpoints live beside chat, so
 * `https://host/v1/chat/completions` and `https://host/v1` both serve `/v1/models` at
 * `https://host/v1/models`.
 */
export class Upstream {
  readonly label: string;
  readonly apiKey: string | undefined;
  /** Its connections, each request's wait for one timed (connection-waits.ts). */
  readonly pool: TimedPool;
  readonly health: UpstreamHealth;
  readonly origin: string;
  readonly weight: number;
  readonly includeUsage: boolean;
  readonly timeouts: UpstreamTimeouts;
  readonly spec: UpstreamSpec;
  /** The names a client may ask for here (`models`, then alias names); undefined: every model. */
  private readonly models: ModelPattern | undefined;
  private readonly aliases: ReadonlyMap<string, string>;
  private readonly paths: UpstreamPaths;

  constructor(options: UpstreamOptions) {
    const { spec, previous } = options;
    const url = new URL(spec.url);
    this.spec = spec;
    this.label = options.label;
    this.origin = url.origin;
    this.paths = upstreamPaths(url);
    this.apiKey = spec.apiKey;
    this.weight = spec.weight;
    this.includeUsage = spec.includeUsage;
    this.timeouts = spec.timeouts;
    this.aliases = new Map(Object.entries(spec.aliases));
    this.models = spec.models === undefined ? undefined : new ModelPattern(spec.models);
    if (previous?.reachedLike(spec)) {
      this.pool = previous.pool;
      this.health = previous.health;
    } else {
      this.health = new UpstreamHealth(options.cooldownMs, options.cooldownMaxMs);
      this.pool = new TimedPool(url.origin, {
        connections: spec.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: spec.timeouts.connectMs },
      });
    }
    this.pool.owner = this;
  }

  /** Whether a request for `model` may come here: listed, matched by a glob, or an alias name. */
  serves(model: string): boolean {
    return this.models === undefined || this.aliases.has(model) || this.models.matches(model);
  }

  /** The name this upstream knows `model` by, when it differs (an alias); undefined otherwise. */
  aliasFor(model: string): string | undefined {
    return this.aliases.get(model);
  }

  /** The names it serves, for `GET /v1/models`: undefined when it serves every model or a glob. */
  get listedModels(): readonly string[] | undefined {
    const listed = this.models?.listable;
    return listed === undefined ? undefined : [...listed, ...this.aliases.keys()];
  }

  /** Same origin, connection limit and connect timeout: the pool fits the spec as it is. */
  reachedLike(spec: UpstreamSpec): boolean {
    return (
      new URL(spec.url).origin === this.origin &&
      spec.connections === this.spec.connections &&
      spec.timeouts.connectMs === this.spec.timeouts.connectMs &&
      spec.apiKey === this.spec.apiKey
    );
  }

  /** The upstream path for a client path below `/v1` (e.g. `/models?x=1`). */
  pathFor(v1Subpath: string): string {
    return upstreamPathFor(this.paths, v1Subpath);
  }

  /**
   * A reload dropped it: the pool takes no new request and closes once the requests it holds
   * have ended (undici's graceful close), so no request is cut by a reload.
   */
  retire(): Promise<void> {
    return this.pool.close();
  }

  /**
   * Ends the pool. Called at shutdown, once in-flight work is finished or given up, so it
   * destroys rather than waits: a graceful close would wait on a request whose response body
   * nobody reads any more, and a process must never hang on its way out.
   */
  close(): Promise<void> {
    return this.pool.destroy();
  }
}
