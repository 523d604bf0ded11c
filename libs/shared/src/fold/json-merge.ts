/**
 * JSON objects as the folds read them, and the merge rules for fields that repeat across stream
 * chunks.
 */

/** A JSON object as `JSON.parse` returns it. */
export type JsonObject = Record<string, unknown>;

/**
 * Token and annotation arrays grow by appending in place (no copy per chunk); `null` until the
 * first array arrives, which is copied because it belongs to the chunk.
 */
export function appendItems(previous: unknown[] | null, next: unknown[]): unknown[] {
  if (previous === null) return next.slice();
  for (const item of next) previous.push(item);
  return previous;
}

/**
 * Merges a field that repeats across chunks: objects merged key by key, else last-wins; `null`
 * never erases a value.
 */
export function mergeField(target: JsonObject, key: string, value: unknown): void {
  if (value === null || value === undefined) {
    if (!(key in target)) setField(target, key, null);
    return;
  }
  const previous = target[key];
  setField(target, key, isObject(previous) && isObject(value) ? { ...previous, ...value } : value);
}

/** Like mergeField, but strings are deltas and are concatenated (`reasoning_content`, `reasoning`). */
export function appendField(target: JsonObject, key: string, value: unknown): void {
  const previous = target[key];
  if (
    typeof value === 'string' &&
    (typeof previous === 'string' || previous === null || previous === undefined)
  ) {
    setField(target, key, (previous ?? '') + value);
  } else {
    mergeField(target, key, value);
  }
}

/** Assignment that cannot touch a prototype, whatever key an upstream sends. */
export function setField(target: JsonObject, key: string, value: unknown): void {
  if (key === '__proto__') return;
  target[key] = value;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
