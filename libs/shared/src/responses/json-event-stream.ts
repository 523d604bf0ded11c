/**
 * The reading loop the Responses and the Messages fold share: SSE data → JSON objects → a fold,
 * until the API's last event, `[DONE]` or the end of the body. Both APIs name their events in
 * `data.type` as well as in `event:` lines (Bedrock puts `data:` first, OpenRouter sends no `event:`
 * at all), so only the data is read.
 */
import { errors } from '../openai/errors.js';
import { readSseData } from '../openai/sse-reader.js';
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
  const events = readSseData(body);
  for (let next = await events.next(); !next.done; next = await events.next()) {
    const data = next.value;
    if (data.trim() === '') continue;
    if (isDoneMarker(data)) {
      await drainRest(events);
      return { end: 'done-marker', events: count };
    }
    count += 1;
    if (fold.add(parseEvent(data))) {
      await drainRest(events);
      return { end: 'last-event', events: count };
    }
  }
  return { end: 'body-end', events: count };
}

/** How long the rest of a body may take after the answer is complete before it is cut off. */
const DRAIN_MS = 1_000;

/**
 * After the answer is complete, reads the body to its end rather than stop at once, for the reason
 * the chat fold's `drainAfterDone` gives: stopping destroys the undici body with an AbortError whose
 * stack is formatted (measured at 3-4% of a worker's CPU), while the end of the body almost always
 * comes with the last event. Bounded, in case an upstream keeps the response open; an error down
 * there no longer matters.
 */
async function drainRest(events: AsyncGenerator<string>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), DRAIN_MS);
  });
  try {
    for (;;) {
      const next = await Promise.race([events.next(), timedOut]);
      if (next === 'timeout' || next.done) break;
    }
  } catch {
    // The answer is complete; a broken tail changes nothing.
  } finally {
    clearTimeout(timer);
    // Not awaited: after a timeout a read is still pending, and the generator only returns once it
    // settles (the body's idle timeout ends it at the latest).
    events.return(undefined).catch(() => undefined);
  }
}

/** OpenAI's Responses API never sends `[DONE]`; OpenRouter does, after `response.completed`. */
function isDoneMarker(data: string): boolean {
  return data.length < 16 && data.trim() === '[DONE]';
}

function parseEvent(data: string): JsonObject {
  let event: unknown;
  try {
    event = JSON.parse(data);
  } catch (cause) {
    throw errors.upstreamStream(
      `The upstream sent an event that is not JSON: ${excerpt(data)}`,
      'upstream_malformed_chunk',
      cause,
    );
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw errors.upstreamStream(
      `The upstream sent an event that is not a JSON object: ${excerpt(data)}`,
      'upstream_malformed_chunk',
    );
  }
  return event as JsonObject;
}

/** Enough of a bad event or message to recognise it, not the whole 1 MB of it. */
export function excerpt(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
