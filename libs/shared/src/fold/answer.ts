import { type ErrorDialect, openAIErrorDialect } from './error-dialect.js';
import type { ProxyError } from './errors.js';

/** Token counts of one answer, as the upstream reported them (a count it left out is 0). */
export interface AnswerUsage {
  prompt_tokens: number;
  completion_tokens: number;
}

/**
 * A non-stream answer: one shape from the fold, through the job protocol, to the gateway that
 * writes it. The body is the final JSON, serialised once and written as is; the rest is what
 * logs and metrics need. A layer that adds fields extends this by intersection.
 */
export interface Answer {
  status: number;
  body: string;
  /** The upstream's metric label; null when none answered. */
  upstream: string | null;
  /** The model the upstream named in its answer; null when it named none. */
  model: string | null;
  /** Null when the upstream reported no usage. */
  usage: AnswerUsage | null;
  /** The proxy's own error code when the answer is one of its errors; null otherwise. */
  errorCode: ProxyError['code'] | null;
  /** The upstream response headers the client should see too (`answerHeaders`), lower-case. */
  headers: Record<string, string>;
}

/** The one way an error becomes an answer, in the dialect of the API the client called. */
export function errorAnswer(
  error: ProxyError,
  upstream: string | null = null,
  dialect: ErrorDialect = openAIErrorDialect,
): Answer {
  return {
    status: error.status,
    body: dialect.errorBody(error),
    upstream,
    model: null,
    usage: null,
    errorCode: error.code,
    // When to try again travels with the answer, as a thrown error's would (sendError).
    headers: error.retryAfterSeconds === undefined ? {} : { 'retry-after': String(error.retryAfterSeconds) },
  };
}
