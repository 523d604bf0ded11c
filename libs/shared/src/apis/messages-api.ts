import { anthropicErrorDialect } from '../messages/anthropic-error-dialect.js';
import { messagesFolder } from '../messages/fold-messages-stream.js';
import type { CompletionApi } from './completion-api.js';
import { isInteger, missing, wrongType, wrongValue } from './request-checks/field-errors.js';
import { checkMessageList } from './request-checks/message-list.js';

const ANTHROPIC_ROLES = ['user', 'assistant'];

/**
 * `POST /v1/messages` (Anthropic's API): `max_tokens`, a positive integer, which Anthropic
 * requires; `messages`, a non-empty array of `user` and `assistant` turns (the system prompt is
 * the `system` field, not a role). Content blocks are the upstream's to judge. Keys come in
 * `x-api-key` (gateway keys too), errors go out in Anthropic's shape.
 */
export const messagesApi: CompletionApi = {
  kind: 'messages',
  path: '/v1/messages',
  endpoint: '/messages',
  checkRequest: (body) => {
    const { max_tokens: maxTokens, messages } = body;
    if (maxTokens === undefined) throw missing('max_tokens');
    if (!isInteger(maxTokens)) throw wrongType('max_tokens', 'must be an integer');
    if (maxTokens < 1) throw wrongValue('max_tokens', 'must be at least 1');
    checkMessageList(messages, ANTHROPIC_ROLES);
  },
  folder: messagesFolder,
  keyHeader: 'x-api-key',
  hasStreamOptions: false,
  errorDialect: anthropicErrorDialect,
};
