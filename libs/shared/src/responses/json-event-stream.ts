/**
 * The reading loop the Responses and the Messages fold share: SSE data → JSON objects → a fold,
 * until the API's last event, `[DONE]` or the end of the body. The drain after the last event and
 * `[DONE]` itself are the chat fold's (fold-stream.ts). Both APIs name their events in
 * `data.type` as well as in `event:` lines (Bedrock puts `data:` first, OpenRouter sends no `event:`
 * at all), so only the data is read.
 */
import { drainAfterDone, isDone, parseJsonEvent } from '../openai/fold-stream.js';
import { readSseBatches } from '../openai/sse-reader.js';
import type { JsonObject } from '../openai/types.js';

/** What a fold offers to the loop. */
export interface JsonEventFold {
  /**
   * Takes one event, in order; throws a ProxyError for an error event or a broken one. Returns true
   * when that event ends the answer (`response.completed`, `message_stop`): nothing after it counts.
   */
  add(event: JsonObject): boolean;
}

/** How the stream ended: with the API's last event, with `[DONE]`, or by the body just ending. */
export type StreamEnd = 'last-event' | 'done-marker' | 'body-end';

export interface StreamRead {
  end: StreamEnd;
  /** Events handed to the fold (`[DONE]` and empty data lines not counted). */
  events: number;
}

/**
 * Feeds every event of `body` to `fold` and says how the stream ended; the fold decides whether
 * that is a whole answer. An event that is not a JSON object is a 502 `upstream_malformed_chunk`.
 * Errors thrown by `body` itself (socket reset, timeouts) propagate unchanged for the caller to map.
 */
export async function foldJsonEvents(
  body: AsyncIterable<Uint8Array>,
  fold: JsonEventFold,
): Promise<StreamRead> {
  let count = 0;
  const batches = readSseBatches(body);
  for (let next = await batches.next(); !next.done; next = await batches.next()) {
    for (const data of next.value) {
      if (data.trim() === '') continue;
      if (isDone(data)) {
        await drainAfterDone(batches);
        return { end: 'done-marker', events: count };
      }
      count += 1;
      if (fold.add(parseJsonEvent(data, 'event'))) {
        await drainAfterDone(batches);
        return { end: 'last-event', events: count };
      }
    }
  }
  return { end: 'body-end', events: count };
}
