import type { Answer } from './answer.js';
import { errors } from './errors.js';
import type { JsonObject } from './json-merge.js';

/**
 * The APIs the proxy answers without streaming: `chat` for /v1/chat/completions, `completion` for
 * the legacy /v1/completions, `responses` for OpenAI's /v1/responses, `messages` for Anthropic's
 * /v1/messages.
 */
export type CompletionKind = 'chat' | 'completion' | 'responses' | 'messages';

/**
 * What a fold makes of a stream: the answer's body (serialised once), how many chunks it took,
 * and, from a fold that cross-checks the upstream's final object against its deltas (Responses),
 * where they disagree: one line each, for the log; the answer stands.
 */
export type FoldedAnswer = Pick<Answer, 'body' | 'model' | 'usage'> & {
  chunks: number;
  mismatches?: string[];
};

/**
 * A fold fed one SSE event's data at a time, as the bytes arrive (`FoldingSink` feeds it).
 */
export interface StreamFolder<A extends FoldedAnswer = FoldedAnswer> {
  /** Takes one event's data, in order; true when it ends the answer: nothing after it counts. */
  take(data: string): boolean;
  /** The answer once reading stopped; throws a ProxyError when the events did not make a whole one. */
  finish(): A;
}

/**
 * How long the rest of a body may take after the event that ends the answer (`[DONE]`,
 * `response.completed`, `message_stop`) before it is cut off. The rest is read rather than the
 * response stopped at once: stopping aborts undici's response with an error whose stack is
 * formatted, which measured 3-4% of a worker's CPU, while the end of the body almost always
 * arrives with the last event itself.
 */
export const DRAIN_AFTER_DONE_MS = 1_000;

/** `[DONE]`, the marker OpenAI's chat streams (and OpenRouter's other streams) end with. */
export function isDone(data: string): boolean {
  return data.length < 16 && data.trim() === '[DONE]';
}

/** One event's data as a JSON object; anything else is a 502 `upstream_malformed_chunk`. */
export function parseJsonEvent(data: string, noun: 'chunk' | 'event'): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (cause) {
    throw errors.upstreamStream(
      `The upstream sent a ${noun} that is not JSON: ${excerpt(data)}`,
      'upstream_malformed_chunk',
      cause,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw errors.upstreamStream(
      `The upstream sent a ${noun} that is not a JSON object: ${excerpt(data)}`,
      'upstream_malformed_chunk',
    );
  }
  return parsed as JsonObject;
}

/** Enough of a bad chunk to recognise it, not the whole 1 MB of it. */
export function excerpt(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
