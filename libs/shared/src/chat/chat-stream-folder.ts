import type { AnswerUsage } from '../fold/answer.js';
import { errors, type ProxyError } from '../fold/errors.js';
import { isObject, type JsonObject } from '../fold/json-merge.js';
import {
  type CompletionKind,
  excerpt,
  type FoldedAnswer,
  isDone,
  parseJsonEvent,
  type StreamFolder,
} from '../fold/stream-folder.js';
import { inStreamError } from '../fold/upstream-error-map.js';
import { ChatCompletionFold } from './chat-fold.js';
import { ContentChunkTemplate } from './content-chunk-template.js';
import { OPENAI_STREAM_ERRORS, openAIErrorNames } from './openai-stream-errors.js';
import { TextCompletionFold } from './text-fold.js';
import type { ChatCompletion, CompletionFold, TextCompletion } from './types.js';

/** The two kinds this file folds; the others have their own folds (responses/, messages/). */
export type ChatCompletionKind = Extract<CompletionKind, 'chat' | 'completion'>;

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

function usageCounts(usage: JsonObject | null): AnswerUsage | null {
  if (usage === null) return null;
  return { prompt_tokens: count(usage.prompt_tokens), completion_tokens: count(usage.completion_tokens) };
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
