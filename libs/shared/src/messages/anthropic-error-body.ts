import type { JsonObject } from '../fold/json-merge.js';
import { isNonEmptyString, isObject } from '../fold/json-merge.js';
import { excerpt } from '../fold/stream-folder.js';
import { anthropicTypeOfStatus } from './anthropic-errors.js';
import type { AnthropicErrorBody } from './types.js';

/**
 * An upstream's error answer (status >= 400) as a client of `/v1/messages` reads it: Anthropic's
 * SDKs understand only `{"type":"error","error":{"type","message"}}`, and an upstream that speaks
 * the Messages API through an OpenAI-style gateway (or a proxy's HTML page) answers in another
 * shape. A body already in Anthropic's shape passes unchanged, byte for byte; any other gets the
 * Anthropic type of its status (`anthropicTypeOfStatus`) and keeps the upstream's message: OpenAI's
 * `error.message`, a bare `error` string, a top-level `message` (vLLM), or else the text itself, cut
 * to a readable length.
 */
export function upstreamErrorInAnthropicShape(status: number, body: string): string {
  const parsed = parseObject(body);
  if (parsed !== undefined && isAnthropicErrorBody(parsed)) return body;
  const message = (parsed && messageOf(parsed)) ?? fallbackMessage(status, body);
  const converted: AnthropicErrorBody = {
    type: 'error',
    error: { type: anthropicTypeOfStatus(status), message },
  };
  return JSON.stringify(converted);
}

function isAnthropicErrorBody(value: JsonObject): boolean {
  return value.type === 'error' && isObject(value.error) && isNonEmptyString(value.error.type);
}

function messageOf(value: JsonObject): string | undefined {
  const { error, message } = value;
  if (isObject(error) && isNonEmptyString(error.message)) return error.message;
  if (isNonEmptyString(error)) return error;
  return isNonEmptyString(message) ? message : undefined;
}

function fallbackMessage(status: number, body: string): string {
  const text = body.trim();
  return text === '' ? `The upstream answered with status ${status}.` : excerpt(text);
}

function parseObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
