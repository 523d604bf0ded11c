import { emptyArray, isInteger, isRecord, missing, wrongType, wrongValue } from './field-errors.js';

const ANTHROPIC_ROLES: ReadonlySet<unknown> = new Set(['user', 'assistant']);

/**
 * `POST /v1/messages` (Anthropic's API): `max_tokens`, a positive integer, which Anthropic
 * requires; `messages`, a non-empty array of `user` and `assistant` turns (the system prompt is
 * the `system` field, not a role). Content blocks are the upstream's to judge.
 */
export function checkAnthropicMessages(body: Record<string, unknown>): void {
  const { max_tokens: maxTokens, messages } = body;
  if (maxTokens === undefined) throw missing('max_tokens');
  if (!isInteger(maxTokens)) throw wrongType('max_tokens', 'must be an integer');
  if (maxTokens < 1) throw wrongValue('max_tokens', 'must be at least 1');
  if (messages === undefined) throw missing('messages');
  if (!Array.isArray(messages)) throw wrongType('messages', 'must be an array of messages');
  if (messages.length === 0) throw emptyArray('messages', 'must contain at least one message');
  for (let index = 0; index < messages.length; index += 1) {
    const message: unknown = messages[index];
    const param = `messages[${index}]`;
    if (!isRecord(message)) throw wrongType(param, 'must be a message object');
    if (message.role === undefined) throw missing(`${param}.role`);
    if (!ANTHROPIC_ROLES.has(message.role))
      throw wrongValue(`${param}.role`, "must be 'user' or 'assistant'");
  }
}
