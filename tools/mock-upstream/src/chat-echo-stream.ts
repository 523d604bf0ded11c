import type { CompletionRequest } from './completion-request.js';
import type { EchoStreamOptions } from './echo-stream.js';
import { DONE_EVENT } from './sse.js';

/**
 * Chat and legacy completions: a role chunk (chat only), one content chunk per piece, a `stop`
 * chunk (each once per choice), then the usage chunk when `stream_options.include_usage` is set,
 * and `data: [DONE]`.
 */
export function buildChatEchoEvents(
  request: CompletionRequest,
  options: EchoStreamOptions,
  pieces: readonly string[],
): string[] {
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
