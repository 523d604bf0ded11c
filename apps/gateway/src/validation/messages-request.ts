import { isInteger, missing, wrongType, wrongValue } from './field-errors.js';
import { checkMessageList } from './message-list.js';

const ANTHROPIC_ROLES = ['user', 'assistant'];

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
  checkMessageList(messages, ANTHROPIC_ROLES);
}
