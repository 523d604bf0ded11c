/**
 * What a client gets when a Responses stream fails: an `error` event, or a final `response.failed`.
 *
 * The upstream answered 200 and then failed, so there is no status to relay; the status is the one
 * OpenAI gives the same failure on a non-stream call, chosen by the error's `code` (or, for error
 * events that carry none, its `type`):
 *
 * | upstream code                                                          | status | type                    |
 * |------------------------------------------------------------------------|--------|-------------------------|
 * | invalid_request_error, invalid_prompt, context_length_exceeded,        | 400    | invalid_request_error   |
 * |   the image input errors (invalid_image, image_too_large, ...)         |        |                         |
 * | invalid_api_key, authentication_error                                  | 401    | authentication_error    |
 * | model_not_found                                                        | 404    | invalid_request_error   |
 * | rate_limit_exceeded, rate_limit_error, insufficient_quota              | 429    | rate_limit_error        |
 * | vector_store_timeout                                                   | 504    | timeout_error           |
 * | server_error, anything else, or no code                                | 502    | upstream_error          |
 *
 * A code in the table is passed on as the answer's `code`, so a client sees what OpenAI would have
 * said (`insufficient_quota`); the rest get the chat fold's `upstream_stream_error`, with the
 * upstream's code in the message. The upstream's message and `param` are kept.
 */
import { ProxyError, UpstreamReportedError } from '../openai/errors.js';
import { excerpt } from '../openai/fold-stream.js';
import { isNonEmptyString, isObject } from '../openai/json-merge.js';
import type { JsonObject } from '../openai/types.js';

/** OpenAI's status and error type for an upstream code (the code itself is passed on). */
interface StatusRule {
  status: number;
  type: string;
}

const INVALID_REQUEST: StatusRule = { status: 400, type: 'invalid_request_error' };

const RULES: Record<string, StatusRule> = {
  invalid_request_error: INVALID_REQUEST,
  invalid_prompt: INVALID_REQUEST,
  context_length_exceeded: INVALID_REQUEST,
  invalid_image: INVALID_REQUEST,
  invalid_image_format: INVALID_REQUEST,
  invalid_base64_image: INVALID_REQUEST,
  invalid_image_url: INVALID_REQUEST,
  image_too_large: INVALID_REQUEST,
  image_too_small: INVALID_REQUEST,
  image_parse_error: INVALID_REQUEST,
  image_content_policy_violation: INVALID_REQUEST,
  invalid_image_mode: INVALID_REQUEST,
  image_file_too_large: INVALID_REQUEST,
  unsupported_image_media_type: INVALID_REQUEST,
  empty_image_file: INVALID_REQUEST,
  failed_to_download_image: INVALID_REQUEST,
  image_file_not_found: INVALID_REQUEST,
  invalid_api_key: { status: 401, type: 'authentication_error' },
  authentication_error: { status: 401, type: 'authentication_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  rate_limit_error: { status: 429, type: 'rate_limit_error' },
  insufficient_quota: { status: 429, type: 'rate_limit_error' },
  vector_store_timeout: { status: 504, type: 'timeout_error' },
};

/**
 * The error for a failure the upstream reported in its stream: an UpstreamReportedError for a code
 * in the table, the proxy's own `upstream_stream_error` otherwise. `report` is the error object:
 * an `error` event itself (OpenAI's SDK types put code/message/param at its top level) or the
 * object nested in it or in `response.failed`'s `response.error` (as OpenAI sends them).
 */
export function responsesStreamError(report: JsonObject, where: string): ProxyError {
  const code = stringField(report, 'code') ?? stringField(report, 'type');
  const message = stringField(report, 'message') ?? excerpt(JSON.stringify(report));
  const param = stringField(report, 'param');
  const rule = code === null ? undefined : RULES[code];
  if (rule !== undefined && code !== null) {
    return new UpstreamReportedError(
      { status: rule.status, type: rule.type, code },
      `The upstream failed the response (${where}): ${excerpt(message)}`,
      { param },
    );
  }
  const named = code === null ? '' : ` [${code}]`;
  return new ProxyError(
    'upstream_stream_error',
    `The upstream failed the response (${where})${named}: ${excerpt(message)}`,
    { param },
  );
}

/**
 * The error object an `error` event carries: nested under `error` (as OpenAI sends it), a bare
 * string there, or code/message/param at the event's top level (as OpenAI's SDK types describe it;
 * the event's own `type`, "error", is not a code).
 */
export function errorEventReport(event: JsonObject): JsonObject {
  if (isObject(event.error)) return event.error;
  if (isNonEmptyString(event.error)) return { message: event.error };
  return { code: event.code, message: event.message, param: event.param };
}

function stringField(record: JsonObject, key: string): string | null {
  const value = record[key];
  return isNonEmptyString(value) ? value : null;
}
