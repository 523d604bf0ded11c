import type { ProxyError } from './errors.js';

/**
 * How one API's clients read errors. Each API's descriptor names its dialect, and everything that
 * writes an error for that API (the door, the relay, the fold, the worker, the deadlines) asks the
 * dialect rather than the API. The dialects themselves live with their API: OpenAI's here, as it
 * is the proxy's own shape; Anthropic's in messages/.
 */
export interface ErrorDialect {
  /** The proxy's own error as a body in this dialect, serialised. Its status is the error's own. */
  errorBody(error: ProxyError): string;
  /**
   * An upstream's error body (status 400 and up) rewritten for this dialect's clients. Absent: an
   * upstream's error is relayed as sent (the OpenAI routes' upstreams speak OpenAI's API).
   */
  readonly upstreamErrorBody?: (status: number, body: string) => string;
  /** A header that names every answer's request besides `x-request-id`, for SDKs that read it. */
  readonly requestIdHeader?: string;
}

/** OpenAI's `{"error":{"message","type","param","code"}}`: the proxy's own shape. */
export const openAIErrorDialect: ErrorDialect = {
  errorBody: (error) => JSON.stringify(error.toBody()),
};

/** An upstream's answer body as relayed to a client of `dialect`: as sent unless it rewrites errors. */
export function upstreamBodyIn(dialect: ErrorDialect, status: number, body: string): string {
  return status >= 400 && dialect.upstreamErrorBody !== undefined
    ? dialect.upstreamErrorBody(status, body)
    : body;
}
