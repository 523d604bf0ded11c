/**
 * Errors a client can see. Every one has OpenAI's shape:
 * `{"error":{"message","type","param","code"}}`, a stable `code` and an HTTP status.
 */

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'service_unavailable';

export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

export interface ProxyErrorOptions {
  status: number;
  code: string;
  type: OpenAIErrorType;
  param?: string | null;
  /** Seconds, sent as `Retry-After` on 429/503 answers. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** An error with a status and a stable code, rendered to the client in OpenAI's shape. */
export class ProxyError extends Error {
  readonly status: number;
  readonly code: string;
  readonly type: OpenAIErrorType;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options: ProxyErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProxyError';
    this.status = options.status;
    this.code = options.code;
    this.type = options.type;
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function isProxyError(value: unknown): value is ProxyError {
  return value instanceof ProxyError;
}

/** The body for an unexpected failure: no internals leak, the request id lets operators find the log line. */
export function internalErrorBody(requestId: string): OpenAIErrorBody {
  return {
    error: {
      message: `The proxy failed unexpectedly while handling this request (request id ${requestId}).`,
      type: 'server_error',
      param: null,
      code: 'internal_error',
    },
  };
}

/** Constructors for the errors the proxy itself produces, so codes stay stable in one place. */
export const errors = {
  badRequest: (message: string, param: string | null = null, code = 'invalid_request') =>
    new ProxyError(message, { status: 400, code, type: 'invalid_request_error', param }),
  upstreamStream: (message: string, code: string, cause?: unknown) =>
    new ProxyError(message, { status: 502, code, type: 'upstream_error', cause }),
  upstreamUnavailable: (message: string, cause?: unknown) =>
    new ProxyError(message, { status: 502, code: 'upstream_unavailable', type: 'upstream_error', cause }),
  timeout: (which: string, ms: number) =>
    new ProxyError(`The upstream ${which} timeout (${ms} ms) expired.`, {
      status: 504,
      code: `${which.replaceAll(' ', '_')}_timeout`,
      type: 'timeout_error',
    }),
  unavailable: (message: string, code: string, retryAfterSeconds = 1) =>
    new ProxyError(message, { status: 503, code, type: 'service_unavailable', retryAfterSeconds }),
} as const;
