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
 * `upstream_stream_error`. The table is an `UpstreamErrorMap`, the shape the OpenAI dialect's
 * in-stream errors are mapped with too.
 *
 * Rendering: an UpstreamReportedError whose reported code is an Anthropic type keeps that type; any
 * other error (the proxy's own 502 `upstream_stream_truncated`, 503 `queue_full`, 504 timeouts, ...,
 * and an upstream's error body in another API's shape) gets the type of its status from the table:
 * 503 counts as `overloaded_error`, another 4xx as `invalid_request_error`, another 5xx as
 * `api_error`. The status is always the error's own.
 */
import { type ProxyError, UpstreamReportedError } from '../fold/errors.js';
import type { JsonObject } from '../fold/json-merge.js';
import { isNonEmptyString, isObject } from '../fold/json-merge.js';
import { excerpt } from '../fold/stream-folder.js';
import { inStreamError, type UpstreamErrorRule } from '../fold/upstream-error-map.js';
import type { AnthropicErrorBody, AnthropicErrorType } from './types.js';

/** Each Anthropic type with its status and the OpenAI type an UpstreamReportedError carries for it. */
const ANTHROPIC_ERRORS = {
  invalid_request_error: { status: 400, type: 'invalid_request_error' },
  authentication_error: { status: 401, type: 'authentication_error' },
  billing_error: { status: 402, type: 'invalid_request_error' },
  permission_error: { status: 403, type: 'authentication_error' },
  not_found_error: { status: 404, type: 'invalid_request_error' },
  conflict_error: { status: 409, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  rate_limit_error: { status: 429, type: 'rate_limit_error' },
  api_error: { status: 500, type: 'upstream_error' },
  timeout_error: { status: 504, type: 'timeout_error' },
  overloaded_error: { status: 529, type: 'service_unavailable' },
} as const satisfies Record<AnthropicErrorType, UpstreamErrorRule>;

export function isAnthropicErrorType(value: unknown): value is AnthropicErrorType {
  return typeof value === 'string' && Object.hasOwn(ANTHROPIC_ERRORS, value);
}

/**
 * The error for an `error` event, `{"type":"error","error":{"type","message"}}` (a top-level
 * `request_id` or `details` may come along and are not needed).
 */
export function anthropicStreamError(event: JsonObject): ProxyError {
  const report = isObject(event.error) ? event.error : {};
  const message = isNonEmptyString(report.message) ? report.message : JSON.stringify(event);
  return inStreamError(ANTHROPIC_ERRORS, {
    names: [isNonEmptyString(report.type) ? report.type : null],
    lead: 'The upstream stream failed',
    detail: excerpt(message),
  });
}

/** A ProxyError as Anthropic would have sent it: the status to answer with and the body. */
export function proxyErrorToAnthropic(error: ProxyError): { status: number; body: AnthropicErrorBody } {
  const reported = error instanceof UpstreamReportedError ? error.report.code : null;
  const type = isAnthropicErrorType(reported) ? reported : anthropicTypeOfStatus(error.status);
  return { status: error.status, body: { type: 'error', error: { type, message: error.message } } };
}

/** The Anthropic type of an error status (see the table above). */
export function anthropicTypeOfStatus(status: number): AnthropicErrorType {
  if (status === 503) return 'overloaded_error';
  for (const [type, rule] of Object.entries(ANTHROPIC_ERRORS)) {
    if (rule.status === status && isAnthropicErrorType(type)) return type;
  }
  return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error';
}
