import type { CompletionRequest } from './completion-request.js';

const generatedCache = new Map<number, readonly string[]>();
const GENERATED_CACHE_LIMIT = 16;

/** `w1`, ` w2`, … as JSON string literals, cached per size because benchmarks reuse the same few. */
function generatedPieces(words: number): readonly string[] {
  const cached = generatedCache.get(words);
  if (cached) return cached;
  const pieces: string[] = [];
  for (let i = 1; i <= words; i++) pieces.push(JSON.stringify(i === 1 ? 'w1' : ` w${i}`));
  if (generatedCache.size >= GENERATED_CACHE_LIMIT) generatedCache.clear();
  generatedCache.set(words, pieces);
  return pieces;
}

/** `echo: <text>` cut into one word per piece, each with its leading whitespace, as JSON literals. */
function echoPieces(text: string): string[] {
  const content = `echo: ${text}`;
  const pieces = content.match(/\s*\S+/g) ?? [content];
  const covered = pieces.join('').length;
  if (covered < content.length) pieces[pieces.length - 1] += content.slice(covered);
  return pieces.map((piece) => JSON.stringify(piece));
}

/**
 * The text of one echo answer, one piece per chunk, each already a JSON string literal (every
 * API's stream puts them in its own JSON as they are): `w1 w2 … wN` when `words` is set, else
 * `echo: <prompt text>`.
 */
export function echoAnswerPieces(request: CompletionRequest, words: number | undefined): readonly string[] {
  return words !== undefined && Number.isInteger(words) && words > 0
    ? generatedPieces(words)
    : echoPieces(request.promptText);
}

/** The whole answer text as one JSON string literal, for the events that repeat it at the end. */
export function joinedPieces(pieces: readonly string[]): string {
  let text = '';
  for (const piece of pieces) text += JSON.parse(piece) as string;
  return JSON.stringify(text);
}
