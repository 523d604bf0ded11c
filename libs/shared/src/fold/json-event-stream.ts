/**
 * The reading rules the Responses and the Messages fold share: SSE data → JSON objects → a fold,
 * until the API's last event, `[DONE]` or the end of the body. Both APIs name their events in
 * `data.type` as well as in `event:` lines (Bedrock puts `data:` first, OpenRouter sends no `event:`
 * at all), so only the data is read.
 */

import type { JsonObject } from './json-merge.js';
import { type FoldedAnswer, isDone, parseJsonEvent, type StreamFolder } from './stream-folder.js';

/** What a fold offers to the reader. */
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
 * A StreamFolder for a JSON-event API: feeds each event to `fold` and, once reading stopped,
 * hands `answer` how the stream ended; that decides whether it is a whole answer. An event that
 * is not a JSON object is a 502 `upstream_malformed_chunk`.
 */
export class JsonEventFolder<Fold extends JsonEventFold, A extends FoldedAnswer = FoldedAnswer>
  implements StreamFolder<A>
{
  private read: StreamRead = { end: 'body-end', events: 0 };

  constructor(
    private readonly fold: Fold,
    private readonly answer: (fold: Fold, read: StreamRead) => A,
  ) {}

  take(data: string): boolean {
    if (data.trim() === '') return false;
    if (isDone(data)) {
      this.read.end = 'done-marker';
      return true;
    }
    this.read.events += 1;
    if (this.fold.add(parseJsonEvent(data, 'event'))) {
      this.read.end = 'last-event';
      return true;
    }
    return false;
  }

  finish(): A {
    return this.answer(this.fold, this.read);
  }
}
