import type { CompletionRequest } from './completion-request.js';
import type { EchoStreamOptions } from './echo-stream.js';

function messagesEvent(type: string, data: string): string {
  return `event: ${type}\ndata: ${data}\n\n`;
}

/**
 * Anthropic's Messages stream, as its recorded streams show it: `message_start` with the input
 * tokens, one text block (started, a `text_delta` per piece, stopped; a `ping` after its start,
 * as Anthropic sends one), then `message_delta` with `end_turn` and the output tokens, and
 * `message_stop`. There is no `[DONE]`.
 */
export function buildMessagesEchoEvents(
  request: CompletionRequest,
  options: EchoStreamOptions,
  pieces: readonly string[],
): string[] {
  const events = [
    messagesEvent(
      'message_start',
      `{"type":"message_start","message":{"id":${JSON.stringify(options.id)},"type":"message",` +
        `"role":"assistant","model":${JSON.stringify(request.model)},"content":[],"stop_reason":null,` +
        `"stop_sequence":null,"usage":{"input_tokens":${request.promptWords},"cache_creation_input_tokens":0,` +
        `"cache_read_input_tokens":0,"output_tokens":1}}}`,
    ),
    messagesEvent(
      'content_block_start',
      '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
    ),
    messagesEvent('ping', '{"type": "ping"}'),
  ];
  for (const piece of pieces) {
    events.push(
      messagesEvent(
        'content_block_delta',
        `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${piece}}}`,
      ),
    );
  }
  events.push(
    messagesEvent('content_block_stop', '{"type":"content_block_stop","index":0}'),
    messagesEvent(
      'message_delta',
      `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},` +
        `"usage":{"output_tokens":${pieces.length}}}`,
    ),
    messagesEvent('message_stop', '{"type":"message_stop"}'),
  );
  return events;
}
