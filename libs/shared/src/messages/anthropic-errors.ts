/**
 * Errors in Anthropic's terms. The folds throw ProxyErrors (OpenAI's shape, for the chat routes);
 * a Messages route renders them with `proxyErrorToAnthropic`.
 *
 * Anthropic's error types and statuses (its API docs, "Errors"; 402, 409 and 504 from the official
 * SDK's `ErrorType`):
 *
 * | type                  | status | ProxyError type (OpenAI shape) |
 * |-----------------------|--------|--------------------------------|
 * | invalid_request_error | 400    | invalid_request_error          |
 * | authentication_error  | 401    | authentication_error           |
 * | billing_error         | 402    | invalid_request_error          |
 * | permission_error      | 403    | authentication_error           |
 * | not_found_error       | 404    | invalid_request_error          |
 * | conflict_error        | 409    | invalid_request_error          |
 * | request_too_large     | 413    | invalid_request_error          |
 * | rate_limit_error      | 429    | rate_limit_error               |
 * | api_error             | 500    | upstream_error                 |
 * | timeout_error         | 504    | timeout_error                  |
 * | overloaded_error      | 529    | service_unavailable            |
 *
 * An `error` event in a Messages stream (`overloaded_error` is the usual one, which Anthropic says
 * "would normally correspond to an HTTP 529 in a non-streaming context") becomes an
 * UpstreamReportedError with that status and the Anthropic type as its reported `code`, so the
 * client gets what a non-stream call would have answered. An unknown type is a 502
 * `upstream_stream_error`.
 *
 * Rendering: an UpstreamReportedError whose reported code is an Anthropic type keeps that type; any
 * other error (the proxy's own 502 `upstream_stream_truncated`, 503 `queue_full`, 504 timeouts, ...) gets the type of its
 * status from the table, 503 counting as `overloaded_error` and every other status `api_error`. The
 * status is always the ProxyError's own.
 */
import { ProxyError, UpstreamReportedError } from '../openai/errors.js';
import { excerpt } from '../openai/fold-stream.js';
import { isNonEmptyString, isObject } from '../openai/json-merge.js';
import type { JsonObject } from '../openai/types.js';
import type { AnthropicErrorBody, AnthropicErrorType } from './types.js';

const ANTHROPIC_ERRORS: Record<AnthropicErrorType, { status: number; openAIType: string }> = {
  invalid_request_error: { status: 400, openAIType: 'invalid_request_error' },
  authentication_error: { status: 401, openAIType: 'authentication_error' },
  billing_error: { status: 402, openAIType: 'invalid_request_error' },
  permission_error: { status: 403, openAIType: 'authentication_error' },
  not_found_error: { status: 404, openAIType: 'invalid_request_error' },
  conflict_error: { status: 409, openAIType: 'invalid_request_error' },
  request_too_large: { status: 413, openAIType: 'invalid_request_error' },
  rate_limit_error: { status: 429, openAIType: 'rate_limit_error' },
  api_error: { status: 500, openAIType: 'upstream_error' },
  timeout_error: { status: 504, openAIType: 'timeout_error' },
  overloaded_error: { status: 529, openAIType: 'service_unavailable' },
};

export function isAnthropicErrorType(value: unknown): value is AnthropicErrorType {
  return typeof value === 'string' && Object.hasOwn(ANTHROPIC_ERRORS, value);
}

/**
 * The error for an `error` event (an UpstreamReportedError for a type Anthropic documents): `{"type":"error","error":{"type","message"}}` (a top-level
 * `request_id` or `details` may come along and are not needed).
 */
export function anthropicStreamError(event: JsonObject): ProxyError {
  const report = isObject(event.error) ? event.error : {};
  const type = report.type;
  const message = isNonEmptyString(report.message) ? report.message : JSON.stringify(event);
  if (isAnthropicErrorType(type)) {
    const { status, openAIType } = ANTHROPIC_ERRORS[type];
    return new UpstreamReportedError(
      { status, type: openAIType, code: type },
      `The upstream stream failed: ${excerpt(message)}`,
    );
  }
  const named = isNonEmptyString(type) ? ` [${type}]` : '';
  return new ProxyError('upstream_stream_error', `The upstream stream failed${named}: ${excerpt(message)}`);
}

/** A ProxyError as Anthropic would have sent it: the status to answer with and the body. */
export function proxyErrorToAnthropic(error: ProxyError): { status: number; body: AnthropicErrorBody } {
  const reported = error instanceof UpstreamReportedError ? error.report.code : null;
  const type = isAnthropicErrorType(reported) ? reported : anthropicTypeOfStatus(error.status);
  return { status: error.status, body: { type: 'error', error: { type, message: error.message } } };
}

function anthropicTypeOfStatus(status: number): AnthropicErrorType {
  if (status === 503) return 'overloaded_error';
  for (const [type, rule] of Object.entries(ANTHROPIC_ERRORS)) {
    if (rule.status === status && isAnthropicErrorType(type)) return type;
  }
  return 'api_error';
}
