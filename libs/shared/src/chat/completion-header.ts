import { randomUUID } from 'node:crypto';
import type { JsonObject } from '../fold/json-merge.js';
import { isNonEmptyString, isObject, mergeField } from '../fold/json-merge.js';
import type { CompletionShape, CompletionUsage } from './types.js';

/** Top-level fields with a rule of their own (`object` is always ours; `choices` are folded). */
const HEADER_FIELDS = new Set([
  'id',
  'object',
  'created',
  'model',
  'choices',
  'usage',
  'service_tier',
  'system_fingerprint',
]);
/**
 * Dropped: stream-only padding (see the top of this file), and `error`, which fails the stream
 * when it is set (chat-stream-folder.ts) and says nothing when it is null.
 */
const DROPPED_FIELDS = new Set(['obfuscation', 'p', 'error']);

/**
 * The fields of a completion that do not belong to a choice, shared by the chat and the legacy
 * text fold: id, created, model, usage, fingerprint, tier and provider extras.
 */
export class CompletionHeader {
  readonly #idPrefix: string;
  #id = '';
  #model = '';
  #created = 0;
  #firstChunkAt = 0;
  #usage: CompletionUsage | null = null;
  #serviceTier: OptionalString = { seen: false, value: null };
  #systemFingerprint: OptionalString = { seen: false, value: null };
  readonly #extras: JsonObject = {};

  constructor(idPrefix: string) {
    this.#idPrefix = idPrefix;
  }

  add(chunk: JsonObject): void {
    if (this.#firstChunkAt === 0) this.#firstChunkAt = Math.floor(Date.now() / 1000);
    if (this.#id === '' && isNonEmptyString(chunk.id)) this.#id = chunk.id;
    if (this.#model === '' && isNonEmptyString(chunk.model)) this.#model = chunk.model;
    if (this.#created === 0 && typeof chunk.created === 'number' && Number.isFinite(chunk.created)) {
      this.#created = Math.trunc(chunk.created);
    }
    const usage = usageOf(chunk);
    if (usage !== null) this.#usage = usage;
    noteOptionalString(this.#serviceTier, chunk, 'service_tier');
    noteOptionalString(this.#systemFingerprint, chunk, 'system_fingerprint');
    for (const key of Object.keys(chunk)) {
      if (!HEADER_FIELDS.has(key) && !DROPPED_FIELDS.has(key)) mergeField(this.#extras, key, chunk[key]);
    }
  }

  /** The completion object in OpenAI's key order, extras last. */
  build<O extends string, C>(object: O, choices: C[]): CompletionShape<O, C> {
    if (this.#id === '') this.#id = `${this.#idPrefix}${randomUUID().replaceAll('-', '')}`;
    const completion: CompletionShape<O, C> = {
      id: this.#id,
      object,
      created: this.#created !== 0 ? this.#created : this.#firstChunkAt || Math.floor(Date.now() / 1000),
      model: this.#model,
      choices,
      usage: this.#usage,
    };
    if (this.#serviceTier.seen) completion.service_tier = this.#serviceTier.value;
    if (this.#systemFingerprint.seen) completion.system_fingerprint = this.#systemFingerprint.value;
    return Object.assign(completion, this.#extras);
  }
}

interface OptionalString {
  seen: boolean;
  value: string | null;
}

function noteOptionalString(slot: OptionalString, chunk: JsonObject, key: string): void {
  if (!(key in chunk)) return;
  slot.seen = true;
  const value = chunk[key];
  if (slot.value === null && isNonEmptyString(value)) slot.value = value;
}

/** A chunk's usage: top-level when present, else Groq's `x_groq.usage`. */
function usageOf(chunk: JsonObject): CompletionUsage | null {
  if (isObject(chunk.usage)) return chunk.usage as CompletionUsage;
  const groq = chunk.x_groq;
  if (isObject(groq) && isObject(groq.usage)) return groq.usage as CompletionUsage;
  return null;
}
