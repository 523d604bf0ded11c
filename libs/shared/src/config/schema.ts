import { availableParallelism } from 'node:os';
import { z } from 'zod';
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
 * Every environment variable the proxy reads, with its default. The README's configuration
 * table mirrors this file; `deploy/` files may only set variables named here (a test checks).
 */

/** Variables both the gateway and the workers read: where upstreams are and how to call them. */
export const upstreamVars = {
  UPSTREAM_API_URL: upstreamUrlsVar(),
  /** One key for every upstream, or one per URL in the same order. Empty: the client's own key is passed on. */
  UPSTREAM_API_KEY: listVar(),
  /** Add `stream_options.include_usage` to upstream calls so folded answers carry usage. */
  UPSTREAM_INCLUDE_USAGE: boolVar(true),
  /** Connections per upstream (undici Pool). Each streaming request holds one for its whole life. */
  UPSTREAM_CONNECTIONS: intVar(2048, 1),
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

export const commonVars = {
  ...upstreamVars,
  /** Unset: standalone mode (no queue). */
  REDIS_URL: optionalStringVar(),
  /** Prefix of every Redis key and channel; keep the braces (Redis Cluster hash tag). */
  QUEUE_PREFIX: stringVar('{oaip}'),
  QUEUE_NAME: stringVar('completions'),
  LOG_LEVEL: logLevelVar(),
  /** Human-readable logs instead of JSON (used by `npm run dev`). */
  LOG_PRETTY: boolVar(false),
  /** Seconds between the per-process stats log line; 0 turns it off. */
  STATS_INTERVAL_SECONDS: intVar(30, 0),
} as const;

/**
 * Guarding the door (issue 5): what a client may send and how often. Bodies and headers are
 * bounded before they are read in full; slow clients are cut off; keys are compared in constant
 * time and never stored in clear. README, "Security", has the statuses each check answers with.
 */
export const guardVars = {
  /** Largest request body: 413 before the body is read when Content-Length says more, else once it passes. */
  MAX_BODY_BYTES: intVar(10_485_760, 1),
  /** Deepest nesting of objects and arrays in a JSON body (deep JSON is costly to copy and serialise). */
  MAX_JSON_DEPTH: intVar(100, 1),
  /** Largest request head (request line and headers); larger gets 431. Node's own default. */
  MAX_HEADER_BYTES: intVar(16_384, 1_024),
  /** Time a client has to send the request head; then 408 and the connection closes (slow-loris). */
  CLIENT_HEADERS_TIMEOUT_MS: intVar(60_000, 1),
  /** Time a client has to send the whole request, body included (not to wait for the answer). 0: off. */
  CLIENT_REQUEST_TIMEOUT_MS: intVar(300_000, 0),
  /** Keys clients must present as `Authorization: Bearer <key>`. Empty: open, the client's key passes on. */
  GATEWAY_API_KEYS: listVar(),
  /** Requests per client (its key, or its IP without one) per window, shared through Redis. 0: off. */
  RATE_LIMIT_REQUESTS: intVar(0, 0),
  RATE_LIMIT_WINDOW_SECONDS: intVar(60, 1),
  /** Proxies in front of the gateway whose `X-Forwarded-For` is trusted for the client IP. 0: none. */
  TRUST_PROXY_HOPS: intVar(0, 0),
} as const;

export const gatewayVars = {
  ...commonVars,
  ...guardVars,
  PORT: intVar(3000, 0, 65_535),
  HOST: stringVar('0.0.0.0'),
  GATEWAY_PROCESSES: intVar(1, 1),
  /** Non-stream requests: how long the client may wait for its folded answer, queue time included. */
  REQUEST_TIMEOUT_MS: intVar(900_000, 1),
  /** Waiters older than this re-check the job's stored result, in case a pub/sub message was missed. */
  RESULT_POLL_INTERVAL_MS: intVar(5_000, 50),
  /** How long a worker keeps a job's result in Redis for a gateway that missed the message. */
  RESULT_TTL_SECONDS: intVar(60, 1),
  SHUTDOWN_GRACE_MS: intVar(30_000, 0),
  /** Requests this gateway process handles at once; past it, 503 with Retry-After. */
  MAX_INFLIGHT: intVar(5_000, 1),
  /** Jobs waiting in the queue; past it, new non-stream requests get 503 with Retry-After. */
  MAX_QUEUE_DEPTH: intVar(10_000, 1),
  /**
   * Non-stream requests: after this many ms without an answer, send the 200 status and then a
   * space every interval until the JSON is ready (JSON allows leading whitespace), for load
   * balancers that drop idle responses. Errors after that point travel in the body. 0: off.
   */
  NONSTREAM_KEEPALIVE_MS: intVar(0, 0),
} as const;

export const workerVars = {
  ...commonVars,
  WORKER_PROCESSES: intVar(availableParallelism(), 1),
  WORKER_CONCURRENCY: intVar(256, 1),
  /** How often BullMQ looks for jobs whose worker died; with the lock duration it bounds recovery time. */
  WORKER_STALLED_INTERVAL_MS: intVar(5_000, 50),
  WORKER_LOCK_DURATION_MS: intVar(10_000, 100),
  /** The cluster primary's /metrics and /health (all children summed); 0 turns it off. */
  WORKER_METRICS_PORT: intVar(9464, 0, 65_535),
  WORKER_METRICS_HOST: stringVar('0.0.0.0'),
  RESULT_TTL_SECONDS: intVar(60, 1),
  SHUTDOWN_GRACE_MS: intVar(30_000, 0),
} as const;

export const gatewaySchema = z.object(gatewayVars);
export const workerSchema = z.object(workerVars);

export type GatewayConfig = z.infer<typeof gatewaySchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
export type UpstreamConfig = Pick<GatewayConfig, keyof typeof upstreamVars>;

/** Every variable name either app reads (for checks of deploy files). */
export const knownEnvVars: readonly string[] = [
  ...new Set([...Object.keys(gatewayVars), ...Object.keys(workerVars)]),
].sort();
