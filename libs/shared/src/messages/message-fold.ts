/**
 * Folds the events of a Messages stream (`POST /v1/messages` with `stream: true`) into the
 * `message` object the same request answers without streaming. Rules, from Anthropic's streaming
 * docs and the recordings in libs/shared/test/fixtures/messages-streams (see its README):
 *
 * - `message_start` carries the message (id, model, role, usage so far, and sometimes finished
 *   blocks and a stop reason already); its key order is kept, so the answer reads like Anthropic's.
 *   Anything but `ping` before it, or a second one, is a broken stream (502).
 * - Content blocks are kept by their `index`, which is their position in the final `content`
 *   (content-block-fold.ts); blocks that came inside `message_start` take the first positions.
 * - `message_delta`: every `delta` field (`stop_reason`, `stop_sequence`, `stop_details`,
 *   `container`, ...) and every other top-level field (`context_management`) is set on the message,
 *   and every `usage` field on its usage, except that `null` never erases a value. Usage counts in
 *   `message_delta` are cumulative, so a later count replaces an earlier one: a compatible provider
 *   may send the real `input_tokens` only there, and a compaction may lower `cache_read_input_tokens`.
 *   (Anthropic's SDK does the same.)
 * - A `fallback` block (a request served by a fallback model) renames the message's model to the
 *   one that served it, as the non-stream answer names it.
 * - `ping` and event types we do not know are ignored, as Anthropic asks; `error` events are
 *   ProxyErrors (anthropic-errors.ts).
 */
import { errors } from '../fold/errors.js';
import type { JsonEventFold } from '../fold/json-event-stream.js';
import type { JsonObject } from '../fold/json-merge.js';
import { isObject, setField } from '../fold/json-merge.js';
import { anthropicStreamError } from './anthropic-errors.js';
import { ContentBlockFold, startedBlock } from './content-block-fold.js';
import type { AnthropicMessage, ContentBlock } from './types.js';

export class MessageFold implements JsonEventFold {
  #message: JsonObject | null = null;
  readonly #blocks = new Map<number, ContentBlockFold>();
  #stopped = false;

  add(event: JsonObject): boolean {
    const type = event.type;
    if (type === 'error' || isObject(event.error)) throw anthropicStreamError(event);
    if (type === 'ping') return false;
    if (type === 'message_start') {
      this.#start(event);
      return false;
    }
    if (type === 'content_block_start' || type === 'content_block_delta' || type === 'content_block_stop') {
      this.#addBlockEvent(type, event);
      return false;
    }
    if (type === 'message_delta') {
      this.#addMessageDelta(this.#started(type), event);
      return false;
    }
    if (type === 'message_stop') {
      this.#started(type);
      this.#stopped = true;
      return true;
    }
    return false;
  }

  hasMessage(): boolean {
    return this.#message !== null;
  }

  /** `message_stop` came, or a stop reason with every block stopped (a provider without message_stop). */
  isFinished(): boolean {
    if (this.#stopped) return true;
    if (this.#message === null || this.#message.stop_reason == null) return false;
    for (const block of this.#blocks.values()) if (!block.isStopped()) return false;
    return true;
  }

  /** The message; throws a ProxyError if a tool input is broken (see ContentBlockFold.result). */
  result(): AnthropicMessage {
    const message = this.#message;
    if (message === null) throw new Error('MessageFold.result() before message_start');
    const stopReason = typeof message.stop_reason === 'string' ? message.stop_reason : null;
    const content: ContentBlock[] = [...this.#blocks.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, block]) => block.result(stopReason));
    return { ...message, content } as AnthropicMessage;
  }

  #start(event: JsonObject): void {
    if (this.#message !== null) throw malformed('a second message_start');
    if (!isObject(event.message)) throw malformed('a message_start without its message');
    const message = structuredClone(event.message);
    const content = Array.isArray(message.content) ? message.content : [];
    for (const [index, block] of content.entries()) {
      this.#blocks.set(
        index,
        new ContentBlockFold(startedBlock(block, `content[${index}]`), `content[${index}]`, true),
      );
    }
    if (!isObject(message.usage)) message.usage = {};
    this.#message = message;
  }

  #addBlockEvent(type: string, event: JsonObject): void {
    const message = this.#started(type);
    const index = typeof event.index === 'number' ? event.index : this.#blocks.size;
    const position = `content[${index}]`;
    if (type === 'content_block_start') {
      if (this.#blocks.has(index)) throw malformed(`a second content_block_start for ${position}`);
      const block = startedBlock(event.content_block, position);
      this.#blocks.set(index, new ContentBlockFold(block, position));
      if (block.type === 'fallback' && isObject(block.to) && typeof block.to.model === 'string') {
        message.model = block.to.model;
      }
      return;
    }
    const block = this.#blocks.get(index);
    if (block === undefined) throw malformed(`a ${type} for ${position}, which never started`);
    if (type === 'content_block_stop') block.stop();
    else if (isObject(event.delta)) block.addDelta(event.delta);
  }

  #addMessageDelta(message: JsonObject, event: JsonObject): void {
    if (isObject(event.delta)) setFields(message, event.delta);
    if (isObject(event.usage) && isObject(message.usage)) setFields(message.usage, event.usage);
    for (const key of Object.keys(event)) {
      if (key !== 'type' && key !== 'delta' && key !== 'usage') setUnlessNull(message, key, event[key]);
    }
  }

  #started(type: string): JsonObject {
    if (this.#message === null) throw malformed(`${type} before message_start`);
    return this.#message;
  }
}

function setFields(target: JsonObject, source: JsonObject): void {
  for (const key of Object.keys(source)) setUnlessNull(target, key, source[key]);
}

function setUnlessNull(target: JsonObject, key: string, value: unknown): void {
  if (value === null || value === undefined) {
    if (!(key in target)) setField(target, key, null);
    return;
  }
  setField(target, key, value);
}

function malformed(what: string): Error {
  return errors.upstreamStream(`The upstream sent ${what}.`, 'upstream_malformed_chunk');
}
