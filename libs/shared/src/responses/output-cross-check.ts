/**
 * Compares the final event's `output` with the items the stream built, on what a client reads:
 * how many items, their types, and their texts (message text and refusals, reasoning summaries and
 * reasoning text, call arguments and inputs, interpreter code). Ids, statuses and opaque fields are
 * not compared: OpenRouter re-issues a reasoning item's id in `response.completed`, and OpenAI
 * re-encrypts `encrypted_content` every time it sends the item.
 */

import type { JsonObject } from '../fold/json-merge.js';
import { isObject } from '../fold/json-merge.js';

/** One line per disagreement; empty when the two agree. */
export function compareOutput(final: readonly unknown[], streamed: readonly JsonObject[]): string[] {
  const mismatches: string[] = [];
  if (final.length !== streamed.length) {
    mismatches.push(`output has ${final.length} items, the stream built ${streamed.length}`);
  }
  const common = Math.min(final.length, streamed.length);
  for (let index = 0; index < common; index += 1) {
    const finalItem = final[index];
    const streamedItem = streamed[index];
    if (!isObject(finalItem) || streamedItem === undefined) {
      mismatches.push(`output[${index}] is not an object`);
      continue;
    }
    if (finalItem.type !== streamedItem.type) {
      mismatches.push(
        `output[${index}] is a ${String(finalItem.type)}, the stream built a ${String(streamedItem.type)}`,
      );
      continue;
    }
    const finalTexts = textsOf(finalItem);
    const streamedTexts = textsOf(streamedItem);
    for (const [path, text] of finalTexts) {
      if (streamedTexts.get(path) !== text)
        mismatches.push(`output[${index}].${path} differs from the stream`);
    }
    for (const path of streamedTexts.keys()) {
      if (!finalTexts.has(path)) mismatches.push(`output[${index}].${path} is missing, the stream had it`);
    }
  }
  return mismatches;
}

const ITEM_TEXT_FIELDS = ['arguments', 'input', 'code'];
const PART_TEXT_FIELDS = ['text', 'refusal'];

/** Every text of an item, by its path (`content.0.text`, `summary.1.text`, `arguments`). */
function textsOf(item: JsonObject): Map<string, string> {
  const texts = new Map<string, string>();
  for (const field of ITEM_TEXT_FIELDS) {
    const value = item[field];
    if (typeof value === 'string') texts.set(field, value);
  }
  for (const list of ['content', 'summary']) {
    const parts = item[list];
    if (!Array.isArray(parts)) continue;
    for (const [index, part] of parts.entries()) {
      if (!isObject(part)) continue;
      for (const field of PART_TEXT_FIELDS) {
        const value = part[field];
        if (typeof value === 'string') texts.set(`${list}.${index}.${field}`, value);
      }
    }
  }
  return texts;
}
