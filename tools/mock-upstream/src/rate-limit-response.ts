import type { ServerResponse } from 'node:http';
import type { CompletionKind } from './completion-request.js';
import { anthropicRateLimitBody, openAiRateLimitBody } from './errors.js';
import type { RateLimitDecision } from './rate-limit.js';
import type { MockRateLimitHeaders } from './types.js';

const MS_PER_SECOND = 1000;
const MS_PER_MINUTE = 60 * MS_PER_SECOND;
const MS_PER_HOUR = 60 * MS_PER_MINUTE;

function secondsText(ms: number): string {
  const whole = Math.floor(ms / MS_PER_SECOND);
  const fraction = ms % MS_PER_SECOND;
  if (fraction === 0) return `${whole}s`;
  return `${whole}.${String(fraction).padStart(3, '0').replace(/0+$/, '')}s`;
}

/**
 * A whole number of ms the way OpenAI's `x-ratelimit-reset-*` headers write it (Go's duration
 * format): `250ms` under a second, else `1s`, `1.5s`, `6m0s`, `1h0m0s`.
 */
export function formatOpenAiDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < MS_PER_SECOND) return `${total}ms`;
  const hours = Math.floor(total / MS_PER_HOUR);
  const minutes = Math.floor((total % MS_PER_HOUR) / MS_PER_MINUTE);
  const seconds = secondsText(total % MS_PER_MINUTE);
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** The requests headers of one provider for a decision. */
export function rateLimitHeaders(
  style: MockRateLimitHeaders,
  decision: RateLimitDecision,
): Record<string, string> {
  if (style === 'anthropic') {
    return {
      'anthropic-ratelimit-requests-limit': String(decision.limit),
      'anthropic-ratelimit-requests-remaining': String(decision.remaining),
      'anthropic-ratelimit-requests-reset': new Date(decision.resetAt).toISOString(),
    };
  }
  return {
    'x-ratelimit-limit-requests': String(decision.limit),
    'x-ratelimit-remaining-requests': String(decision.remaining),
    'x-ratelimit-reset-requests': formatOpenAiDuration(decision.resetMs),
  };
}

/** Whole seconds until the window ends, rounded up and never 0, as `retry-after` wants. */
export function retryAfterSeconds(resetMs: number): number {
  return Math.max(1, Math.ceil(resetMs / MS_PER_SECOND));
}

/** Answers a refused call at once: 429, the limit headers, and the error body of the call's API. */
export function sendRateLimited(
  res: ServerResponse,
  kind: CompletionKind,
  decision: RateLimitDecision,
  headers: Record<string, string>,
  withRetryAfter: boolean,
): void {
  const body =
    kind === 'messages'
      ? anthropicRateLimitBody(decision.limit)
      : openAiRateLimitBody(decision.limit, formatOpenAiDuration(decision.resetMs));
  res.writeHead(429, {
    ...headers,
    ...(withRetryAfter ? { 'retry-after': String(retryAfterSeconds(decision.resetMs)) } : {}),
    'content-type': 'application/json',
  });
  res.end(body);
}
