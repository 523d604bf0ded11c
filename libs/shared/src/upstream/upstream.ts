import { Pool } from 'undici';
import { UpstreamHealth } from './upstream-health.js';

export interface UpstreamOptions {
  url: string;
  label: string;
  apiKey: string | undefined;
  connections: number;
  connectTimeoutMs: number;
  cooldownMs: number;
  cooldownMaxMs: number;
}

const CHAT_SUFFIX = '/chat/completions';

/**
 * One configured provider endpoint: its keep-alive connection pool and its health.
 * `UPSTREAM_API_URL` names the chat-completions URL; other `/v1/*` endpoints live beside it,
 * so `https://host/v1/chat/completions` serves `/v1/models` at `https://host/v1/models`.
 */
export class Upstream {
  readonly label: string;
  readonly chatPath: string;
  readonly apiKey: string | undefined;
  readonly pool: Pool;
  readonly health: UpstreamHealth;
  readonly origin: string;
  private readonly basePath: string;

  constructor(options: UpstreamOptions) {
    const url = new URL(options.url);
    this.label = options.label;
    this.origin = url.origin;
    this.chatPath = url.pathname + url.search;
    this.basePath = url.pathname.endsWith(CHAT_SUFFIX) ? url.pathname.slice(0, -CHAT_SUFFIX.length) : '/v1';
    this.apiKey = options.apiKey;
    this.health = new UpstreamHealth(options.cooldownMs, options.cooldownMaxMs);
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: options.connectTimeoutMs },
    });
  }

  /** The upstream path for a client path below `/v1` (e.g. `/models?x=1`). */
  pathFor(v1Subpath: string): string {
    if (v1Subpath === CHAT_SUFFIX) return this.chatPath;
    return this.basePath + v1Subpath;
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
