import { boolVar, commonVars, type Env, intVar, listVar, loadConfig, stringVar } from '@openai-proxy/shared';
import { z } from 'zod';

/**
 * Guarding the door: what a client may send and how often. Bodies and headers are bounded
 * before they are read in full; slow clients are cut off; keys are compared in constant time
 * and never stored in clear. README, "Security", has the statuses each check answers with.
 */
const guardVars = {
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
  /** Browser origins (exact, e.g. `https://app.example.com`) allowed to call the proxy. Empty: no CORS. */
  CORS_ORIGINS: listVar(),
} as const;

/**
 * The operator's pages: `/admin/status` and the queue dashboard at `/admin/queues`. Off (404)
 * until keys are set; what they show of a job never includes a client's key, and its messages
 * only when asked for.
 */
const adminVars = {
  /** Keys for the admin routes (`Authorization: Bearer <key>`, or a browser's Basic password). Empty: no admin routes. */
  ADMIN_API_KEYS: listVar(),
  /** Lets the queue dashboard retry, remove, pause and clean jobs; read-only otherwise. */
  ADMIN_QUEUE_ACTIONS: boolVar(false),
  /** Shows a job's request body (the prompt) in the queue dashboard; hidden otherwise. */
  ADMIN_SHOW_CONTENT: boolVar(false),
} as const;

/** Every variable the gateway reads, with its default. */
export const gatewayVars = {
  ...commonVars,
  ...guardVars,
  ...adminVars,
  PORT: intVar(3000, 0, 65_535),
  HOST: stringVar('0.0.0.0'),
  GATEWAY_PROCESSES: intVar(1, 1),
  /**
   * Connections the kernel keeps for the gateway to accept (listen(2)'s backlog; the kernel caps it
   * at net.core.somaxconn). Node's own 511 overflows when thousands of clients connect at once, and
   * an overflowed connection waits out TCP's SYN retries (1, 3, 7, 15, 31 s).
   */
  LISTEN_BACKLOG: intVar(65_535, 1),
  /** Non-stream requests: how long the client may wait for its folded answer, queue time included. */
  REQUEST_TIMEOUT_MS: intVar(900_000, 1),
  /** Waiters older than this re-check the job's stored result, in case a pub/sub message was missed. */
  RESULT_POLL_INTERVAL_MS: intVar(5_000, 50),
  /** Requests this gateway process handles at once; past it, 503 with Retry-After. */
  MAX_INFLIGHT: intVar(5_000, 1),
  /** Jobs waiting in the queue; past it, new non-stream requests get 503 with Retry-After. */
  MAX_QUEUE_DEPTH: intVar(10_000, 1),
  /**
   * Queue mode: after this many ms without a live worker, new non-stream requests get a quick 503
   * `no_workers` (queued jobs keep waiting) and /ready says not ready. 0: off, for farms that
   * scale to zero and start workers when jobs wait.
   */
  NO_WORKERS_REFUSE_AFTER_MS: intVar(20_000, 0),
  /**
   * Non-stream requests: after this many ms without an answer, send the 200 status and then a
   * space every interval until the JSON is ready (JSON allows leading whitespace), for load
   * balancers that drop idle responses. Errors after that point travel in the body. 0: off.
   */
  NONSTREAM_KEEPALIVE_MS: intVar(0, 0),
  /**
   * Queue mode, a stream to a group with limits (`rpm`, `tpm`, `max_concurrency`): how long it may
   * wait for an upstream's room before it gets the 429 with the computed Retry-After.
   */
  STREAM_CAPACITY_WAIT_MS: intVar(2_000, 0),
  /**
   * Queue mode: the most non-stream requests one client (its key, or its address without keys)
   * may have queued or running at once; past it, 429 while the others keep their turn. 0: off.
   */
  KEY_MAX_QUEUED: intVar(0, 0),
} as const;

export const gatewaySchema = z.object(gatewayVars);
export type GatewayConfig = z.infer<typeof gatewaySchema>;

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  const config = loadConfig(gatewaySchema, env);
  // A pool as large as the requests this process may hold: none of them waits for a connection.
  return config.UPSTREAM_CONNECTIONS === 0
    ? { ...config, UPSTREAM_CONNECTIONS: config.MAX_INFLIGHT }
    : config;
}
