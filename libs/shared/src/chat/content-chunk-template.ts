import type { JsonObject } from '../fold/json-merge.js';
import { isNonEmptyString, isObject } from '../fold/json-merge.js';
import { DELTA_FIELDS } from './chat-fold.js';

/** Characters that make a JSON string literal more than its raw text: quote, escape, controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids them raw in a string; finding them is the point
const NOT_RAW_TEXT = /["\\\u0000-\u001f]/;
/** Each learning costs one parse; streams whose chunks keep changing shape stop being learnt. */
const MAX_LEARNINGS = 4;

/** Top-level fields that are first-wins in the fold: a repeat changes nothing. */
const FIRST_WINS_FIELDS = new Set(['id', 'object', 'created', 'model', 'system_fingerprint', 'service_tier']);
/** Top-level padding the fold drops (OpenAI's `obfuscation`, Mistral's `p`); it differs per chunk. */
const PADDING_FIELDS = ['obfuscation', 'p'];

/** Where the text of a templated chunk goes: `content`, or a text extra such as `reasoning_content`. */
export interface TemplatedText {
  choiceIndex: number;
  key: string;
  text: string;
}

/**
 * Most chunks of a chat stream differ from the one before only in their text (and OpenAI's
 * random `obfuscation` padding): the same id, created, model and choice around one delta string.
 * `JSON.parse` is most of what folding such a chunk costs (about 2 µs of its 2.5); this
 * recognises one by its bytes — the same text as the learnt chunk between its strings — and
 * gives back the text alone (a string with escapes is parsed alone).
 *
 * Sound because a chunk is learnt only when folding it again with other strings would change
 * nothing but that text, whatever chunks came in between (`textDelta` says when), and only after
 * the strings found by position are proven to be the text and the padding: the chunk with
 * unique substitutes there parses, qualifies, and holds the substitutes where expected. A JSON
 * lexer reads the same bytes around the same string tokens the same way, so a matching chunk
 * parses to that chunk with only those strings changed (and a string with escapes is proven a
 * string by parsing it alone). A chunk of any other shape is parsed in full.
 */
export class ContentChunkTemplate {
  /** The learnt chunk's bytes around its strings: one more segment than strings. */
  #segments: string[] = [];
  /** Which of the strings is the text (the others are padding, or `created`). */
  #textSlot = 0;
  /** Slots holding an integer (`created`, restamped by some providers) rather than a string. */
  #integerSlots: boolean[] = [];
  #key = '';
  #choiceIndex = 0;
  #learnings = 0;
  /**
   * Whether the last chunk offered to `learn` qualified: a chunk is learnt only when the one
   * before it qualified too, as a lone chunk of its shape (the role chunk that opens most
   * streams) costs a learning (about 7 µs, a few parses) and matches nothing.
   */
  #lastQualified = false;

