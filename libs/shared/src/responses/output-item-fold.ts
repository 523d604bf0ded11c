/**
 * One output item of a Responses stream (one `output_index`): the item as the deltas built it, and
 * the item `response.output_item.done` states.
 *
 * The finished item is the one `output_item.done` carries, not `output_item.added` plus deltas: the
 * done item is the one the final `response` repeats (a reasoning item's `encrypted_content` is
 * re-issued, a failed `mcp_call` gets its `error`, statuses move on). The streamed item is what the
 * answer is cross-checked against (output-cross-check.ts), so it holds what the deltas said:
 *
 * - Deltas are applied by event type, not by item type: `function_call_arguments.*` and
 *   `mcp_call_arguments.*` build `arguments`, `custom_tool_call_input.*` `input`,
 *   `code_interpreter_call_code.*` `code`; text and refusal events the content part at
 *   `content_index`; reasoning events the summary part at `summary_index` or the content part at
 *   `content_index`.
 * - A `.done` event (`output_text.done`, `content_part.done`, ...) only fills in what no delta
 *   built: LM Studio sends `function_call_arguments.done` without any delta. Where deltas came, a
 *   `.done` that disagrees with them shows up in the cross-check instead of hiding it.
 * - `response.<item type>.<status>` events (`web_search_call.searching`, `mcp_call.failed`, ...) set
 *   the item's `status` when it has one.
 * - Stream-only fields (`obfuscation`, `sequence_number`) are never copied;
 *   `image_generation_call.partial_image` is a preview the done item supersedes.
 */

import type { JsonObject } from '../fold/json-merge.js';
import { appendItems, isObject, setField } from '../fold/json-merge.js';

const EVENT_PREFIX = 'response.';

/**
 * Item fields built from text events: `<event>.delta` appends its `delta`; `<event>.done` states the
 * whole value under the field's own name.
 */
const ITEM_TEXT_EVENTS: Record<string, string> = {
  function_call_arguments: 'arguments',
  mcp_call_arguments: 'arguments',
  custom_tool_call_input: 'input',
  code_interpreter_call_code: 'code',
};

/** The same for fields of a content or summary part. */
const PART_TEXT_EVENTS: Record<string, { list: PartList; field: string }> = {
  output_text: { list: 'content', field: 'text' },
  refusal: { list: 'content', field: 'refusal' },
  reasoning_text: { list: 'content', field: 'text' },
  reasoning_summary_text: { list: 'summary', field: 'text' },
};

type PartList = 'content' | 'summary';

/** The statuses a `response.<item type>.<status>` event moves an item to. */
const ITEM_STATUSES = new Set([
  'in_progress',
  'searching',
  'interpreting',
  'generating',
  'completed',
  'failed',
]);

export class OutputItemFold {
  /** The item as `output_item.added` and the deltas built it; `{}` when events came before it. */
  readonly #streamed: JsonObject;
  #done: JsonObject | null = null;

  constructor(added: JsonObject | null) {
    this.#streamed = added === null ? {} : structuredClone(added);
  }

  /** `output_item.done`: the finished item, which wins. */
  finish(item: JsonObject): void {
    this.#done = item;
  }

  isFinished(): boolean {
    return this.#done !== null;
  }

  /** The finished item, or the streamed one while there is none. */
  result(): JsonObject {
    return this.#done ?? this.#streamed;
  }

  /** The item as `output_item.added` and the deltas built it. */
  streamed(): JsonObject {
    return this.#streamed;
  }

  /** Applies one item-level event (`type` without its `response.` prefix). */
  apply(type: string, event: JsonObject): void {
    const dot = type.lastIndexOf('.');
    const name = type.slice(0, dot);
    const step = type.slice(dot + 1);

    if (name === 'content_part' || name === 'reasoning_summary_part') {
      const list = name === 'content_part' ? 'content' : 'summary';
      const index = name === 'content_part' ? event.content_index : event.summary_index;
      if (isObject(event.part) && (step === 'added' || this.#part(list, index) === null)) {
        this.#setPart(list, index, structuredClone(event.part));
      }
      return;
    }
    if (name === 'output_text.annotation' && step === 'added') {
      this.#addAnnotation(event);
      return;
    }
    const itemField = ITEM_TEXT_EVENTS[name];
    if (itemField !== undefined) {
      applyText(this.#streamed, itemField, step, event);
      return;
    }
    const partText = PART_TEXT_EVENTS[name];
    if (partText !== undefined) {
      const index = partText.list === 'summary' ? event.summary_index : event.content_index;
      const part = this.#part(partText.list, index);
      if (part === null) return;
      applyText(part, partText.field, step, event);
      if (name === 'output_text') applyLogprobs(part, step, event.logprobs);
      return;
    }
    if (name === this.#streamed.type && ITEM_STATUSES.has(step) && 'status' in this.#streamed) {
      this.#streamed.status = step;
    }
  }

  #setPart(list: PartList, index: unknown, part: JsonObject): void {
    placeAt(this.#list(list), index, part);
  }

  #part(list: PartList, index: unknown): JsonObject | null {
    const part = this.#list(list)[typeof index === 'number' ? index : 0];
    return isObject(part) ? part : null;
  }

  #list(list: PartList): unknown[] {
    const parts = this.#streamed[list];
    if (Array.isArray(parts)) return parts;
    const created: unknown[] = [];
    this.#streamed[list] = created;
    return created;
  }

  #addAnnotation(event: JsonObject): void {
    const part = this.#part('content', event.content_index);
    if (part === null || !isObject(event.annotation)) return;
    const annotations = Array.isArray(part.annotations) ? part.annotations : [];
    placeAt(annotations, event.annotation_index, structuredClone(event.annotation));
    part.annotations = annotations;
  }
}

/**
 * Puts `value` at the position an event names, or appends it when the position is missing or past
 * the end: an upstream's index never makes a sparse array (`content_index: 1e9` would be a billion
 * holes to serialise and to walk).
 */
function placeAt(list: unknown[], index: unknown, value: unknown): void {
  if (typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < list.length)
    list[index] = value;
  else list.push(value);
}

/** Removes the `response.` prefix, or null for an event that is not one of the stream's own. */
export function eventName(event: JsonObject): string | null {
  const type = event.type;
  if (typeof type !== 'string' || !type.startsWith(EVENT_PREFIX)) return null;
  return type.slice(EVENT_PREFIX.length);
}

function applyText(target: JsonObject, field: string, step: string, event: JsonObject): void {
  const previous = target[field];
  const built = typeof previous === 'string' ? previous : '';
  if (step === 'delta' && typeof event.delta === 'string') {
    setField(target, field, built + event.delta);
  } else if (step === 'done' && built === '' && typeof event[field] === 'string') {
    setField(target, field, event[field]);
  }
}

/** With logprobs requested, each text delta carries its own and `output_text.done` repeats them all. */
function applyLogprobs(part: JsonObject, step: string, logprobs: unknown): void {
  if (!Array.isArray(logprobs)) return;
  const built = Array.isArray(part.logprobs) ? part.logprobs : null;
  if (step === 'delta') part.logprobs = appendItems(built, logprobs);
  else if (step === 'done' && (built === null || built.length === 0))
    part.logprobs = structuredClone(logprobs);
}
