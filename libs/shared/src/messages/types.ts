/**
 * The shapes the Messages fold writes. Events are read as plain JSON objects, defensively (new block
 * and delta types keep coming; compatible providers order keys differently); the message is typed
 * only as far as the fold and its callers read it, and every other field is kept as sent.
 */
export interface MessageUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  /** `server_tool_use`, `service_tier`, `output_tokens_details`, `iterations`, ... as sent. */
  [key: string]: unknown;
}

/** A content block: `text`, `thinking`, `redacted_thinking`, `tool_use`, server tool blocks, ... */
export interface ContentBlock {
  type: string;
  [key: string]: unknown;
}

/** The `message` object a non-stream `POST /v1/messages` returns. */
export interface AnthropicMessage {
  id: string;
  type: string;
  role: string;
  model: string;
  content: ContentBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: MessageUsage;
  /** `stop_details`, `container`, `context_management`, ... as sent. */
  [key: string]: unknown;
}

/** Anthropic's error types, each with the HTTP status Anthropic answers it with. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'conflict_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** Anthropic's error shape: `{"type":"error","error":{"type","message"}}`. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
}
