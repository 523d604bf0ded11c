/**
 * Folds `chat.completion.chunk` objects into one `chat.completion`, as OpenAI would have answered
 * the same request with `stream: false`. Chunks are read defensively: providers differ, and the
 * rules below come from recorded streams (libs/shared/test/fixtures/streams).
 *
 * Top level
 * - `id`, `model`, `system_fingerprint`, `service_tier`: the first non-empty value wins. Azure's
 *   first chunk (prompt filter results) and its late content-filter annotations carry `id: ""`,
 *   `model: ""`, `created: 0`, which must not hide or overwrite the real values. With no id at all
 *   (Gemini) we make one up (`chatcmpl-<uuid>`), as clients key tool results and logs on it.
 * - `created`: the first non-zero value, truncated to whole seconds. It is when the answer began,
 *   which is what OpenAI's non-stream `created` means; some providers restamp later chunks. With no
 *   value at all: the time the fold saw its first chunk.
 * - `usage`: the last non-null value wins (Perplexity sends a running total on every chunk; OpenAI
 *   and DeepSeek send `usage: null` on every chunk but the usage one, and a trailing `usage: null`
 *   must not erase it). Groq's `x_groq.usage` counts when a chunk has no top-level usage. Kept as
 *   sent, nested details included; never recomputed (xAI's total includes reasoning tokens).
 * - `service_tier` / `system_fingerprint` appear when any chunk carried the key.
 * - `obfuscation` (OpenAI, Azure) and `p` (Mistral) are dropped: random padding that only exists to
 *   blur a stream's chunk sizes and means nothing in a single answer. So is `error: null`.
 * - Other fields (`citations`, `prompt_filter_results`, `x_groq`, `time_info`, ...) are kept: objects
 *   are merged key by key (so `x_groq.seed` from the first chunk survives next to the last chunk's
 *   `x_groq.usage`), arrays and scalars last-wins, and `null` never erases a value. Azure sends
 *   `prompt_filter_results` once, in its first chunk, so it is kept as sent.
 * - Output key order is OpenAI's: id, object, created, model, choices, usage, service_tier,
 *   system_fingerprint, then extras in the order first seen. (The fixtures' `expected` objects are
 *   key-sorted transcriptions of SDK snapshots, so the order follows OpenAI's API reference.)
 *
 * Choices (several when `n` > 1, interleaved; sorted by index in the output)
 * - `finish_reason`: the last non-null value; Azure's annotation chunks after the finish carry
 *   `finish_reason: null` and must not erase it. It stays null when none came, except that an audio
 *   answer closed by an `expires_at`-only delta counts as "stop" (the official SDK does the same).
 * - `logprobs`: null unless a chunk sent one; `content` and `refusal` token arrays concatenated,
 *   each null until some chunk sends an array.
 * - Choice fields we do not know (Azure `content_filter_results`/`content_filter_offsets`,
 *   OpenRouter `native_finish_reason`, vLLM `stop_reason`) are kept like top-level extras. They may
 *   come on a choice with no `delta`, even after the finish.
 *
 * Message (key order: role, content, refusal, tool_calls, function_call, audio, annotations, extras)
 * - `role`: the first non-empty one, "assistant" when none came (some providers never send it).
 * - `content` and `refusal`: joined. `content` is null when no text came and the answer is something
 *   else (tool calls, a function call, a refusal, audio) or no content string came at all, as OpenAI
 *   answers; `refusal` is null unless refusal text came. Both keys are always present.
 * - `content` as an array of typed parts (Mistral magistral / thinking) maps onto the fields other
 *   OpenAI-compatible providers use: `text` parts append to `content`; `thinking` parts append their
 *   text to `reasoning_content` (nested `thinking: [{type: 'text', text}]` flattened); parts of any
 *   other type are kept, in order, in a `content_parts` array rather than dropped. A part is never
 *   stringified into "[object Object]".
 * - `tool_calls`: merged by `index`; `id`, `type` and `function.name` are set once (the first
 *   non-empty value, so Qwen's continuation `id: ""` and GLM's `name: ""` do not erase them),
 *   `function.arguments` concatenated. A call without `index` (Mistral, Gemini) continues the last
 *   call unless it carries a new non-empty id, which opens a new call. Missing `type` is "function";
 *   a call that never got an id gets `call_<uuid>`. The streamed `index` is not part of the output,
 *   as in OpenAI's non-stream answer.
 * - `function_call` (legacy): name set once, arguments concatenated.
 * - `audio`: `data` and `transcript` concatenated, `id` and `expires_at` kept.
 * - `annotations`: arrays concatenated (each delta brings new ones).
 * - Other delta fields: strings concatenated (`reasoning_content`, `reasoning`), objects merged,
 *   anything else last-wins, `null` never erases. A stray `index` inside a delta (GLM via Mistral)
 *   is the choice's index, not message content, and is dropped.
 */

