import type { CompletionRequest } from './completion-request.js';
import { joinedPieces } from './echo-pieces.js';
import type { EchoStreamOptions } from './echo-stream.js';

/** One Responses stream event: its type named twice (`event:` and `type`), numbered in order. */
function responsesEvent(type: string, sequence: number, fields: string): string {
  return `event: ${type}\ndata: {"type":"${type}","sequence_number":${sequence},${fields}}\n\n`;
}

/** The `response` object as the stream's first and last events carry it. */
function responseObject(
  request: CompletionRequest,
  options: EchoStreamOptions,
  status: 'in_progress' | 'completed',
  output: string,
  usage: string,
): string {
  return (
    `{"id":${JSON.stringify(options.id)},"object":"response","created_at":${options.created},` +
    `"status":"${status}","background":false,"error":null,"incomplete_details":null,"instructions":null,` +
    `"max_output_tokens":null,"model":${JSON.stringify(request.model)},"output":${output},` +
    `"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},` +
    `"store":false,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],` +
    `"top_p":1.0,"truncation":"disabled","usage":${usage},"metadata":{}}`
  );
}

/**
 * OpenAI's Responses API, as its recorded streams show it: the response created and in progress,
 * one message item with one `output_text` part, a text delta per piece, then the text done, the
 * part done, the item done, and `response.completed` with the whole output and the usage.
 * There is no `[DONE]`.
 */
export function buildResponsesEchoEvents(
  request: CompletionRequest,
  options: EchoStreamOptions,
  pieces: readonly string[],
): string[] {
  const itemId = JSON.stringify(`msg_${options.id}`);
  const text = joinedPieces(pieces);
  const part = (content: string) => `{"type":"output_text","annotations":[],"logprobs":[],"text":${content}}`;
  const item = (status: string, content: string) =>
    `{"id":${itemId},"type":"message","status":"${status}","content":${content},"role":"assistant"}`;
  const at = `"item_id":${itemId},"output_index":0,"content_index":0`;
  const doneItem = item('completed', `[${part(text)}]`);
  const inputTokens = request.promptWords;
  const outputTokens = pieces.length;
  const usage =
    `{"input_tokens":${inputTokens},"input_tokens_details":{"cached_tokens":0},"output_tokens":${outputTokens},` +
    `"output_tokens_details":{"reasoning_tokens":0},"total_tokens":${inputTokens + outputTokens}}`;
  const started = responseObject(request, options, 'in_progress', '[]', 'null');

  const events: string[] = [];
  const push = (type: string, fields: string): void => {
    events.push(responsesEvent(type, events.length, fields));
  };
  push('response.created', `"response":${started}`);
  push('response.in_progress', `"response":${started}`);
  push('response.output_item.added', `"output_index":0,"item":${item('in_progress', '[]')}`);
  push('response.content_part.added', `${at},"part":${part('""')}`);
  for (const piece of pieces) push('response.output_text.delta', `${at},"delta":${piece},"logprobs":[]`);
  push('response.output_text.done', `${at},"text":${text},"logprobs":[]`);
  push('response.content_part.done', `${at},"part":${part(text)}`);
  push('response.output_item.done', `"output_index":0,"item":${doneItem}`);
  push(
    'response.completed',
    `"response":${responseObject(request, options, 'completed', `[${doneItem}]`, usage)}`,
  );
  return events;
}