  /** The text of `raw` when it is the learnt chunk with other plain strings; otherwise undefined. */
  match(raw: string): TemplatedText | undefined {
    const segments = this.#segments;
    if (segments.length === 0 || !holdsAt(raw, 0, segments[0] as string)) return undefined;
    let at = (segments[0] as string).length;
    let text: string | undefined;
    for (let slot = 1; slot < segments.length; slot += 1) {
      let end: number;
      if (this.#integerSlots[slot - 1] === true) {
        end = integerEnd(raw, at);
        if (end < 0) return undefined;
      } else {
        if (raw.charCodeAt(at) !== 0x22) return undefined;
        end = raw.indexOf('"', at + 1) + 1;
        if (end === 0) return undefined;
        let value: string | undefined = raw.slice(at + 1, end - 1);
        if (NOT_RAW_TEXT.test(value)) {
          // Escapes (a newline, a quote): the string alone goes through JSON.parse.
          end = stringEnd(raw, at);
          value = end < 0 ? undefined : parseString(raw.slice(at, end));
          if (value === undefined) return undefined;
        }
        if (slot - 1 === this.#textSlot) text = value;
      }
      const segment = segments[slot] as string;
      if (!holdsAt(raw, end, segment)) return undefined;
      at = end + segment.length;
    }
    if (at !== raw.length || text === undefined) return undefined;
    return { choiceIndex: this.#choiceIndex, key: this.#key, text };
  }

  /** Takes `raw` (parsed as `chunk`) as the template when it qualifies; see the class comment. */
  learn(raw: string, chunk: JsonObject): void {
    if (this.#learnings >= MAX_LEARNINGS) return;
    const delta = textDelta(chunk);
    const previousQualified = this.#lastQualified;
    this.#lastQualified = delta !== undefined;
    if (delta === undefined || !previousQualified) return;
    const spans: Span[] = [];
    const find = (key: string, integer: boolean) => {
      const span = (integer ? integerSpanAfterKey : stringSpanAfterKey)(raw, key);
      if (span !== undefined) spans.push({ ...span, key, integer });
      return span !== undefined;
    };
    if (!find(delta.key, false)) return;
    for (const key of PADDING_FIELDS) if (typeof chunk[key] === 'string' && !find(key, false)) return;
    // A restamped `created` changes nothing once the fold holds a non-zero one (first-wins).
    if (isPositiveInteger(chunk.created) && !find('created', true)) return;
    spans.sort((a, b) => a.start - b.start);
    const segments: string[] = [];
    let substituted = '';
    let from = 0;
    for (const [slot, span] of spans.entries()) {
      if (span.start < from) return;
      segments.push(raw.slice(from, span.start));
      substituted += raw.slice(from, span.start) + substituteText(span, slot);
      from = span.end;
    }
    segments.push(raw.slice(from));
    substituted += raw.slice(from);
    this.#learnings += 1;
    this.#segments = [];
    const textSlot = spans.findIndex((span) => span.key === delta.key);
    if (!substitutesLandWhereExpected(substituted, spans, textSlot)) return;
    this.#segments = segments;
    this.#integerSlots = spans.map((span) => span.integer);
    this.#textSlot = textSlot;
    this.#key = delta.key;
    this.#choiceIndex = delta.choiceIndex;
  }
}

/**
 * `raw.startsWith(segment, at)`, written as a slice compared whole: V8 compares the two flat
 * strings at once, where `startsWith` measured ten times slower on a 150-character segment.
 */
function holdsAt(raw: string, at: number, segment: string): boolean {
  return raw.slice(at, at + segment.length) === segment;
}

interface Span {
  start: number;
  end: number;
  key: string;
  integer: boolean;
}

/**
 * What stands in for a slot's value in the proof: a string unique and not valid JSON outside a
 * string (a misplaced one cannot parse), or an integer no clock gives as `created`.
 */
function substitute(span: Span, slot: number): string | number {
  return span.integer ? 999_999_999_000 + slot : `#content-chunk-template-${slot}#`;
}

function substituteText(span: Span, slot: number): string {
  return span.integer ? String(substitute(span, slot)) : `"${substitute(span, slot)}"`;
}

function isPositiveInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** Where the digits of a JSON integer starting at `at` end (no sign, no leading zero); -1 if none. */
function integerEnd(raw: string, at: number): number {
  let end = at;
  while (end < raw.length && raw.charCodeAt(end) >= 0x30 && raw.charCodeAt(end) <= 0x39) end += 1;
  if (end === at || (raw.charCodeAt(at) === 0x30 && end - at > 1) || end - at > 15) return -1;
  return end;
}

/** Where the integer after the first `"<key>":` starts and ends. */
function integerSpanAfterKey(raw: string, key: string): { start: number; end: number } | undefined {
  const start = valueStartAfterKey(raw, key);
  if (start === undefined) return undefined;
  const end = integerEnd(raw, start);
  return end < 0 ? undefined : { start, end };
}

/**
 * The one text string of a chunk whose fold, repeated with another text, changes only that text:
 * - top level: first-wins fields, padding, and anything else only as `null` (no usage object,
 *   no provider extras: those are last-wins, and a later chunk may have changed them);
 * - one choice, with no finish reason, no logprobs object, and other fields only as `null`;
 * - its delta: one string under `content` or an extra key (`reasoning_content`, `reasoning`),
 *   a `role` or `index` (first-wins, ignored), and anything else only as `null`.
 */
function textDelta(chunk: JsonObject): Omit<TemplatedText, 'text'> | undefined {
  for (const key of Object.keys(chunk)) {
    if (key === 'choices' || FIRST_WINS_FIELDS.has(key) || PADDING_FIELDS.includes(key)) continue;
    if (chunk[key] !== null) return undefined;
  }
  const choices = chunk.choices;
  if (!Array.isArray(choices) || choices.length !== 1) return undefined;
  const choice: unknown = choices[0];
  if (!isObject(choice) || !isObject(choice.delta)) return undefined;
  if (isNonEmptyString(choice.finish_reason) || isObject(choice.logprobs)) return undefined;
  for (const key of Object.keys(choice)) {
    const known = key === 'index' || key === 'delta' || key === 'finish_reason' || key === 'logprobs';
    if (!known && choice[key] !== null) return undefined;
  }
  let textKey: string | undefined;
  for (const [key, value] of Object.entries(choice.delta)) {
    if (key === 'role' || key === 'index' || value === null) continue;
    const isText = typeof value === 'string' && (key === 'content' || !DELTA_FIELDS.has(key));
    if (!isText || textKey !== undefined) return undefined;
    textKey = key;
  }
  if (textKey === undefined) return undefined;
  return { choiceIndex: typeof choice.index === 'number' ? choice.index : 0, key: textKey };
}

/** Where the value after the first `"<key>":` starts. */
function valueStartAfterKey(raw: string, key: string): number | undefined {
  const quotedKey = `"${key}"`;
  const found = raw.indexOf(quotedKey);
  if (found < 0) return undefined;
  const colon = skipSpace(raw, found + quotedKey.length);
  return raw.charCodeAt(colon) === 0x3a ? skipSpace(raw, colon + 1) : undefined;
}

/** Where the string after the first `"<key>":` starts and ends (quotes included). */
function stringSpanAfterKey(raw: string, key: string): { start: number; end: number } | undefined {
  const start = valueStartAfterKey(raw, key);
  if (start === undefined || raw.charCodeAt(start) !== 0x22) return undefined;
  const end = stringEnd(raw, start);
  return end < 0 ? undefined : { start, end };
}

/** Just past the quote that closes the string opened at `start`; -1 when none does. */
function stringEnd(raw: string, start: number): number {
  for (let at = start + 1; at < raw.length; at += 1) {
    const code = raw.charCodeAt(at);
    if (code === 0x5c) at += 1;
    else if (code === 0x22) return at + 1;
  }
  return -1;
}

/** A JSON string literal's value; undefined when it is not one (a raw control character, say). */
function parseString(literal: string): string | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function skipSpace(raw: string, from: number): number {
  let at = from;
  while (at < raw.length && ' \t\r\n'.includes(raw.charAt(at))) at += 1;
  return at;
}

function substitutesLandWhereExpected(substituted: string, spans: Span[], textSlot: number): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(substituted);
  } catch {
    return false;
  }
  if (!isObject(parsed)) return false;
  const delta = textDelta(parsed);
  if (delta === undefined || delta.key !== spans[textSlot]?.key) return false;
  const choice = (parsed.choices as JsonObject[])[0] as JsonObject;
  return spans.every((span, slot) => {
    const holder = slot === textSlot ? (choice.delta as JsonObject) : parsed;
    return holder[span.key] === substitute(span, slot);
  });
}
