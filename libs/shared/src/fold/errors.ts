/**
 * Errors a client can see. Every one has OpenAI's shape:
 * `{"error":{"message","type","param","code"}}`, a stable `code` and an HTTP status.
 * Every code the proxy itself produces is in `ERROR_CODES`, with its status and type; nothing
 * else makes up a code.
 */

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'service_unavailable';

const invalid = (status: number) => ({ status, type: 'invalid_request_error' }) as const;
const upstream = { status: 502, type: 'upstream_error' } as const;
const unavailable = { status: 503, type: 'service_unavailable' } as const;
const timeout = { status: 504, type: 'timeout_error' } as const;

export const ERROR_CODES = {
  invalid_request: invalid(400),
  invalid_path: invalid(400),
  invalid_json: invalid(400),
  invalid_body: invalid(400),
  invalid_type: invalid(400),
  invalid_value: invalid(400),
  missing_required_parameter: invalid(400),
  empty_array: invalid(400),
  json_too_deep: invalid(400),
  bad_http_request: invalid(400),
  missing_api_key: invalid(401),
  invalid_api_key: invalid(401),
  not_found: invalid(404),
  /** No configured upstream serves the requested model (UPSTREAMS_FILE's `models` and `aliases`). */
  model_not_found: invalid(404),
  /** A change asked of the queue dashboard while ADMIN_QUEUE_ACTIONS is off. */
  queue_read_only: invalid(405),
  /** The client took too long to send its request (head or body). */
  request_timeout: invalid(408),
  request_too_large: invalid(413),
  unsupported_media_type: invalid(415),
  unsupported_charset: invalid(415),
  unsupported_content_encoding: invalid(415),
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  request_headers_too_large: invalid(431),
  internal_error: { status: 500, type: 'server_error' },
  upstream_unavailable: upstream,
  upstream_stream_error: upstream,
  upstream_malformed_chunk: upstream,
  upstream_stream_truncated: upstream,
  upstream_stream_empty: upstream,
  /** The worker farm gave up on a job (its worker died more than once). */
  job_failed: { status: 502, type: 'server_error' },
  gateway_overloaded: unavailable,
  queue_full: unavailable,
  queue_unavailable: unavailable,
  /** Queue mode: no worker has beaten for NO_WORKERS_REFUSE_AFTER_MS. */
  no_workers: unavailable,
  /** Queue mode: the job vanished from Redis (a restart without persistence, FLUSHDB, eviction). */
  job_lost: unavailable,
  shutting_down: unavailable,
  connect_timeout: timeout,
  first_byte_timeout: timeout,
  idle_timeout: timeout,
  /** A streamed answer ran past UPSTREAM_TOTAL_TIMEOUT_MS. */
  total_timeout: timeout,
  /** A non-stream answer was not ready by REQUEST_TIMEOUT_MS (queue time included). */
  deadline_exceeded: timeout,
} as const satisfies Record<string, { status: number; type: OpenAIErrorType }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

export interface ProxyErrorOptions {
  param?: string | null;
  /** Seconds, sent as `Retry-After` on 429/503 answers. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** An error with a status and a stable code, rendered to the client in OpenAI's shape. */
export class ProxyError extends Error {
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: ProxyErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProxyError';
    this.type = ERROR_CODES[code].type;
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The HTTP status to answer with: the code's own (an accessor, so a sibling can answer another). */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** What an upstream said about a failure it reported inside a stream: its own status, type and code. */
export interface UpstreamReport {
  status: number;
  type: string;
  code: string | null;
}

/**
 * A failure the upstream reported inside a stream it had already answered 200 to (a Responses
 * `error` event with `insufficient_quota`, an Anthropic `overloaded_error`, ...). The status, type
 * and code the client sees are the ones the upstream's API gives that failure on a non-stream call,
 * not the proxy's: they are not in `ERROR_CODES`, which lists only what the proxy itself says. To
 * the proxy (logs, metrics, retries) it is an `upstream_stream_error`; `errorAnswer` and `sendError`
 * render it unchanged, through `status` and `toBody`.
 */
export class UpstreamReportedError extends ProxyError {
  constructor(
    readonly report: UpstreamReport,
    message: string,
    options: Pick<ProxyErrorOptions, 'param'> = {},
  ) {
    super('upstream_stream_error', message, options);
    this.name = 'UpstreamReportedError';
  }

  override get status(): number {
    return this.report.status;
  }

  override toBody(): OpenAIErrorBody {
    const { type, code } = this.report;
    return { error: { message: this.message, type, param: this.param, code } };
  }
}

export function isProxyError(value: unknown): value is ProxyError {
  return value instanceof ProxyError;
}

/** An unexpected failure: no internals leak, the request id lets operators find the log line. */
export function internalError(requestId: string, cause?: unknown): ProxyError {
  return new ProxyError(
    'internal_error',
    `The proxy failed unexpectedly while handling this request (request id ${requestId}).`,
    { cause },
  );
}

/** Any failure as the ProxyError a client sees: a ProxyError as is, anything else a 500. */
export function asProxyError(error: unknown, requestId: string): ProxyError {
  return isProxyError(error) ? error : internalError(requestId, error);
}

const TIMEOUT_CODES = {
  connect: 'connect_timeout',
  'first byte': 'first_byte_timeout',
  idle: 'idle_timeout',
} as const satisfies Record<string, ErrorCode>;

/** Shorthands for the errors raised in more than one place. */
export const errors = {
  badRequest: (message: string, param: string | null = null, code: ErrorCode = 'invalid_request') =>
    new ProxyError(code, message, { param }),
  upstreamStream: (message: string, code: ErrorCode, cause?: unknown) =>
    new ProxyError(code, message, { cause }),
  upstreamUnavailable: (message: string, cause?: unknown) =>
    new ProxyError('upstream_unavailable', message, { cause }),
  timeout: (which: keyof typeof TIMEOUT_CODES, ms: number) =>
    new ProxyError(TIMEOUT_CODES[which], `The upstream ${which} timeout (${ms} ms) expired.`),
  unavailable: (message: string, code: ErrorCode, retryAfterSeconds = 1) =>
    new ProxyError(code, message, { retryAfterSeconds }),
  /** OpenAI's own words for a model it does not serve, before any upstream is called. */
  modelNotFound: (model: string) =>
    new ProxyError(
      'model_not_found',
      `The model \`${model}\` does not exist or you do not have access to it.`,
    ),
} as const;
