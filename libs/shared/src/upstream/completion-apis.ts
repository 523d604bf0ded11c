import { messagesFolder } from '../messages/fold-messages-stream.js';
import type { ErrorDialect } from '../openai/error-dialect.js';
import {
  ChatStreamFolder,
  type CompletionKind,
  type FoldedAnswer,
  type StreamFolder,
} from '../openai/fold-stream.js';
import { responsesFolder } from '../responses/fold-responses-stream.js';
import type { KeyHeader } from './call-upstream.js';

/** What differs between the APIs the proxy folds; everything else (queue, failover, limits) is shared. */
export interface CompletionApi {
  /** A new fold of the upstream's SSE events into the non-stream answer. */
  folder: () => StreamFolder<FoldedAnswer>;
  /** Where the upstream takes its key. */
  keyHeader: KeyHeader;
  /** Whether the API has `stream_options.include_usage` (Responses and Messages always report usage). */
  hasStreamOptions: boolean;
  /** The shape of the errors its clients read. */
  errorDialect: ErrorDialect;
}

export const COMPLETION_APIS: Readonly<Record<CompletionKind, CompletionApi>> = {
  chat: {
    folder: () => new ChatStreamFolder('chat'),
    keyHeader: 'authorization',
    hasStreamOptions: true,
    errorDialect: 'openai',
  },
  completion: {
    folder: () => new ChatStreamFolder('completion'),
    keyHeader: 'authorization',
    hasStreamOptions: true,
    errorDialect: 'openai',
  },
  responses: {
    folder: responsesFolder,
    keyHeader: 'authorization',
    hasStreamOptions: false,
    errorDialect: 'openai',
  },
  messages: {
    folder: messagesFolder,
    keyHeader: 'x-api-key',
    hasStreamOptions: false,
    errorDialect: 'anthropic',
  },
};
