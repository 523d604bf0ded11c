import type { CompletionKind } from '@openai-proxy/shared';
import { emptyArray, isInteger, isRecord, missing, wrongType, wrongValue } from './field-errors.js';
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
const ROLE_SET: ReadonlySet<unknown> = new Set(ROLES);
const ROLE_LIST = ROLES.map((role) => `'${role}'`).join(', ');

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

function checkMessages(messages: unknown): void {
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages)) throw wrongType('messages', 'must be an array of messages');
  if (messages.length === 0) throw emptyArray('messages', 'must contain at least one message');
  for (let index = 0; index < messages.length; index += 1) {
    const message: unknown = messages[index];
    const param = `messages[${index}]`;
    if (!isRecord(message)) throw wrongType(param, 'must be a message object');
    if (message.role === undefined) throw missing(`${param}.role`);
    if (!ROLE_SET.has(message.role)) throw wrongValue(`${param}.role`, `must be one of ${ROLE_LIST}`);
  }
}

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
