/**
 * The OpenAI dialect's in-stream failures: a chat completions chunk `{"error": {...}}` and a
 * Responses `error` event or `response.failed` name a failure the same way, with OpenAI's codes and
 * types, so both folds read this one map. The upstream answered 200 and then failed: the client
 * gets the status OpenAI gives the same failure on a non-stream call.
 *
 * | upstream names it                                                   | status | type                  |
 * |---------------------------------------------------------------------|--------|-----------------------|
 * | invalid_request_error, invalid_prompt, context_length_exceeded,     | 400    | invalid_request_error |
 * |   the image input errors (invalid_image, image_too_large, ...)      |        |                       |
 * | invalid_api_key, authentication_error                               | 401    | authentication_error  |
 * | permission_error                                                    | 403    | permission_error      |
 * | model_not_found, not_found_error                                    | 404    | invalid_request_error |
 * | rate_limit_exceeded, rate_limit_error, insufficient_quota           | 429    | rate_limit_error      |
 * | server_error                                                        | 500    | server_error          |
 * | overloaded, overloaded_error, unavailable_error                     | 503    | service_unavailable   |
 * | vector_store_timeout                                                | 504    | timeout_error         |
 * | a numeric code 400, 401, 403, 404, 413, 429, 500, 503 or 504        | itself | as above              |
 * | anything else, or nothing                                           | 502    | upstream_error        |
 *
 * Names are tried in order: the error's `code` when it is a word (OpenAI's own codes), its `type`,
 * then a numeric `code`, which OpenAI-compatible servers (llama.cpp, vLLM, OpenRouter) set to the
 * HTTP status the failure would have had. The upstream's own code travels on as the answer's
 * `code` (a client sees `insufficient_quota`, as OpenAI would have said), except where a server's
 * name has an OpenAI equivalent (llama.cpp's `exceed_context_size_error` is
 * `context_length_exceeded`) and for a bare status, which names no code. An unknown failure is the
 * proxy's own 502 `upstream_stream_error`, with the upstream's name in the message.
 */
import type { JsonObject } from '../fold/json-merge.js';
import type { UpstreamErrorMap, UpstreamErrorRule } from '../fold/upstream-error-map.js';

const INVALID: UpstreamErrorRule = { status: 400, type: 'invalid_request_error' };
const UNAUTHENTICATED: UpstreamErrorRule = { status: 401, type: 'authentication_error' };
const FORBIDDEN: UpstreamErrorRule = { status: 403, type: 'permission_error' };
const NOT_FOUND: UpstreamErrorRule = { status: 404, type: 'invalid_request_error' };
const RATE_LIMITED: UpstreamErrorRule = { status: 429, type: 'rate_limit_error' };
const SERVER: UpstreamErrorRule = { status: 500, type: 'server_error' };
const OVERLOADED: UpstreamErrorRule = { status: 503, type: 'service_unavailable' };
const TIMED_OUT: UpstreamErrorRule = { status: 504, type: 'timeout_error' };

/** A status alone: the failure's class is known, its code is not. */
const bare = (rule: UpstreamErrorRule): UpstreamErrorRule => ({ ...rule, code: null });

export const OPENAI_STREAM_ERRORS: UpstreamErrorMap = {
  invalid_request_error: INVALID,
  invalid_prompt: INVALID,
  context_length_exceeded: INVALID,
  exceed_context_size_error: { ...INVALID, code: 'context_length_exceeded' },
  invalid_image: INVALID,
  invalid_image_format: INVALID,
  invalid_base64_image: INVALID,
  invalid_image_url: INVALID,
  image_too_large: INVALID,
  image_too_small: INVALID,
  image_parse_error: INVALID,
  image_content_policy_violation: INVALID,
  invalid_image_mode: INVALID,
  image_file_too_large: INVALID,
  unsupported_image_media_type: INVALID,
  empty_image_file: INVALID,
  failed_to_download_image: INVALID,
  image_file_not_found: INVALID,
  invalid_api_key: UNAUTHENTICATED,
  authentication_error: UNAUTHENTICATED,
  permission_error: FORBIDDEN,
  model_not_found: NOT_FOUND,
  not_found_error: NOT_FOUND,
  rate_limit_exceeded: RATE_LIMITED,
  rate_limit_error: RATE_LIMITED,
  insufficient_quota: RATE_LIMITED,
  server_error: SERVER,
  overloaded: OVERLOADED,
  overloaded_error: OVERLOADED,
  unavailable_error: OVERLOADED,
  vector_store_timeout: TIMED_OUT,
  '400': bare(INVALID),
  '401': bare(UNAUTHENTICATED),
  '403': bare(FORBIDDEN),
  '404': bare(NOT_FOUND),
  '413': bare({ ...INVALID, status: 413 }),
  '429': { ...RATE_LIMITED, code: 'rate_limit_exceeded' },
  '500': bare(SERVER),
  '503': bare(OVERLOADED),
  '504': bare(TIMED_OUT),
};

/** The names an OpenAI-style error object gives its failure, in the order the map is read. */
export function openAIErrorNames(report: JsonObject): (string | null)[] {
  const { code, type } = report;
  return [word(code), word(type), Number.isInteger(code) ? String(code) : null];
}

function word(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
