import { proxyErrorToAnthropic } from '../messages/anthropic-errors.js';
import type { ProxyError } from './errors.js';

/**
 * The shape an error body takes: OpenAI's `{"error":{...}}` on the OpenAI routes, Anthropic's
 * `{"type":"error","error":{"type","message"}}` on `/v1/messages`, whose clients (Anthropic's SDKs)
 * read nothing else. The status is the error's own in both.
 */
export type ErrorDialect = 'openai' | 'anthropic';

/** The error's body, serialised, in `dialect`. */
export function errorBodyIn(dialect: ErrorDialect, error: ProxyError): string {
  return JSON.stringify(dialect === 'anthropic' ? proxyErrorToAnthropic(error).body : error.toBody());
}
