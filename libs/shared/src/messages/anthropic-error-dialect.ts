import type { ErrorDialect } from '../fold/error-dialect.js';
import { upstreamErrorInAnthropicShape } from './anthropic-error-body.js';
import { proxyErrorToAnthropic } from './anthropic-errors.js';

/**
 * Anthropic's `{"type":"error","error":{"type","message"}}` on `/v1/messages`, whose clients
 * (Anthropic's SDKs) read nothing else: the proxy's errors and the upstream's alike, and every
 * answer names its request in `request-id` (the SDKs' `_request_id`).
 */
export const anthropicErrorDialect: ErrorDialect = {
  errorBody: (error) => JSON.stringify(proxyErrorToAnthropic(error).body),
  upstreamErrorBody: upstreamErrorInAnthropicShape,
  requestIdHeader: 'request-id',
};
