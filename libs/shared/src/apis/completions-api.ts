import { ChatStreamFolder } from '../chat/chat-stream-folder.js';
import { openAIErrorDialect } from '../fold/error-dialect.js';
import type { CompletionApi } from './completion-api.js';
import { isInteger, missing, wrongType } from './request-checks/field-errors.js';

/** `prompt`: a string, an array of strings, or an array of token arrays (each token an integer). */
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

/** `POST /v1/completions`, the legacy text API: `prompt`. */
export const completionsApi: CompletionApi = {
  kind: 'completion',
  path: '/v1/completions',
  endpoint: '/completions',
  checkRequest: (body) => checkPrompt(body.prompt),
  folder: () => new ChatStreamFolder('completion'),
  keyHeader: 'authorization',
  hasStreamOptions: true,
  errorDialect: openAIErrorDialect,
};
