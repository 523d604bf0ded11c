import type { CompletionKind } from '@openai-proxy/shared';
import { isInteger, missing, wrongType, wrongValue } from './field-errors.js';
import { checkMessageList } from './message-list.js';
import { checkAnthropicMessages } from './messages-request.js';
import { checkResponsesInput } from './responses-request.js';

/**
 * What the proxy checks before a request may reach an upstream or the queue: only the fields
 * the proxy itself relies on. Every other field is kept and forwarded untouched, so new OpenAI
 * parameters work without a proxy release. The parsed body is checked where it lies, never
 * copied. A refusal is a 400 whose `param` names the first bad field (`messages[0].role`, as
 * OpenAI names parameters) and whose `code` is OpenAI's for the fault; the message never
 * repeats the value sent.
 */

export const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

/** Throws the 400 for the first field the proxy cannot work with; returns the `stream` flag. */
export function checkCompletionRequest(kind: CompletionKind, body: Record<string, unknown>): boolean {
  const { model, stream } = body;
  if (model === undefined) throw missing('model');
  if (typeof model !== 'string') throw wrongType('model', 'must be a string');
  if (model === '') throw wrongValue('model', 'must not be empty');
  // OpenAI's API takes `null` for "not set"; anything but a boolean would be guessed at.
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean')
    throw wrongType('stream', 'must be a boolean');
  KIND_CHECKS[kind](body);
  return stream === true;
}

/** What each API requires beyond `model` and `stream`. */
const KIND_CHECKS: Record<CompletionKind, (body: Record<string, unknown>) => void> = {
  chat: (body) => checkMessages(body.messages),
  completion: (body) => checkPrompt(body.prompt),
  responses: checkResponsesInput,
  messages: checkAnthropicMessages,
};

const checkMessages = (messages: unknown) => checkMessageList(messages, ROLES);

/** A string, an array of strings, or an array of token arrays (each token an integer). */
function checkPrompt(prompt: unknown): void {
  if (prompt === undefined) throw missing('prompt');
  if (typeof prompt === 'string') return;
  if (
    Array.isArray(prompt) &&
    (prompt.every((item) => typeof item === 'string') ||
      prompt.every(isInteger) ||
      prompt.every((item) => Array.isArray(item) && item.every(isInteger)))
  )
    return;
  throw wrongType('prompt', 'must be a string, an array of strings, or an array of token arrays');
}
