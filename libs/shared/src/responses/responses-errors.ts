/**
 * What a client gets when a Responses stream fails: an `error` event, or a final `response.failed`.
 * The upstream answered 200 and then failed, so there is no status to relay; the status, type and
 * code are the ones OpenAI gives the same failure on a non-stream call, read from the map the chat
 * fold reads too (chat/openai-stream-errors.ts: `insufficient_quota` 429, `invalid_prompt` 400,
 * `server_error` 500, ...; an unknown code is the proxy's 502 `upstream_stream_error`, with the
 * upstream's code in the message). The upstream's message and `param` are kept.
 */

import { OPENAI_STREAM_ERRORS, openAIErrorNames } from '../chat/openai-stream-errors.js';
import type { ProxyError } from '../fold/errors.js';
import type { JsonObject } from '../fold/json-merge.js';
import { isNonEmptyString, isObject } from '../fold/json-merge.js';
import { excerpt } from '../fold/stream-folder.js';
import { inStreamError } from '../fold/upstream-error-map.js';

/**
 * The error for a failure the upstream reported in its stream. `report` is the error object: an
 * `error` event itself (OpenAI's SDK types put code/message/param at its top level) or the object
 * nested in it or in `response.failed`'s `response.error` (as OpenAI sends them).
 */
export function responsesStreamError(report: JsonObject, where: string): ProxyError {
  return inStreamError(OPENAI_STREAM_ERRORS, {
    names: openAIErrorNames(report),
    lead: `The upstream failed the response (${where})`,
    detail: excerpt(stringField(report, 'message') ?? JSON.stringify(report)),
    param: stringField(report, 'param'),
  });
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