import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../fold/json-merge.js';
import {
  appendField,
  appendItems,
  isNonEmptyString,
  isObject,
  mergeField,
  setField,
} from '../fold/json-merge.js';
import { CompletionHeader } from './completion-header.js';
import type { TemplatedText } from './content-chunk-template.js';
import type {
  ChatCompletion,
  ChatCompletionChoice,
  ChatCompletionFunctionCall,
  ChatCompletionLogprobs,
  ChatCompletionMessage,
  ChatCompletionMessageToolCall,
  CompletionFold,
} from './types.js';

export class ChatCompletionFold implements CompletionFold<ChatCompletion> {
  readonly #header = new CompletionHeader('chatcmpl-');
  readonly #choices = new Map<number, ChoiceFold>();
  #chunks = 0;

  add(chunk: JsonObject): void {
    this.#chunks += 1;
    this.#header.add(chunk);
    const choices = chunk.choices;
    if (!Array.isArray(choices)) return;
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      this.#choice(typeof choice.index === 'number' ? choice.index : 0).add(choice);
    }
  }

  /**
   * A chunk whose only effect is more text for one choice: what `add` does with it, unparsed
   * (see ContentChunkTemplate for when that holds).
   */
  addText({ choiceIndex, key, text }: TemplatedText): void {
    this.#chunks += 1;
    this.#choice(choiceIndex).addText(key, text);
  }

  #choice(index: number): ChoiceFold {
    let fold = this.#choices.get(index);
    if (fold === undefined) {
      fold = new ChoiceFold(index);
      this.#choices.set(index, fold);
    }
    return fold;
  }

  get chunkCount(): number {
    return this.#chunks;
  }

  isFinished(): boolean {
    if (this.#choices.size === 0) return false;
    for (const choice of this.#choices.values()) if (choice.finishReason() === null) return false;
    return true;
  }

  result(): ChatCompletion {
    const choices = [...this.#choices.values()].sort((a, b) => a.index - b.index).map((c) => c.result());
    return this.#header.build('chat.completion', choices);
  }
}

// ---- one choice ----

interface ToolCallState {
  index: number;
  id: string;
  type: string;
  name: string;
  arguments: string;
  extras: JsonObject;
  functionExtras: JsonObject;
}

/** Choice and delta fields with a rule of their own; any other field is kept as an extra. */
const CHOICE_FIELDS = new Set(['index', 'delta', 'logprobs', 'finish_reason']);
export const DELTA_FIELDS: ReadonlySet<string> = new Set([
  'role',
  'content',
  'refusal',
  'tool_calls',
  'function_call',
  'audio',
  'annotations',
  'index',
]);

class ChoiceFold {
  readonly index: number;
  #finishReason: string | null = null;
  #logprobs: ChatCompletionLogprobs | null = null;
  readonly #extras: JsonObject = {};

  #role: string | null = null;
  #content = '';
  #contentSeen = false;
  #refusal = '';
  readonly #toolCalls = new Map<number, ToolCallState>();
  #lastToolCall: ToolCallState | null = null;
  #functionCall: ChatCompletionFunctionCall | null = null;
  #audio: JsonObject | null = null;
  /** Set while the latest delta was the `expires_at`-only one that closes an audio answer. */
  #audioClosed = false;
  #annotations: unknown[] | null = null;
  #contentParts: unknown[] | null = null;
  readonly #messageExtras: JsonObject = {};

  constructor(index: number) {
    this.index = index;
  }

  add(choice: JsonObject): void {
    if (isNonEmptyString(choice.finish_reason)) this.#finishReason = choice.finish_reason;
    if (isObject(choice.logprobs)) this.#addLogprobs(choice.logprobs);
    for (const key of Object.keys(choice)) {
      if (!CHOICE_FIELDS.has(key)) mergeField(this.#extras, key, choice[key]);
    }
    if (isObject(choice.delta)) this.#addDelta(choice.delta);
  }

  /** `add` of a choice whose delta holds one string under `key` and nothing else that counts. */
  addText(key: string, text: string): void {
    this.#audioClosed = false;
    if (key === 'content') this.#addContent(text);
    else appendField(this.#messageExtras, key, text);
  }

  finishReason(): string | null {
    if (this.#finishReason !== null) return this.#finishReason;
    return this.#audioClosed && isCompleteAudio(this.#audio) ? 'stop' : null;
  }

  result(): ChatCompletionChoice {
    return {
      index: this.index,
      message: this.#message(),
      logprobs: this.#logprobs,
      finish_reason: this.finishReason(),
      ...this.#extras,
    };
  }

  #addLogprobs(logprobs: JsonObject): void {
    this.#logprobs ??= { content: null, refusal: null };
    const target = this.#logprobs;
    for (const key of Object.keys(logprobs)) {
      const value = logprobs[key];
      if (key === 'content' || key === 'refusal') {
        if (Array.isArray(value)) target[key] = appendItems(target[key], value);
      } else {
        mergeField(target, key, value);
      }
    }
  }

  #addDelta(delta: JsonObject): void {
    this.#audioClosed = isAudioCloser(delta);
    if (this.#role === null && isNonEmptyString(delta.role)) this.#role = delta.role;
    this.#addContent(delta.content);
    if (typeof delta.refusal === 'string') this.#refusal += delta.refusal;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) if (isObject(call)) this.#addToolCall(call);
    }
    if (isObject(delta.function_call)) this.#addFunctionCall(delta.function_call);
    if (isObject(delta.audio)) this.#addAudio(delta.audio);
    if (Array.isArray(delta.annotations)) {
      this.#annotations = appendItems(this.#annotations, delta.annotations);
    }
    for (const key of Object.keys(delta)) {
      if (!DELTA_FIELDS.has(key)) appendField(this.#messageExtras, key, delta[key]);
    }
  }

  /** A string, or (Mistral) an array of typed parts; see the mapping at the top of this file. */
  #addContent(content: unknown): void {
    if (typeof content === 'string') {
      this.#contentSeen = true;
      this.#content += content;
      return;
    }
    if (!Array.isArray(content)) return;
    for (const part of content) {
      if (typeof part === 'string') {
        this.#contentSeen = true;
        this.#content += part;
      } else if (isObject(part) && part.type === 'text' && typeof part.text === 'string') {
        this.#contentSeen = true;
        this.#content += part.text;
      } else if (isObject(part) && part.type === 'thinking') {
        const text = thinkingText(part.thinking);
        if (text !== '') appendField(this.#messageExtras, 'reasoning_content', text);
      } else {
        this.#contentParts ??= [];
        this.#contentParts.push(part);
      }
    }
  }

  #addToolCall(delta: JsonObject): void {
    const call = this.#toolCallFor(delta);
    if (call.id === '' && isNonEmptyString(delta.id)) call.id = delta.id;
    if (call.type === '' && isNonEmptyString(delta.type)) call.type = delta.type;
    const fn = delta.function;
    if (isObject(fn)) {
      if (call.name === '' && isNonEmptyString(fn.name)) call.name = fn.name;
      call.arguments += argumentsText(fn.arguments);
      for (const key of Object.keys(fn)) {
        if (key !== 'name' && key !== 'arguments') mergeField(call.functionExtras, key, fn[key]);
      }
    }
    for (const key of Object.keys(delta)) {
      if (key !== 'index' && key !== 'id' && key !== 'type' && key !== 'function') {
        mergeField(call.extras, key, delta[key]);
      }
    }
  }

  /**
   * The call a tool-call delta belongs to: by `index` when it has one. Without an index, a new
   * non-empty id (different from the last call's) opens a new call; anything else continues the
   * last call, so a provider that never sends an index still gets argument fragments joined.
   */
  #toolCallFor(delta: JsonObject): ToolCallState {
    let call: ToolCallState | undefined;
    if (typeof delta.index === 'number') {
      call = this.#toolCalls.get(delta.index);
      if (call === undefined) call = this.#newToolCall(delta.index);
    } else {
      const last = this.#lastToolCall;
      const opensNewCall =
        last !== null && isNonEmptyString(delta.id) && last.id !== '' && delta.id !== last.id;
      call = last === null || opensNewCall ? this.#newToolCall(this.#nextToolCallIndex()) : last;
    }
    this.#lastToolCall = call;
    return call;
  }

  #newToolCall(index: number): ToolCallState {
    const call: ToolCallState = {
      index,
      id: '',
      type: '',
      name: '',
      arguments: '',
      extras: {},
      functionExtras: {},
    };
    this.#toolCalls.set(index, call);
    return call;
  }

  #nextToolCallIndex(): number {
    let next = 0;
    for (const index of this.#toolCalls.keys()) if (index >= next) next = index + 1;
    return next;
  }

  #addFunctionCall(delta: JsonObject): void {
    this.#functionCall ??= { name: '', arguments: '' };
    if (this.#functionCall.name === '' && isNonEmptyString(delta.name)) this.#functionCall.name = delta.name;
    this.#functionCall.arguments += argumentsText(delta.arguments);
  }

  #addAudio(delta: JsonObject): void {
    this.#audio ??= {};
    const audio = this.#audio;
    for (const key of Object.keys(delta)) {
      const value = delta[key];
      if ((key === 'data' || key === 'transcript') && typeof value === 'string') {
        audio[key] = typeof audio[key] === 'string' ? audio[key] + value : value;
      } else if (value !== null && value !== undefined) {
        setField(audio, key, value);
      }
    }
  }

  #message(): ChatCompletionMessage {
    const hasToolCalls = this.#toolCalls.size > 0;
    const answeredOtherwise =
      hasToolCalls || this.#functionCall !== null || this.#refusal !== '' || this.#audio !== null;
    const content = this.#content !== '' || (this.#contentSeen && !answeredOtherwise) ? this.#content : null;
    const message: ChatCompletionMessage = {
      role: this.#role ?? 'assistant',
      content,
      refusal: this.#refusal !== '' ? this.#refusal : null,
    };
    if (hasToolCalls) message.tool_calls = this.#toolCallsResult();
    if (this.#functionCall !== null) message.function_call = { ...this.#functionCall };
    if (this.#audio !== null) message.audio = audioResult(this.#audio);
    if (this.#annotations !== null) message.annotations = this.#annotations;
    Object.assign(message, this.#messageExtras);
    if (this.#contentParts !== null) message.content_parts = this.#contentParts;
    return message;
  }

  #toolCallsResult(): ChatCompletionMessageToolCall[] {
    return [...this.#toolCalls.values()]
      .sort((a, b) => a.index - b.index)
      .map((call) => {
        // OpenAI's order: id, type, function; provider extras (Gemini's `extra_content`) after.
        const result: ChatCompletionMessageToolCall = {
          id: call.id !== '' ? call.id : `call_${randomUUID().replaceAll('-', '')}`,
          type: call.type !== '' ? call.type : 'function',
          function: { name: call.name, arguments: call.arguments, ...call.functionExtras },
        };
        // Remember a made-up id, so that calling result() twice gives the same answer.
        call.id = result.id;
        return Object.assign(result, call.extras);
      });
  }
}

// ---- helpers ----

/** OpenAI's order for an audio answer: id, expires_at, data, transcript, then anything else. */
function audioResult(audio: JsonObject): JsonObject {
  const ordered: JsonObject = {};
  for (const key of ['id', 'expires_at', 'data', 'transcript']) if (key in audio) ordered[key] = audio[key];
  return Object.assign(ordered, audio);
}

/** The delta that closes an audio answer: only `audio.expires_at`, nothing else (fixture 60). */
function isAudioCloser(delta: JsonObject): boolean {
  const audio = delta.audio;
  if (!isObject(audio) || audio.expires_at == null) return false;
  if (audio.id != null || audio.data != null || audio.transcript != null) return false;
  return Object.keys(delta).every((key) => key === 'audio' || delta[key] == null);
}

function isCompleteAudio(audio: JsonObject | null): boolean {
  return audio !== null && audio.id != null && audio.data != null && audio.transcript != null;
}

/** Mistral's `thinking` is a string or a list of `{type: 'text', text}` parts. */
function thinkingText(thinking: unknown): string {
  if (typeof thinking === 'string') return thinking;
  if (!Array.isArray(thinking)) return '';
  let text = '';
  for (const part of thinking) {
    if (typeof part === 'string') text += part;
    else if (isObject(part) && typeof part.text === 'string') text += part.text;
  }
  return text;
}

/** Tool arguments are a JSON string; a provider that sends an object gets it serialised, not lost. */
function argumentsText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}
