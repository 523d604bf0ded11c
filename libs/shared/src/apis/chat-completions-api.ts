import { ChatStreamFolder } from '../chat/chat-stream-folder.js';
import { openAIErrorDialect } from '../fold/error-dialect.js';
import type { CompletionApi } from './completion-api.js';
import { checkMessageList } from './request-checks/message-list.js';

export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;

/** `POST /v1/chat/completions`: `messages`, a non-empty list of turns with known roles. */
export const chatCompletionsApi: CompletionApi = {
  kind: 'chat',
  path: '/v1/chat/completions',
  endpoint: '/chat/completions',
  checkRequest: (body) => checkMessageList(body.messages, CHAT_ROLES),
  folder: () => new ChatStreamFolder('chat'),
  keyHeader: 'authorization',
  hasStreamOptions: true,
  errorDialect: openAIErrorDialect,
};
