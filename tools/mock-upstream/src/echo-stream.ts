import type { CompletionRequest } from './completion-request.js';
import { DONE_EVENT } from './sse.js';

export interface EchoStreamOptions {
  id: string;
  created: number;
  /** Generate `w1 w2 … wN` instead of echoing the prompt. */
  words?: number | undefined;
}

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
 * Every SSE event of one echo answer, in order, ending with `data: [DONE]`:
 * chat: role chunk, one content chunk per word, a `stop` chunk (each once per choice), then the
 * usage chunk when `stream_options.include_usage` is set. Legacy has no role chunk.
 */
export function buildEchoEvents(request: CompletionRequest, options: EchoStreamOptions): string[] {
  const words = options.words;
  const pieces =
    words !== undefined && Number.isInteger(words) && words > 0
      ? generatedPieces(words)
      : echoPieces(request.promptText);
  const chat = request.kind === 'chat';
  const prefix =
    `data: {"id":${JSON.stringify(options.id)},"object":"${chat ? 'chat.completion.chunk' : 'text_completion'}",` +
    `"created":${options.created},"model":${JSON.stringify(request.model)},"system_fingerprint":"fp_mock","choices":`;
  const events: string[] = [];
  const push = (choices: string): void => {
    events.push(`${prefix}${choices}}\n\n`);
  };

  if (chat) {
    for (let i = 0; i < request.n; i++) {
      push(`[{"index":${i},"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`);
    }
  }
  for (const piece of pieces) {
    for (let i = 0; i < request.n; i++) {
      push(
        chat
          ? `[{"index":${i},"delta":{"content":${piece}},"logprobs":null,"finish_reason":null}]`
          : `[{"text":${piece},"index":${i},"logprobs":null,"finish_reason":null}]`,
      );
    }
  }
  for (let i = 0; i < request.n; i++) {
    push(
      chat
        ? `[{"index":${i},"delta":{},"logprobs":null,"finish_reason":"stop"}]`
        : `[{"text":"","index":${i},"logprobs":null,"finish_reason":"stop"}]`,
    );
  }
  if (request.includeUsage) {
    const completion = pieces.length * request.n;
    const total = request.promptWords + completion;
    push(
      `[],"usage":{"prompt_tokens":${request.promptWords},"completion_tokens":${completion},"total_tokens":${total}}`,
    );
  }
  events.push(DONE_EVENT);
  return events;
}
