import { errors } from '../fold/errors.js';
import { JsonEventFolder, type StreamRead } from '../fold/json-event-stream.js';
import { isObject } from '../fold/json-merge.js';
import type { FoldedAnswer } from '../fold/stream-folder.js';
import { ResponsesFold } from './responses-fold.js';
import type { FoldedResponse, ResponseObject } from './types.js';

/**
 * Folds an upstream's Responses SSE events into the `response` object of a non-stream
 * `POST /v1/responses` (the rules are in responses-fold.ts).
 *
 * The answer is a ProxyError, never a shortened success, when:
 * - an `error` event or `response.failed` arrives: the status OpenAI gives that error on a
 *   non-stream call, 502 `upstream_stream_error` for a server error (mapping in responses-errors.ts);
 * - an event is not a JSON object, or a final event has no response: 502 `upstream_malformed_chunk`;
 * - the stream ends without `response.completed` / `.incomplete` while an output item never got its
 *   `output_item.done`, or before any item came: 502 `upstream_stream_truncated`. Without a final
 *   event but with every item finished, the answer is rebuilt from the items (a server that never
 *   sends the final event). `[DONE]` (OpenRouter) ends reading but is not a final event;
 * - `[DONE]` arrives and nothing at all came before it: 502 `upstream_stream_empty`.
 */
export function responsesFolder(): JsonEventFolder<ResponsesFold, FoldedResponse> {
  return new JsonEventFolder(new ResponsesFold(), responsesAnswer);
}

function responsesAnswer(fold: ResponsesFold, read: StreamRead): FoldedResponse {
  if (!fold.hasFinalEvent()) {
    const { opened, unfinished } = fold.itemCounts();
    if (opened === 0 && read.end === 'done-marker') {
      throw errors.upstreamStream(
        `The upstream stream ended without any output (after ${read.events} events).`,
        'upstream_stream_empty',
      );
    }
    if (opened === 0 || unfinished > 0) {
      throw errors.upstreamStream(
        `The upstream stream ended before the response was complete (after ${read.events} events, ` +
          `${unfinished} of ${opened} output items unfinished, no response.completed).`,
        'upstream_stream_truncated',
      );
    }
  }
  const { response, mismatches } = fold.result();
  return {
    body: JSON.stringify(response),
    chunks: read.events,
    model: typeof response.model === 'string' && response.model !== '' ? response.model : null,
    usage: responseUsageCounts(response.usage),
    mismatches,
  };
}

/**
 * A Responses `usage` as the counts our metrics keep: `input_tokens` already includes cached
 * tokens and `output_tokens` reasoning tokens, as `prompt_tokens` / `completion_tokens` do.
 */
export function responseUsageCounts(usage: ResponseObject['usage'] | undefined): FoldedAnswer['usage'] {
  if (!isObject(usage)) return null;
  return { prompt_tokens: count(usage.input_tokens), completion_tokens: count(usage.output_tokens) };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
