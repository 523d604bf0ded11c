/**
 * Folds the events of a Responses stream (`POST /v1/responses` with `stream: true`) into the
 * `response` object the same request answers without streaming. Rules, from the recordings in
 * libs/shared/test/fixtures/responses-streams (see its README):
 *
 * - Events are told apart by `data.type`; events of other kinds (`keepalive`, anything new) are
 *   ignored, and so is `sequence_number`, which some servers leave out.
 * - `response.created` / `.queued` / `.in_progress` carry the response so far (id, model, the
 *   request's settings); the latest one is kept. A resumed stream may start without `created`.
 * - Output items are folded per `output_index` (output-item-fold.ts); items may interleave.
 * - `response.completed` and `response.incomplete` end the stream, and their `response` is the
 *   answer, as sent: it is what a non-stream call returns and what OpenAI's SDK hands back. One
 *   exception: a final event whose `output` is empty or missing while the stream built items (a
 *   server that keeps the final event lean) gets the items.
 * - The answer's `output` is cross-checked against what the deltas built (output-cross-check.ts).
 *   Where they disagree the answer stands and the disagreement is reported in `mismatches`: the
 *   final object is the upstream's own statement of the answer, the deltas were a preview of it, and
 *   a client of the non-stream API would have received the final object. Failing the request
 *   instead would make a provider whose deltas differ in a detail (whitespace, say) unusable.
 * - Without a final event the answer is rebuilt from the latest response and the finished items,
 *   with `status: "completed"` (the stream-fold callers decide whether such a stream is whole).
 *   `usage` stays what the latest response had, null (only the final event counts tokens), and
 *   `completed_at` too: we do not know when the upstream finished. A server that puts the SDKs'
 *   `output_text` convenience into its responses (OpenRouter) gets it recomputed from the items,
 *   as the SDKs compute it: the latest response's is stale.
 * - `response.failed` and `error` events are ProxyErrors (responses-errors.ts), never an answer.
 */
import { randomUUID } from 'node:crypto';
import { errors } from '../fold/errors.js';
import type { JsonEventFold } from '../fold/json-event-stream.js';
import type { JsonObject } from '../fold/json-merge.js';
import { isObject } from '../fold/json-merge.js';
import { compareOutput } from './output-cross-check.js';
import { eventName, OutputItemFold } from './output-item-fold.js';
import { errorEventReport, responsesStreamError } from './responses-errors.js';
import type { ResponseObject } from './types.js';

const LIFECYCLE_EVENTS = new Set(['created', 'queued', 'in_progress']);
const FINAL_EVENTS = new Set(['completed', 'incomplete']);

export class ResponsesFold implements JsonEventFold {
  #latest: JsonObject | null = null;
  #final: JsonObject | null = null;
  readonly #items = new Map<number, OutputItemFold>();
  #firstEventAt = 0;

  add(event: JsonObject): boolean {
    if (this.#firstEventAt === 0) this.#firstEventAt = Math.floor(Date.now() / 1000);
    // OpenAI's SDK fails on any event with a truthy top-level `error`, whatever its type.
    if (event.type === 'error' || event.error) {
      throw responsesStreamError(errorEventReport(event), 'error event');
    }
    const name = eventName(event);
    if (name === null) return false;
    if (LIFECYCLE_EVENTS.has(name)) {
      if (isObject(event.response)) this.#latest = event.response;
      return false;
    }
    if (FINAL_EVENTS.has(name)) {
      this.#final = responseOf(event);
      return true;
    }
    if (name === 'failed') {
      const response = responseOf(event);
      const report = isObject(response.error) ? response.error : { message: 'no error was given' };
      throw responsesStreamError(report, 'response.failed');
    }
    const index = event.output_index;
    if (typeof index !== 'number') return false;
    if (name === 'output_item.added') {
      this.#items.set(index, new OutputItemFold(isObject(event.item) ? event.item : null));
    } else if (name === 'output_item.done') {
      if (isObject(event.item)) this.#item(index).finish(event.item);
    } else {
      this.#item(index).apply(name, event);
    }
    return false;
  }

  /** True once `response.completed` or `response.incomplete` came. */
  hasFinalEvent(): boolean {
    return this.#final !== null;
  }

  /** How many output items the stream opened, and how many of them never got `output_item.done`. */
  itemCounts(): { opened: number; unfinished: number } {
    let unfinished = 0;
    for (const item of this.#items.values()) if (!item.isFinished()) unfinished += 1;
    return { opened: this.#items.size, unfinished };
  }

  /** The answer, and where its output disagrees with what the deltas built (see the top of this file). */
  result(): { response: ResponseObject; mismatches: string[] } {
    const items = [...this.#items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
    const response = this.#answer(items.map((item) => item.result()));
    const output = Array.isArray(response.output) ? response.output : [];
    const mismatches = compareOutput(
      output,
      items.map((item) => item.streamed()),
    );
    return { response: response as ResponseObject, mismatches };
  }

  #answer(items: JsonObject[]): JsonObject {
    const final = this.#final;
    if (final === null) {
      const base = this.#base();
      const rebuilt: JsonObject = { ...base, status: 'completed', output: items, usage: base.usage ?? null };
      if (typeof base.output_text === 'string') rebuilt.output_text = outputText(items);
      return rebuilt;
    }
    const lean = !Array.isArray(final.output) || final.output.length === 0;
    return lean && items.length > 0 ? { ...final, output: items } : final;
  }

  #item(index: number): OutputItemFold {
    let item = this.#items.get(index);
    if (item === undefined) {
      // Events for an item that was never announced: kept, so that an unfinished item is noticed.
      item = new OutputItemFold(null);
      this.#items.set(index, item);
    }
    return item;
  }

  /** The latest response, or (from a server that sent none) the fields every response has. */
  #base(): JsonObject {
    if (this.#latest !== null) return this.#latest;
    return {
      id: `resp_${randomUUID().replaceAll('-', '')}`,
      object: 'response',
      created_at: this.#firstEventAt || Math.floor(Date.now() / 1000),
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: '',
      output: [],
      usage: null,
    };
  }
}

/** The text of every `output_text` part of every message item, joined. */
function outputText(items: JsonObject[]): string {
  let text = '';
  for (const item of items) {
    if (item.type !== 'message' || !Array.isArray(item.content)) continue;
    for (const part of item.content) {
      if (isObject(part) && part.type === 'output_text' && typeof part.text === 'string') text += part.text;
    }
  }
  return text;
}

function responseOf(event: JsonObject): JsonObject {
  if (isObject(event.response)) return event.response;
  throw errors.upstreamStream(
    `The upstream sent a ${String(event.type)} event without its response object.`,
    'upstream_malformed_chunk',
  );
}
