export { anthropicStreamError, isAnthropicErrorType, proxyErrorToAnthropic } from './anthropic-errors.js';
export { messagesFolder, messageUsageCounts } from './fold-messages-stream.js';
export { MessageFold } from './message-fold.js';
export type {
  AnthropicErrorBody,
  AnthropicErrorType,
  AnthropicMessage,
  ContentBlock,
  MessageUsage,
} from './types.js';
