/**
 * Folds legacy `/v1/completions` stream chunks (`object: "text_completion"`, the same object name
 * as the answer) into one `text_completion`. Same top-level rules as the chat fold (see
 * chat-fold.ts: first non-empty id/model, first non-zero created, last non-null usage, padding
 * dropped, extras kept); per choice: `text` joined, the four `logprobs` arrays concatenated
 * (`logprobs` null when no chunk sent one), the last non-null `finish_reason`, unknown choice fields
 * kept. Output key order: id, object, created, model, choices (text, index, logprobs,
 * finish_reason), usage, system_fingerprint, extras.
 */

import type { JsonObject } from '../fold/json-merge.js';
import { appendItems, isObject, mergeField } from '../fold/json-merge.js';
import { CompletionHeader } from './completion-header.js';
import type {
  CompletionFold,
  TextCompletion,
  TextCompletionChoice,
  TextCompletionLogprobs,
} from './types.js';

const LOGPROB_ARRAYS = ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset'] as const;
const CHOICE_FIELDS = new Set(['index', 'text', 'logprobs', 'finish_reason']);

export class TextCompletionFold implements CompletionFold<TextCompletion> {
  readonly #header = new CompletionHeader('cmpl-');
  readonly #choices = new Map<number, TextChoiceFold>();
  #chunks = 0;

  add(chunk: JsonObject): void {
    this.#chunks += 1;
    this.#header.add(chunk);
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      if (!isObject(choice)) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      let fold = this.#choices.get(index);
      if (fold === undefined) {
        fold = new TextChoiceFold(index);
        this.#choices.set(index, fold);
      }
      fold.add(choice);
    }
  }

  get chunkCount(): number {
    return this.#chunks;
  }

  isFinished(): boolean {
    if (this.#choices.size === 0) return false;
    for (const choice of this.#choices.values()) if (choice.finishReason === null) return false;
    return true;
  }

  result(): TextCompletion {
    const choices = [...this.#choices.values()].sort((a, b) => a.index - b.index).map((c) => c.result());
    return this.#header.build('text_completion', choices);
  }
}

class TextChoiceFold {
  readonly index: number;
  finishReason: string | null = null;
  #text = '';
  #logprobs: TextCompletionLogprobs | null = null;
  readonly #extras: JsonObject = {};

  constructor(index: number) {
    this.index = index;
  }

  add(choice: JsonObject): void {
    if (typeof choice.text === 'string') this.#text += choice.text;
    if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') {
      this.finishReason = choice.finish_reason;
    }
    if (isObject(choice.logprobs)) this.#addLogprobs(choice.logprobs);
    for (const key of Object.keys(choice)) {
      if (!CHOICE_FIELDS.has(key)) mergeField(this.#extras, key, choice[key]);
    }
  }

  result(): TextCompletionChoice {
    return {
      text: this.#text,
      index: this.index,
      logprobs: this.#logprobs,
      finish_reason: this.finishReason,
      ...this.#extras,
    };
  }

  #addLogprobs(logprobs: JsonObject): void {
    this.#logprobs ??= { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    const target: JsonObject = this.#logprobs;
    for (const key of LOGPROB_ARRAYS) {
      const value = logprobs[key];
      const previous = target[key];
      if (Array.isArray(value) && Array.isArray(previous)) appendItems(previous, value);
    }
    for (const key of Object.keys(logprobs)) {
      if (!(LOGPROB_ARRAYS as readonly string[]).includes(key)) mergeField(target, key, logprobs[key]);
    }
  }
}
