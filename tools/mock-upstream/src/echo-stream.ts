import { buildChatEchoEvents } from './chat-echo-stream.js';
import type { CompletionRequest } from './completion-request.js';
import { echoAnswerPieces } from './echo-pieces.js';
import { buildMessagesEchoEvents } from './messages-echo-stream.js';
import { buildResponsesEchoEvents } from './responses-echo-stream.js';

export interface EchoStreamOptions {
  id: string;
  created: number;
  /** Generate `w1 w2 … wN` instead of echoing the prompt. */
  words?: number | undefined;
}

/**
 * Every SSE event of one echo answer, in order, in the stream format of the request's API: one
 * text delta per word of `echo: <last user message>` (or of `w1 … wN`), between the events that
 * API opens and closes a stream with.
 */
export function buildEchoEvents(request: CompletionRequest, options: EchoStreamOptions): string[] {
  const pieces = echoAnswerPieces(request, options.words);
  switch (request.kind) {
    case 'chat':
    case 'legacy':
      return buildChatEchoEvents(request, options, pieces);
    case 'responses':
      return buildResponsesEchoEvents(request, options, pieces);
    case 'messages':
      return buildMessagesEchoEvents(request, options, pieces);
  }
}
