import type { z } from 'zod';
import {
  boolVar,
  intVar,
  listVar,
  logLevelVar,
  optionalStringVar,
  stringVar,
  upstreamUrlsVar,
} from './env-schema.js';

/**
 * The environment variables both apps read, with their defaults; each app adds its own in its
 * `config.ts`. The README's configuration table mirrors them; `deploy/` files may only set
 * variables an app reads (a test checks).
 */

/** Variables both the gateway and the workers read: where upstreams are and how to call them. */
export const upstreamVars = {
  UPSTREAM_API_URL: upstreamUrlsVar(),
  /**
   * A YAML or JSON file of upstreams with the models each serves, weights, aliases and abilities
   * (README, "Routing by model"); instead of UPSTREAM_API_URL. Re-read on SIGHUP.
   */
  UPSTREAMS_FILE: optionalStringVar(),
  /**
   * One key for every upstream, or one per URL in the same order. Empty: the client's own key is
   * passed on, unless GATEWAY_API_KEYS is set (client keys are then the gateway's own and stop at
   * the door: upstreams get no key, which the gateway warns about at start). With UPSTREAMS_FILE,
   * each upstream's `key` is in the file instead.
   */
  UPSTREAM_API_KEY: listVar(),
  /** Add `stream_options.include_usage` to upstream calls so folded answers carry usage (the file's default too). */
  UPSTREAM_INCLUDE_USAGE: boolVar(true),
  /**
   * Connections per upstream (undici Pool) in each process. Each streaming request holds one for
   * its whole life, so a pool smaller than what the process holds at once makes requests wait,
   * unseen but for the connection metrics. 0: as many as the process may hold at once, a
   * gateway's MAX_INFLIGHT, a worker process's WORKER_CONCURRENCY (each app resolves it).
   */
  UPSTREAM_CONNECTIONS: intVar(0, 0),
  /** How many different upstreams one request may try before the first byte. */
  UPSTREAM_MAX_TRIES: intVar(3, 1),
  /** Queued/standalone calls only: retries of a stream that broke mid-way (nothing was sent yet). */
  UPSTREAM_STREAM_RETRIES: intVar(1, 0),
  UPSTREAM_CONNECT_TIMEOUT_MS: intVar(10_000, 1),
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: intVar(300_000, 1),
  UPSTREAM_IDLE_TIMEOUT_MS: intVar(120_000, 1),
  /** 0 disables it: a generation that keeps streaming is never cut; the idle timeout guards stalls. */
  UPSTREAM_TOTAL_TIMEOUT_MS: intVar(0, 0),
  /** First cool-down of a failing upstream; doubles on each further failure up to the max. */
  UPSTREAM_COOLDOWN_MS: intVar(5_000, 0),
  UPSTREAM_COOLDOWN_MAX_MS: intVar(60_000, 0),
} as const;

/**
 * Where Redis is: exactly one of one server, Sentinel or Cluster (redis-topology.ts checks the
 * combination). None at all: the gateway's standalone mode (no queue).
 */
export const redisVars = {
  /** One server: `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  REDIS_URL: optionalStringVar(),
  /** Sentinel: the sentinels as `host:port,…`; with REDIS_SENTINEL_MASTER. */
  REDIS_SENTINELS: listVar(),
  /** Sentinel: the name the sentinels monitor the master by. */
  REDIS_SENTINEL_MASTER: optionalStringVar(),
  /** Sentinel: the password of the sentinels themselves (`requirepass` in sentinel.conf), if any. */
  REDIS_SENTINEL_PASSWORD: optionalStringVar(),
  /** Cluster: some of its nodes as `host:port,…` (the rest are discovered). */
  REDIS_CLUSTER_NODES: listVar(),
  /** Sentinel or Cluster: the ACL user of the Redis nodes (REDIS_URL carries its own). */
  REDIS_USERNAME: optionalStringVar(),
  /** Sentinel or Cluster: the password of the Redis nodes (REDIS_URL carries its own). */
  REDIS_PASSWORD: optionalStringVar(),
} as const;

export const commonVars = {
  ...upstreamVars,
  ...redisVars,
  /** Prefix of every Redis key and channel; keep the braces (Redis Cluster hash tag). */
  QUEUE_PREFIX: stringVar('{oaip}'),
  LOG_LEVEL: logLevelVar(),
  /** Human-readable logs instead of JSON (used by `npm run dev`). */
  LOG_PRETTY: boolVar(false),
  /** Seconds between the per-process stats log line; 0 turns it off. */
  STATS_INTERVAL_SECONDS: intVar(30, 0),
  /** How long a stopping process lets its requests or jobs finish before it exits anyway. */
  SHUTDOWN_GRACE_MS: intVar(30_000, 0),
  /**
   * Queue mode: how long a background response (`POST /v1/responses` with `background: true`) and
   * its events are kept after their last change; also the longest its generation may take.
   */
  BACKGROUND_TTL_SECONDS: intVar(86_400, 1),
  /** Queue mode: the folder that keeps `/v1/files` (batch input and output); shared by every gateway and worker. */
  FILES_DIR: stringVar('data/files'),
  /** Largest file `POST /v1/files` takes. */
  FILES_MAX_BYTES: intVar(209_715_200, 1),
  /** An S3-compatible bucket for the files instead of FILES_DIR (credentials: the AWS SDK's own, e.g. AWS_ACCESS_KEY_ID). */
  FILES_S3_BUCKET: optionalStringVar(),
  /** The S3 endpoint (MinIO, R2, …); empty: AWS. */
  FILES_S3_ENDPOINT: optionalStringVar(),
  FILES_S3_REGION: stringVar('us-east-1'),
  /** A key prefix inside the bucket (e.g. `openai-proxy/`). */
  FILES_S3_PREFIX: stringVar(''),
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most S3-compatible servers need. */
  FILES_S3_FORCE_PATH_STYLE: boolVar(false),
} as const;

export type CommonConfig = z.infer<z.ZodObject<typeof commonVars>>;
export type UpstreamConfig = Pick<CommonConfig, keyof typeof upstreamVars>;
