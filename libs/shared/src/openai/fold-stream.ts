import type { Answer, AnswerUsage } from './answer.js';
import { ChatCompletionFold } from './chat-fold.js';
import { ContentChunkTemplate } from './content-chunk-template.js';
import { errors, type ProxyError } from './errors.js';
import { isObject } from './json-merge.js';
import { OPENAI_STREAM_ERRORS, openAIErrorNames } from './openai-stream-errors.js';
import { TextCompletionFold } from './text-fold.js';
import type { ChatCompletion, CompletionFold, JsonObject, TextCompletion } from './types.js';
import { inStreamError } from './upstream-error-map.js';

/**
 * The APIs the proxy answers without streaming: `chat` for /v1/chat/completions, `completion` for
 * the legacy /v1/completions, `responses` for OpenAI's /v1/responses, `messages` for Anthropic's
 * /v1/messages.
 */
export type CompletionKind = 'chat' | 'completion' | 'responses' | 'messages';

/** The two kinds this file folds; the others have their own folds (responses/, messages/). */
export type ChatCompletionKind = Extract<CompletionKind, 'chat' | 'completion'>;

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
 * Folds a chat or legacy completion stream into one non-stream answer.
 *
 * The answer is an error, never a shortened success, when:
 * - an event carries `{"error": ...}` (OpenAI, llama.cpp, vLLM, OpenRouter end a stream this way):
 *   the status, type and code OpenAI gives that failure without streaming (429 for
 *   `rate_limit_exceeded`, 500 for `server_error`, ...; openai-stream-errors.ts has the map), or
 *   502 `upstream_stream_error` for a failure it does not name; the upstream's message is kept;
 *
 * and a 502 when:
 * - an event is not JSON, or not a JSON object: `upstream_malformed_chunk`;
 * - the body ends without `[DONE]` while a choice is unfinished, or before any choice came:
 *   `upstream_stream_truncated`. Without `[DONE]` but with every choice finished, the answer is
 *   whole (some providers never send `[DONE]`). With `[DONE]`, a missing finish_reason is accepted:
 *   the upstream said it was done (OpenAI's audio answers never send one);
 * - `[DONE]` arrives but no choice ever did: `upstream_stream_empty`. There is nothing to answer
 *   with, and a 200 with `choices: []` breaks every client that reads `choices[0]`.
 *
 * Empty data lines are skipped. Nothing after `[DONE]` counts.
 */
export class ChatStreamFolder implements StreamFolder {
  private readonly fold: CompletionFold<ChatCompletion | TextCompletion>;
  /** Chat chunks that only add text are folded from their bytes, unparsed. */
  private readonly chat: { fold: ChatCompletionFold; template: ContentChunkTemplate } | undefined;
  private done = false;

  constructor(kind: ChatCompletionKind) {
    if (kind === 'chat') {
      const fold = new ChatCompletionFold();
      this.fold = fold;
      this.chat = { fold, template: new ContentChunkTemplate() };
    } else {
      this.fold = new TextCompletionFold();
    }
  }

  take(data: string): boolean {
    if (isDone(data)) {
      this.done = true;
      return true;
    }
    const chat = this.chat;
    const text = chat?.template.match(data);
    if (text !== undefined && chat !== undefined) {
      chat.fold.addText(text);
    } else if (data.trim() !== '') {
      const chunk = parseChunk(data);
      this.fold.add(chunk);
      chat?.template.learn(data, chunk);
    }
    return false;
  }

  finish(): FoldedAnswer {
    const fold = this.fold;
    if (!this.done && !fold.isFinished()) {
      throw errors.upstreamStream(
        `The upstream stream ended before the answer was complete (after ${fold.chunkCount} chunks, without [DONE]).`,
        'upstream_stream_truncated',
      );
    }
    const completion = fold.result();
    if (completion.choices.length === 0) {
      throw errors.upstreamStream(
        `The upstream stream ended without any choice (after ${fold.chunkCount} chunks).`,
        'upstream_stream_empty',
      );
    }
    return {
      body: JSON.stringify(completion),
      chunks: fold.chunkCount,
      model: completion.model !== '' ? completion.model : null,
      usage: usageCounts(completion.usage),
    };
  }
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

/** One event's data as a chunk; an error event or a broken chunk becomes a ProxyError. */
function parseChunk(data: string): JsonObject {
  const record = parseJsonEvent(data, 'chunk');
  if (record.error !== undefined && record.error !== null) throw chunkError(record.error);
  return record;
}

/**
 * An error chunk as the status OpenAI gives that failure without streaming (openai-stream-errors.ts):
 * a bare string names no failure, only says what went wrong.
 */
function chunkError(error: unknown): ProxyError {
  const report = isObject(error) ? error : {};
  const message = typeof report.message === 'string' ? report.message : undefined;
  return inStreamError(OPENAI_STREAM_ERRORS, {
    names: openAIErrorNames(report),
    lead: 'The upstream stream failed',
    detail: excerpt(message ?? (typeof error === 'string' ? error : JSON.stringify(error))),
    param: typeof report.param === 'string' ? report.param : null,
  });
}

/** Enough of a bad chunk to recognise it, not the whole 1 MB of it. */
export function excerpt(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function usageCounts(usage: JsonObject | null): AnswerUsage | null {
  if (usage === null) return null;
  return { prompt_tokens: count(usage.prompt_tokens), completion_tokens: count(usage.completion_tokens) };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
