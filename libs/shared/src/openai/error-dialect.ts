import { upstreamErrorInAnthropicShape } from '../messages/anthropic-error-body.js';
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

/**
 * An upstream's answer body as relayed to a client of `dialect`: as sent, except an error (status
 * 400 and up) on the Anthropic routes, which is put in Anthropic's shape when it is not already.
 * (The OpenAI routes relay an upstream's error as sent: their upstreams speak OpenAI's API.)
 */
export function upstreamBodyIn(dialect: ErrorDialect, status: number, body: string): string {
  return dialect === 'anthropic' && status >= 400 ? upstreamErrorInAnthropicShape(status, body) : body;
}
