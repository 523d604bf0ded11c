import { errors } from '../fold/errors.js';
import { JsonEventFolder, type StreamRead } from '../fold/json-event-stream.js';
import { isObject } from '../fold/json-merge.js';
import type { FoldedAnswer } from '../fold/stream-folder.js';
import { MessageFold } from './message-fold.js';
import type { MessageUsage } from './types.js';

/**
 * Folds an upstream's Messages SSE events into the `message` object of a non-stream
 * `POST /v1/messages` (the rules are in message-fold.ts).
 *
 * The answer is a ProxyError, never a shortened success, when:
 * - an `error` event arrives: the status Anthropic gives its type (`overloaded_error` 529,
 *   `api_error` 500, ...; anthropic-errors.ts has the table and renders any ProxyError in
 *   Anthropic's shape);
 * - an event is not a JSON object, comes out of order, or does not fit its block, or a tool input
 *   is not JSON: 502 `upstream_malformed_chunk`;
 * - the body ends without `message_stop` while the message has no stop reason or a block is still
 *   open, or before `message_start`: 502 `upstream_stream_truncated` (with a stop reason and every
 *   block stopped, the answer is whole: a compatible provider may leave `message_stop` out);
 * - `[DONE]` (which Anthropic never sends) arrives before any `message_start`: 502
 *   `upstream_stream_empty`; after one, it ends reading like the end of the body.
 */
export function messagesFolder(): JsonEventFolder<MessageFold> {
  return new JsonEventFolder(new MessageFold(), messageAnswer);
}

function messageAnswer(fold: MessageFold, read: StreamRead): FoldedAnswer {
  if (!fold.hasMessage() && read.end === 'done-marker') {
    throw errors.upstreamStream(
      `The upstream stream ended without a message (after ${read.events} events).`,
      'upstream_stream_empty',
    );
  }
  if (!fold.isFinished()) {
    throw errors.upstreamStream(
      `The upstream stream ended before the message was complete (after ${read.events} events, without message_stop).`,
      'upstream_stream_truncated',
    );
  }
  const message = fold.result();
  return {
    body: JSON.stringify(message),
    chunks: read.events,
    model: typeof message.model === 'string' && message.model !== '' ? message.model : null,
    usage: messageUsageCounts(message.usage),
  };
}

/**
 * A Messages `usage` as the counts our metrics keep. Anthropic's `input_tokens` leaves out the
 * tokens written to and read from the prompt cache, which OpenAI's `prompt_tokens` includes, so the
 * three are added; `output_tokens` already includes thinking tokens.
 */
export function messageUsageCounts(usage: MessageUsage | undefined): FoldedAnswer['usage'] {
  if (!isObject(usage)) return null;
  return {
    prompt_tokens:
      count(usage.input_tokens) +
      count(usage.cache_creation_input_tokens) +
      count(usage.cache_read_input_tokens),
    completion_tokens: count(usage.output_tokens),
  };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
