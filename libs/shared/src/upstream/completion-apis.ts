import { foldMessagesStream } from '../messages/fold-messages-stream.js';
import type { ErrorDialect } from '../openai/error-dialect.js';
import { type CompletionKind, type FoldedAnswer, foldUpstreamStream } from '../openai/fold-stream.js';
import { foldResponsesStream } from '../responses/fold-responses-stream.js';
import type { KeyHeader } from './call-upstream.js';

/** What differs between the APIs the proxy folds; everything else (queue, failover, limits) is shared. */
export interface CompletionApi {
  /** Folds the upstream's SSE body into the non-stream answer. */
  fold: (body: AsyncIterable<Uint8Array>) => Promise<FoldedAnswer>;
  /** Where the upstream takes its key. */
  keyHeader: KeyHeader;
  /** Whether the API has `stream_options.include_usage` (Responses and Messages always report usage). */
  hasStreamOptions: boolean;
  /** The shape of the errors its clients read. */
  errorDialect: ErrorDialect;
}

export const COMPLETION_APIS: Readonly<Record<CompletionKind, CompletionApi>> = {
  chat: {
    fold: (body) => foldUpstreamStream('chat', body),
    keyHeader: 'authorization',
    hasStreamOptions: true,
    errorDialect: 'openai',
  },
  completion: {
    fold: (body) => foldUpstreamStream('completion', body),
    keyHeader: 'authorization',
    hasStreamOptions: true,
    errorDialect: 'openai',
  },
  responses: {
    fold: foldResponsesStream,
    keyHeader: 'authorization',
    hasStreamOptions: false,
    errorDialect: 'openai',
  },
  messages: {
    fold: foldMessagesStream,
    keyHeader: 'x-api-key',
    hasStreamOptions: false,
    errorDialect: 'anthropic',
  },
};
